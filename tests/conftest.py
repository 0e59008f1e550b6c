"""Shared fixtures for the core's tests.

- `store_home`: an empty model store of the test's own ($AUTOCOMPLETE_HOME in tmp_path).
- `corpus_file`: a ~400-word text written by the test.
- `trained_model`: ONE real Keras model trained per session (seconds of TensorFlow), in a store of its own;
  read it, never change it. `model_home` gives a test a private copy of that store to change at will.
- `make_model`: a valid model folder from random weights, saved through the store (no Keras, milliseconds);
  `write_model` is the same writer for tests that need it outside a fixture, `random_lstm` its weights.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from autocomplete import modelfile, store
from autocomplete.config import TrainConfig
from autocomplete.inference import LstmWeights, Predictor
from autocomplete.ngram import KneserNey
from autocomplete.text import MARKERS
from autocomplete.vocab import Vocabulary

# Original text, ~400 words: a few subjects, verbs and places recombined, so a context predicts something.
CORPUS_TEXT = "\n".join(
    [
        "The cat sat on the mat. The dog sat on the rug. The cat saw the dog and the dog saw the cat.",
        "A bird sang in the garden. The bird flew over the wall and sang again.",
        "",
        "My lord, the king is in the hall. My lord, the queen is in the garden.",
        "We walked to the harbour in the morning. We walked to the station in the evening.",
        "The cat sat on the wall. The dog ran to the gate. The bird sat on the gate.",
        "",
        "To be or not to be. To walk or not to walk. To sing or not to sing.",
        "She opened the door and looked at the sea. He opened the window and looked at the hills.",
        "The children ran down the road to the beach. The children ran up the hill to the house.",
        "",
    ]
    * 3
)

TINY = TrainConfig(epochs=2, embedding_dim=8, units=16, hidden=8, min_count=1, refit_epochs=2)

CLI_ENV = {"COLUMNS": "100"}


def pytest_configure(config):
    # Keras 3.15 under numpy 2 warns from its own code on every predict/fit; nothing for us to act on.
    config.addinivalue_line(
        "filterwarnings", "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"
    )


@pytest.fixture
def store_home(tmp_path, monkeypatch) -> Path:
    """$AUTOCOMPLETE_HOME pointed at an empty folder of this test."""
    home = tmp_path / "home"
    monkeypatch.setenv("AUTOCOMPLETE_HOME", str(home))
    return home


@pytest.fixture
def corpus_file(tmp_path) -> Path:
    path = tmp_path / "corpus.txt"
    path.write_text(CORPUS_TEXT, encoding="utf-8")
    return path


@dataclass(frozen=True)
class TrainedModel:
    home: Path  # the session's own store; copy it (model_home) before changing anything
    name: str
    corpus: Path
    config: TrainConfig
    result: object  # autocomplete.train.TrainResult

    @property
    def folder(self) -> Path:
        return (self.home / "models" / self.name).resolve()


@pytest.fixture(scope="session")
def trained_model(tmp_path_factory) -> TrainedModel:
    """One small real Keras model, trained once per session through autocomplete.train.train."""
    from autocomplete.train import train

    root = tmp_path_factory.mktemp("trained")
    corpus = root / "tiny.txt"
    corpus.write_text(CORPUS_TEXT, encoding="utf-8")
    home = root / "home"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AUTOCOMPLETE_HOME", str(home))
        result = train([corpus], TINY, name="tiny")
    return TrainedModel(home, "tiny", corpus, TINY, result)


@pytest.fixture
def model_home(trained_model, tmp_path, monkeypatch) -> Path:
    """A private copy of the trained model's store, set as $AUTOCOMPLETE_HOME."""
    home = tmp_path / "home"
    shutil.copytree(trained_model.home, home, symlinks=True)  # models/NAME is a relative link: it stays valid
    monkeypatch.setenv("AUTOCOMPLETE_HOME", str(home))
    return home


WORDS = "the cat sat on a mat and the dog ran to the red barn while a bird sang".split()


def random_lstm(vocab_size: int, seed: int = 0, e: int = 4, h: int = 5, d: int = 6, scale: float = 1.0):
    """LstmWeights of a (vocab_size) -> E -> LSTM(H) -> D -> (vocab_size) network, normal(0, scale) each."""
    rng = np.random.default_rng(seed)
    shapes = [(vocab_size, e), (e, 4 * h), (h, 4 * h), (4 * h,), (h, d), (d,), (d, vocab_size), (vocab_size,)]
    return LstmWeights(*(rng.normal(scale=scale, size=s).astype(np.float32) for s in shapes))


def write_model(
    name: str,
    seed: int = 0,
    force: bool = False,
    words=WORDS,
    context: int = 2,
    created: str | None = None,
) -> Vocabulary:
    """A valid model folder (no .keras file) made from random weights, saved through store.writing and
    modelfile.save as training saves one."""
    rng = np.random.default_rng(seed)
    vocab = Vocabulary(MARKERS + tuple(dict.fromkeys(words)))
    v = len(vocab)
    lstm = random_lstm(v, seed)
    ngram = KneserNey.fit(rng.integers(3, v, size=200), v, 3)
    predictor = Predictor(vocab, context, lstm, ngram, 0.5)
    extra = {"created": created} if created is not None else {}
    with store.writing(name, force) as folder:
        modelfile.save(folder, predictor, TrainConfig(context=context), seed=seed, **extra)
    return vocab


def run_at_once(script: str, args: list[str], env: dict | None = None) -> None:
    """`python -c script ARG` for each ARG, all started at once: each script reads one line from stdin
    before its work, and they all get it together. Asserts each exits 0."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, arg], stdin=subprocess.PIPE, env=env or os.environ.copy()
        )
        for arg in args
    ]
    for p in procs:
        p.stdin.write(b"go\n")
        p.stdin.flush()
    for p in procs:
        p.stdin.close()
        assert p.wait(timeout=60) == 0


@pytest.fixture
def make_model(store_home):
    """write_model, in this test's empty store."""
    return write_model


def leftovers(home: Path) -> list[str]:
    """Temporary entries, lock files, and version folders no model link points at."""
    folder = home / "models"
    if not folder.exists():
        return []
    linked = {p.resolve().name for p in folder.iterdir() if p.is_symlink()}
    return sorted(
        p.name
        for p in folder.iterdir()
        if p.name.startswith(".tmp-")
        or p.name.endswith(".lock")
        or (p.name.startswith(".v-") and p.name not in linked)
    )


@pytest.fixture
def ctrl_c_after_epoch(monkeypatch):
    """The front ends' progress bar raises KeyboardInterrupt, as Ctrl-C does, when epoch `n` ends: set(n)."""
    from autocomplete import progress

    at = {"epoch": 1}

    class Interrupting(progress.RichReporter):
        def epoch(self, epoch, loss, val_perplexity, improved):
            super().epoch(epoch, loss, val_perplexity, improved)
            if epoch == at["epoch"]:
                raise KeyboardInterrupt

    monkeypatch.setattr(progress, "RichReporter", Interrupting)
    return lambda n: at.update(epoch=n)
