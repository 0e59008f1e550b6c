"""Issue 5: interrupted and concurrent work, untrusted files, inputs at the limits.

Signals and races are tested on real processes and the real store; model folders that need no training
are written from random weights through the store itself (`_numpy_model`), so these tests stay fast.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from autocomplete import store
from autocomplete.config import TrainConfig
from autocomplete.errors import CorpusError, StoreError
from autocomplete.inference import WEIGHT_NAMES
from autocomplete.ngram import KneserNey
from autocomplete.vocab import Vocabulary

WORDS = "the cat sat on a mat and the dog ran to the red barn while a bird sang".split()


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("AUTOCOMPLETE_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def _numpy_model(name: str, seed: int, force: bool = False, vocab_words=WORDS) -> None:
    """A valid model folder (no Keras file) made from random weights, saved through store.writing."""
    rng = np.random.default_rng(seed)
    vocab = Vocabulary(("", "<unk>", "</s>") + tuple(dict.fromkeys(vocab_words)))
    v, e, h, d = len(vocab), 4, 5, 6
    shapes = [(v, e), (e, 4 * h), (h, 4 * h), (4 * h,), (h, d), (d,), (d, v), (v,)]
    weights = {n: rng.normal(size=s).astype(np.float32) for n, s in zip(WEIGHT_NAMES, shapes, strict=True)}
    ngram = KneserNey.fit(rng.integers(3, v, size=200), v, 3)
    with store.writing(name, force) as folder:
        vocab.save(folder / store.VOCAB_FILE)
        np.savez(folder / store.WEIGHTS_FILE, **weights)
        np.savez(folder / store.NGRAM_FILE, **ngram.to_arrays())
        meta = store.new_meta(config=TrainConfig().to_json(), lstm_weight=0.5, seed=seed)
        store.write_json(folder / store.META_FILE, meta)


def _temp_folders(home: Path) -> list[str]:
    """Leftovers: temporary entries, and version folders no model link points at."""
    folder = home / "models"
    if not folder.exists():
        return []
    linked = {p.resolve().name for p in folder.iterdir() if p.is_symlink()}
    return [
        p.name
        for p in folder.iterdir()
        if p.name.startswith(".tmp-") or (p.name.startswith(".v-") and p.name not in linked)
    ]


def _corpus(path: Path, words: int = 4000, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    sentences, count = [], 0
    while count < words:
        sentences.append(list(rng.choice(WORDS, size=int(rng.integers(4, 12)))))
        count += len(sentences[-1])
    path.write_text("\n".join(" ".join(s).capitalize() + "." for s in sentences), encoding="utf-8")
    return path


def _train_process(home: Path, corpus: Path, *args: str) -> subprocess.Popen:
    env = {**os.environ, "AUTOCOMPLETE_HOME": str(home), "PYTHONUNBUFFERED": "1", "COLUMNS": "120"}
    return subprocess.Popen(
        [sys.executable, "-m", "autocomplete", "train", str(corpus), "--name", "sig",
         "--units", "8", "--hidden", "8", "--embedding-dim", "8", "--batch-size", "64", *args],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )  # fmt: skip


def _read_until(proc: subprocess.Popen, marker: str, timeout: float = 120) -> str:
    """Output up to the first line containing `marker` (fails the test if the process ends first)."""
    seen, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            pytest.fail(f"process ended before {marker!r}:\n{''.join(seen)}")
        seen.append(line)
        if marker in line:
            return "".join(seen)
    pytest.fail(f"no {marker!r} within {timeout} s:\n{''.join(seen)}")


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_after_an_epoch_saves_the_best_model(tmp_path, home, signum):
    proc = _train_process(home, _corpus(tmp_path / "c.txt"), "--epochs", "500", "--patience", "500")
    _read_until(proc, "epoch  2/")
    proc.send_signal(signum)
    out = proc.communicate(timeout=120)[0]
    assert proc.returncode == 130, out  # the user interrupted, even though a model was saved
    assert "interrupted, best epoch so far saved" in out
    assert "error: training was interrupted after " in out and "was saved as sig" in out
    assert "Traceback" not in out
    info, predictor = store.load("sig")
    assert info.meta["epochs_run"] >= 2 and len(predictor.vocab) > 3
    assert _temp_folders(home) == []


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_before_the_first_epoch_leaves_nothing(tmp_path, home, signum):
    proc = _train_process(home, _corpus(tmp_path / "c.txt", words=60000), "--epochs", "5")
    _read_until(proc, "Loading TensorFlow")
    time.sleep(0.5)  # into the import or the first epoch, well before its end (60k words take ~10 s)
    proc.send_signal(signum)
    out = proc.communicate(timeout=120)[0]
    assert proc.returncode == 130, out
    assert "nothing was saved" in out or "interrupted" in out
    assert "Traceback" not in out
    assert not (home / "models" / "sig").exists()
    assert _temp_folders(home) == []


@pytest.mark.slow
def test_two_trainings_to_one_name_one_wins(tmp_path, home):
    corpus = _corpus(tmp_path / "c.txt")
    first = _train_process(home, corpus, "--epochs", "3", "--force")
    _read_until(first, "Reading the corpus")  # the first holds the lock from here on
    second = _train_process(home, corpus, "--epochs", "3", "--force")
    out2 = second.communicate(timeout=120)[0]
    out1 = first.communicate(timeout=300)[0]
    assert first.returncode == 0, out1
    assert second.returncode == 1 and "another `autocomplete train` is writing model 'sig'" in out2
    assert "Traceback" not in out2
    store.load("sig")
    assert _temp_folders(home) == []


def test_readers_see_the_old_or_the_new_model_while_it_is_replaced(home):
    _numpy_model("m", seed=0)
    seen, errors, stop = set(), [], threading.Event()

    def read():
        while not stop.is_set():
            try:
                info, predictor = store.load("m")
                predictor.lstm.check_shapes()
                seen.add(info.meta["seed"])
            except Exception as e:  # noqa: BLE001 - any failure is the finding
                errors.append(repr(e))

    readers = [threading.Thread(target=read) for _ in range(2)]
    for t in readers:
        t.start()
    for seed in range(1, 30):
        _numpy_model("m", seed=seed, force=True)
    stop.set()
    for t in readers:
        t.join()
    assert errors == []
    assert len(seen) > 1
    assert _temp_folders(home) == []


def test_disk_full_while_saving_keeps_the_old_model(home, monkeypatch):
    _numpy_model("m", seed=1)

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as patched:
        patched.setattr(np, "savez", full)
        with pytest.raises(StoreError, match="No space left on device; nothing was changed"):
            _numpy_model("m", seed=2, force=True)
    assert store.load("m")[0].meta["seed"] == 1
    assert _temp_folders(home) == []


def test_unwritable_store_is_a_clear_error(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    # root can write anywhere; not under a file
    monkeypatch.setenv("AUTOCOMPLETE_HOME", str(blocker / "home"))
    with pytest.raises(StoreError, match="cannot write to the model store .*set AUTOCOMPLETE_HOME"):
        _numpy_model("m", seed=0)


def test_a_keras_file_with_a_lambda_layer_is_refused(tmp_path):
    from autocomplete.model import import_keras, load_keras_model

    keras = import_keras()
    inputs = keras.Input(shape=(2,))
    outputs = keras.layers.Lambda(lambda x: x * 2)(inputs)
    path = tmp_path / "model.keras"
    keras.Model(inputs, outputs).save(path)
    with pytest.raises(ValueError, match="(?i)lambda|unsafe|deserializ"):
        load_keras_model(path)


def test_a_pickled_npz_is_refused_and_listed_as_broken(home):
    _numpy_model("good", seed=0)
    _numpy_model("evil", seed=1)
    evil = np.array([{"payload": 1}], dtype=object)
    np.savez(home / "models" / "evil" / store.WEIGHTS_FILE, embedding=evil)
    with pytest.raises(StoreError, match="model 'evil' is broken .*`autocomplete models rm evil`"):
        store.load("evil")
    listed = {i.name: i.problem for i in store.list_models(verify=True)}
    assert listed["good"] is None and listed["evil"]


def test_a_one_gigabyte_file_is_refused_before_reading(tmp_path):
    from autocomplete.corpus import check_file

    huge = tmp_path / "huge.txt"
    with huge.open("wb") as f:
        f.truncate(1 << 30)  # sparse: no disk used
    with pytest.raises(CorpusError, match=r"huge.txt is 1,024 MiB, over the 256 MiB limit"):
        check_file(huge)


def test_a_single_long_line_streams(tmp_path):
    from autocomplete.train import prepare

    line = tmp_path / "line.txt"
    line.write_text(" ".join(WORDS) * 30000)  # ~2.6 MB with no newline at all
    corpus = prepare([line], TrainConfig())
    assert corpus.words > 500_000 and len(corpus.vocab) < 40


def test_one_bad_file_among_several_is_named(tmp_path):
    from autocomplete.train import prepare

    good = _corpus(tmp_path / "good.txt", words=50)
    bad = tmp_path / "bad.bin"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    with pytest.raises(CorpusError, match="bad.bin is not a text file"):
        prepare([good, bad], TrainConfig())


def test_history_is_appended_and_flushed_per_line(home):
    from prompt_toolkit.history import FileHistory

    path = store.history_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    FileHistory(str(path)).append_string("to be or not")
    # Read back by a fresh reader, as after a crash: nothing was held in memory.
    assert "to be or not" in list(FileHistory(str(path)).load_history_strings())


def test_right_to_left_and_mixed_scripts_tokenize(tmp_path):
    from autocomplete.text import split_typed, tokenize

    assert tokenize("שלום עולם. مرحبا بالعالم") == ["שלום", "עולם", "</s>", "مرحبا", "بالعالم"]
    assert split_typed("שלום עו") == (["שלום"], "עו")


def test_a_file_that_fails_mid_read_is_a_clear_error(tmp_path, monkeypatch):
    """The disk (or a network share) fails after the first chunk: one line naming the file, no traceback."""
    from autocomplete import corpus
    from autocomplete.train import prepare

    path = _corpus(tmp_path / "flaky.txt", words=400_000)  # > 1 MiB: read in more than one chunk
    real_open = Path.open

    class Flaky:
        def __init__(self, f):
            self.f, self.reads = f, 0

        def read(self, n):
            self.reads += 1
            if self.reads > 1:
                raise OSError(5, "Input/output error")
            return self.f.read(n)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

    def flaky_open(self, mode="r", *args, **kwargs):
        f = real_open(self, mode, *args, **kwargs)
        return Flaky(f) if self == path and "b" in mode else f

    file = corpus.check_file(path)  # passes: the failure comes later, while reading
    monkeypatch.setattr(Path, "open", flaky_open)
    with pytest.raises(CorpusError, match=r"cannot read .*flaky.txt: Input/output error"):
        list(corpus.read_lines(file))
    with pytest.raises(CorpusError, match=r"cannot read .*flaky.txt"):
        prepare([path], TrainConfig())


def test_a_file_deleted_after_the_check_is_a_clear_error(tmp_path):
    from autocomplete.train import prepare

    path = _corpus(tmp_path / "gone.txt", words=100)
    from autocomplete import corpus

    file = corpus.check_file(path)
    path.unlink()
    with pytest.raises(CorpusError, match="cannot read .*gone.txt"):
        list(corpus.read_lines(file))
    with pytest.raises(CorpusError, match="corpus file not found: .*gone.txt"):
        prepare([path], TrainConfig())
