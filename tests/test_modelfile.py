"""The model folder's format (modelfile.py): what save writes, what load rebuilds, damaged files refused in
one line, and a disk that fills while Keras writes its file."""

from __future__ import annotations

import json
import resource
import shutil
import signal
from pathlib import Path

import numpy as np
import pytest
from conftest import leftovers, random_lstm, write_model

from autocomplete import modelfile, store
from autocomplete.config import TrainConfig
from autocomplete.errors import StoreError
from autocomplete.inference import Predictor
from autocomplete.text import MARKERS
from autocomplete.vocab import Vocabulary


def folder_of(home, name):
    return (home / "models" / name).resolve()


def test_load_rebuilds_the_saved_config(store_home):
    vocab = Vocabulary(MARKERS + ("a", "b", "c"))
    predictor = Predictor(vocab, 3, random_lstm(len(vocab)), None)
    config = TrainConfig(context=3, ngram=False, units=5)
    with store.writing("m", False) as folder:
        meta = modelfile.save(folder, predictor, config, seed=4)
    folder = folder_of(store_home, "m")
    written = {p.name for p in folder.iterdir()}
    assert written == {modelfile.WEIGHTS_FILE, modelfile.VOCAB_FILE, modelfile.META_FILE}  # no n-gram
    assert modelfile.read_meta(folder) == (meta, None)
    assert modelfile.config_of(meta) == config and meta["seed"] == 4 and meta["vocab_size"] == len(vocab)
    loaded = modelfile.load(folder)
    assert (loaded.context_size, loaded.ngram, loaded.lstm_weight) == (3, None, 1.0)
    np.testing.assert_array_equal(loaded.next_word_probs([3, 4, 5]), predictor.next_word_probs([3, 4, 5]))


def test_an_older_config_gets_the_defaults_it_lacks(make_model, store_home):
    make_model("m")
    path = folder_of(store_home, "m") / modelfile.META_FILE
    meta = json.loads(path.read_text())
    meta["config"] = {"context": 2}  # written before the other fields existed: ngram is on by default
    path.write_text(json.dumps(meta))
    assert modelfile.load(folder_of(store_home, "m")).ngram is not None


def truncate(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def corrupt(path):
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 64] = bytes(64)  # inside the arrays: a bad CRC
    path.write_bytes(bytes(data))


FORMAT_1 = Path(__file__).parent / "data" / "model-format-1"  # written by the code of e528feb (ngram.npz)


def format_1_model(home: Path) -> Path:
    """A copy of the format-1 model folder, as the plain folder models/old."""
    folder = home / "models" / "old"
    shutil.copytree(FORMAT_1, folder)
    return folder


def test_the_ngram_is_saved_as_npy_files_that_load_memory_mapped(store_home):
    write_model("m", seed=3)
    folder = folder_of(store_home, "m")
    assert not (folder / modelfile.NGRAM_FILE).exists()
    assert {p.suffix for p in (folder / modelfile.NGRAM_DIR).iterdir()} == {".npy"}
    loaded = modelfile.load(folder)
    assert all(isinstance(level.vals, np.memmap) for level in loaded.ngram.levels)
    assert modelfile.read_meta(folder)[0]["format_version"] == modelfile.FORMAT_VERSION == 2


def test_a_format_1_model_still_loads_and_predicts_as_it_did(store_home):
    folder = format_1_model(store_home)
    meta, problem = modelfile.read_meta(folder)
    assert (meta["format_version"], problem) == (1, None)
    predictor = modelfile.load(folder, meta)
    expected = np.load(FORMAT_1.parent / "model-format-1-probs.npy")  # the old code's predictions
    for context, probs in zip([[2, 2], [3, 4], [5, 6], [1, 7]], expected, strict=True):
        # BLAS kernels round differently per CPU (an AVX-512 Xeon: 6e-7 relative); a misread weight is far off
        np.testing.assert_allclose(predictor.uncached_probs(context), probs, rtol=1e-5, atol=0)
    assert store.load("old")[1].ngram.vocab_size == len(predictor.vocab)


def npy_header(path):
    data = bytearray(path.read_bytes())
    data[10:40] = b"{'descr': '<i8', 'fortran_o"  # the header's dict cut: a bad header
    path.write_bytes(bytes(data))


def ngram_file(name):
    return lambda folder: folder / modelfile.NGRAM_DIR / name


@pytest.mark.parametrize(
    ("where", "damage"),
    [
        (lambda folder: folder / modelfile.NGRAM_FILE, truncate),  # format 1
        (lambda folder: folder / modelfile.NGRAM_FILE, corrupt),
        (lambda folder: folder / modelfile.NGRAM_FILE, lambda p: p.write_bytes(b"")),
        (ngram_file("l2_vals.npy"), truncate),
        (ngram_file("l1_ids.npy"), lambda p: p.write_bytes(b"")),
        (ngram_file("l1_keys.npy"), npy_header),
        (ngram_file("l1_starts.npy"), lambda p: p.unlink()),
        (ngram_file("l2_ids.npy"), lambda p: np.save(p, np.zeros(3, np.int32))),  # lengths that do not fit
        (ngram_file("unigram.npy"), lambda p: np.save(p, np.zeros(4))),
    ],
    ids=["npz truncated", "npz corrupt", "npz empty", "npy truncated", "npy empty", "npy header",
         "npy missing", "pairs do not fit", "unigram does not fit"],  # fmt: skip
)
def test_a_damaged_ngram_file_is_one_line_of_advice(make_model, store_home, where, damage):
    if where(Path()).name == modelfile.NGRAM_FILE:
        folder = format_1_model(store_home)
        name = "old"
    else:
        make_model("m")
        folder, name = folder_of(store_home, "m"), "m"
    damage(where(folder))
    with pytest.raises(StoreError) as error:
        store.load(name)
    message = str(error.value)
    assert message.startswith(f"model '{name}' is broken (") and "\n" not in message
    assert message.endswith(f"remove it with `autocomplete models rm {name}` and train it again")
    assert {i.name: bool(i.problem) for i in store.list_models(verify=True)} == {name: True}


def test_a_missing_ngram_folder_is_named(make_model, store_home):
    make_model("m")
    shutil.rmtree(folder_of(store_home, "m") / modelfile.NGRAM_DIR)
    assert modelfile.read_meta(folder_of(store_home, "m"))[1] == "ngram/ missing"


def keras_writer(lstm, config, limit_bytes=None):
    """model.keras as training writes it, under a file-size limit if given (a full disk, for this file)."""
    from autocomplete.model import save_keras

    def write(path):
        if limit_bytes is None:
            return save_keras(lstm, config, path)
        previous_handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG, not a killed process
        previous = resource.getrlimit(resource.RLIMIT_FSIZE)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, previous[1]))
        try:
            save_keras(lstm, config, path)
        finally:
            resource.setrlimit(resource.RLIMIT_FSIZE, previous)
            signal.signal(signal.SIGXFSZ, previous_handler)

    return write


def _lstm_only_model():
    """(predictor, config, lstm): a small LSTM-only model to save over model "m"."""
    vocab = Vocabulary(MARKERS + ("a", "b", "c"))
    config = TrainConfig(embedding_dim=4, units=5, hidden=6, tie_embeddings=False, ngram=False)
    lstm = random_lstm(len(vocab))
    return Predictor(vocab, 2, lstm, None), config, lstm


@pytest.mark.slow  # builds the Keras model it writes
def test_a_disk_full_while_keras_writes_changes_nothing(store_home):
    write_model("m", seed=1)
    predictor, config, lstm = _lstm_only_model()
    with pytest.raises(StoreError, match=r"^cannot save model 'm': File too large; nothing was changed$"):
        with store.writing("m", True) as folder:
            modelfile.save(folder, predictor, config, write_keras=keras_writer(lstm, config, 4096))
    assert store.load("m")[0].meta["seed"] == 1 and leftovers(store_home) == []


@pytest.mark.slow  # builds the Keras model it writes
def test_what_h5py_raises_for_a_failed_write_is_a_clean_save_error(store_home, monkeypatch):
    """Keras writes its weights through h5py, which reports a failed write as RuntimeError."""
    from autocomplete.model import import_keras

    keras = import_keras()

    def fail(self, *args, **kwargs):
        raise RuntimeError("Can't decrement id ref count (file write failed)")

    monkeypatch.setattr(keras.Model, "save", fail)
    write_model("m", seed=1)
    predictor, config, lstm = _lstm_only_model()
    with pytest.raises(StoreError, match=r"^cannot save model 'm': model.keras: Can't decrement .*; nothing"):
        with store.writing("m", True) as folder:
            modelfile.save(folder, predictor, config, write_keras=keras_writer(lstm, config))
    assert store.load("m")[0].meta["seed"] == 1 and leftovers(store_home) == []


