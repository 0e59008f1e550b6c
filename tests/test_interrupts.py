"""Issue 13: Ctrl-C or SIGTERM at any step after the first epoch saves the best model so far, whole, and the
result says what was interrupted; before it, nothing is left behind.

Signals are real (os.kill of this process, or of a real `autocomplete train`), sent at a known step: by a
reporter when training announces the step, or when the final n-gram is counted.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
from conftest import TINY, leftovers
from test_hardening import _corpus, _read_until, _train_process

from autocomplete import interrupts, modelfile, store, train
from autocomplete.errors import Interrupted
from autocomplete.suggest import suggest
from autocomplete.train import SilentReporter
from autocomplete.trainer import NOTHING_SAVED


class SignalAtPhase(SilentReporter):
    """Sends this process a signal when training announces the phase that starts with `text`."""

    def __init__(self, text: str, signum: int = signal.SIGINT):
        self.text, self.signum = text, signum

    def phase(self, text):
        if text.startswith(self.text):
            os.kill(os.getpid(), self.signum)


def signal_while_counting_the_final_ngram(monkeypatch, signum=signal.SIGINT):
    """The final n-gram counts every token, the held-out one only the training part's."""
    real = train._ngram

    def counting(corpus, config, ids):
        if len(ids) == len(corpus.ids):
            os.kill(os.getpid(), signum)
        return real(corpus, config, ids)

    monkeypatch.setattr(train, "_ngram", counting)


def outcome(result) -> tuple:
    return result.interrupted, result.interrupted_during, result.refit_skipped, result.refit_epochs


@pytest.mark.slow
@pytest.mark.parametrize(
    ("phase", "expected"),
    [
        # (the step interrupted, what the result says: interrupted, during, refit skipped, refit epochs)
        ("Mixing in the n-gram model", (True, "mixing", True, 0)),
        ("n-gram", (True, "n-gram", True, 0)),
        ("2 more epochs on all the text", (True, "refit", True, 0)),
        ("Saving", (True, "saving", False, TINY.refit_epochs)),
    ],
)
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_after_the_epochs_saves_the_model_and_says_where(
    corpus_file, store_home, monkeypatch, phase, expected, signum
):
    if phase == "n-gram":
        signal_while_counting_the_final_ngram(monkeypatch, signum)
        reporter = SilentReporter()
    else:
        reporter = SignalAtPhase(phase, signum)
    result = train.train([corpus_file], TINY, name="cut", reporter=reporter)
    assert outcome(result) == expected
    assert result.epochs_run == TINY.epochs  # the epochs had all run
    info, predictor = store.load("cut")
    meta = info.meta
    assert (meta["interrupted_during"], meta["refit_skipped"], meta["refit_epochs"]) == expected[1:]
    assert meta["epochs_run"] == TINY.epochs and suggest("the ", predictor).items
    assert predictor.ngram is not None and predictor.ngram.vocab_size == len(predictor.vocab)
    assert leftovers(store_home) == []
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the handler is put back


@pytest.mark.slow
def test_an_uninterrupted_training_says_so(trained_model):
    assert outcome(trained_model.result) == (False, None, False, TINY.refit_epochs)
    meta, problem = modelfile.read_meta(trained_model.folder)
    assert problem is None
    assert (meta["interrupted_during"], meta["refit_skipped"]) == (None, False)


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_real_signal_during_the_refit_of_a_real_process_keeps_the_first_network(tmp_path, home, signum):
    proc = _train_process(home, _corpus(tmp_path / "c.txt"), "--epochs", "2", "--refit-epochs", "500")
    _read_until(proc, "on all the text")  # 500 epochs: the refit is still running when the signal lands
    proc.send_signal(signum)
    out = proc.communicate(timeout=120)[0]
    assert proc.returncode == 130, out  # the user interrupted, even though a model was saved
    assert "Traceback" not in out, out
    assert "training was interrupted during the refit (skipped): the best of 2 epochs (epoch" in out, out
    info, predictor = store.load("sig")
    meta = info.meta
    assert (meta["interrupted_during"], meta["refit_skipped"], meta["refit_epochs"]) == ("refit", True, 0)
    assert meta["epochs_run"] == 2 and len(predictor.vocab) > 3 and suggest("the ", predictor).items
    assert leftovers(home) == []


FIRST_BATCH_SCRIPT = """
import sys
from pathlib import Path
from autocomplete.config import TrainConfig
from autocomplete.errors import Interrupted
from autocomplete.train import SilentReporter, train

class FirstBatch(SilentReporter):
    def batch(self, epoch, step, loss):
        if (epoch, step) == (1, 1):
            print("first batch done", flush=True)

config = TrainConfig(epochs=3, embedding_dim=8, units=8, hidden=8, batch_size=32)
try:
    train([Path(sys.argv[1])], config, name="sig", reporter=FirstBatch())
except Interrupted as e:
    print("Interrupted:", e, flush=True)
    sys.exit(130)
print("finished", flush=True)
"""


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_real_signal_during_the_first_epoch_leaves_nothing(tmp_path, home, signum):
    corpus = _corpus(tmp_path / "c.txt", words=60000)  # ~1,900 batches: the first epoch takes seconds
    env = {**os.environ, "AUTOCOMPLETE_HOME": str(home), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-c", FIRST_BATCH_SCRIPT, str(corpus)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )  # fmt: skip
    _read_until(proc, "first batch done")  # past TensorFlow's import (where signals are held): in the epoch
    proc.send_signal(signum)
    out = proc.communicate(timeout=120)[0]
    assert proc.returncode == 130, out
    assert f"Interrupted: {NOTHING_SAVED}" in out and "Traceback" not in out
    assert not (home / "models" / "sig").exists() and store.list_models() == []
    assert leftovers(home) == []


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("AUTOCOMPLETE_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def test_before_anything_is_worth_keeping_a_signal_raises_at_once(corpus_file, store_home, monkeypatch):
    """While the corpus is read: Interrupted, and the store untouched but for its folder."""

    class SignalWhileReading(SilentReporter):
        def phase(self, text):
            if text == "Reading the corpus":
                os.kill(os.getpid(), signal.SIGTERM)

    with pytest.raises(Interrupted, match=NOTHING_SAVED):
        train.train([corpus_file], TINY, name="early", reporter=SignalWhileReading())
    assert store.list_models() == [] and leftovers(store_home) == []


def test_signals_record_the_phase_and_raise_only_until_something_is_kept():
    with interrupts.signals_as_interrupt() as signals:
        signals.phase = "reading"
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
        assert signals.interrupted and signals.received_during == "reading"
    with interrupts.signals_as_interrupt() as signals:
        signals.keep_best()
        signals.phase = "saving"
        os.kill(os.getpid(), signal.SIGTERM)  # recorded, not raised
        signals.phase = "later"
        os.kill(os.getpid(), signal.SIGINT)
        assert (signals.interrupted, signals.received_during) == (True, "saving")
        with pytest.raises(KeyboardInterrupt):
            signals.check()  # where Keras' loop asks
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL

