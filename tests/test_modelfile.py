"""The model folder's format (modelfile.py): what save writes, what load rebuilds, damaged files refused in
one line, and a disk that fills while Keras writes its file."""

from __future__ import annotations

import json
import resource
import signal

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


@pytest.mark.parametrize("damage", [truncate, corrupt, lambda p: p.write_bytes(b"")])
def test_a_damaged_ngram_file_is_one_line_of_advice(make_model, store_home, damage):
    make_model("m")
    damage(folder_of(store_home, "m") / modelfile.NGRAM_FILE)
    with pytest.raises(StoreError) as error:
        store.load("m")
    message = str(error.value)
    assert message.startswith("model 'm' is broken (") and "\n" not in message
    assert message.endswith("remove it with `autocomplete models rm m` and train it again")
    assert {i.name: bool(i.problem) for i in store.list_models(verify=True)} == {"m": True}


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


