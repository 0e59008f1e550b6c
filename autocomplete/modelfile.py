"""The model folder's format, in one place: what `save` writes and `load` reads, and the checks between.

A model folder holds vocab.json (index <-> word), weights.npz (the numpy LSTM), ngram/ (the Kneser-Ney
model, with the n-gram on: one uncompressed .npy per array, memory-mapped by `load`, see ngram_files.py),
model.keras (for Keras, written by training through `write_keras`; never read here) and meta.json (format
version, package version, creation time, the TrainConfig, the mixing weight, corpus and training figures).
meta.json is written last. No Keras here: `save` and `load` are numpy only.

Format versions: 2 has the n-gram as ngram/; 1 had it as ngram.npz (read whole at load), which `load` still
reads.
"""

from __future__ import annotations

import json
import threading
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from autocomplete.config import TrainConfig
from autocomplete.inference import LstmWeights, Predictor
from autocomplete.ngram import KneserNey
from autocomplete.ngram_files import load_folder, save_folder
from autocomplete.vocab import Vocabulary

FORMAT_VERSION = 2
KERAS_FILE, WEIGHTS_FILE, NGRAM_DIR, VOCAB_FILE, META_FILE = (
    "model.keras", "weights.npz", "ngram", "vocab.json", "meta.json",
)  # fmt: skip
NGRAM_FILE = "ngram.npz"  # format 1's n-gram
# np.load parses every .npy header with ast.literal_eval, which CPython 3.11 can fail with a SystemError when
# two threads parse at once (python/cpython#106905): one model is loaded at a time.
_LOADING = threading.Lock()
# What reading a damaged or hand-edited folder can raise (the store turns them into one-line errors).
LOAD_ERRORS = (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile, EOFError)


def new_meta(**fields) -> dict:
    """meta.json's header (format, package version, creation time) followed by `fields`."""
    from autocomplete import __version__

    created = datetime.now(UTC).isoformat(timespec="seconds")
    return {"format_version": FORMAT_VERSION, "package_version": __version__, "created": created, **fields}


def write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def save(
    folder: Path,
    predictor: Predictor,
    config: TrainConfig,
    write_keras: Callable[[Path], None] | None = None,
    **fields,
) -> dict:
    """Write the predictor into the (empty) folder; `fields` go into meta.json after the header, the config,
    the vocabulary size and the mixing weight (and may override them). Returns the meta written."""
    predictor.vocab.save(folder / VOCAB_FILE)
    np.savez(folder / WEIGHTS_FILE, **predictor.lstm.to_arrays())
    if predictor.ngram is not None:
        save_folder(predictor.ngram, folder / NGRAM_DIR)
    if write_keras is not None:
        write_keras(folder / KERAS_FILE)
    meta = new_meta(
        config=config.to_json(), vocab_size=len(predictor.vocab), lstm_weight=predictor.lstm_weight, **fields
    )
    write_json(folder / META_FILE, meta)
    return meta


def read_meta(folder: Path) -> tuple[dict, str | None]:
    """(meta.json's contents, None), or (what could be read, why the folder cannot be used): the format
    version, the fields everything else relies on and the files' presence, without loading the arrays."""
    try:
        meta = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
        if not isinstance(meta, dict):
            raise ValueError("not an object")
    except FileNotFoundError:
        return {}, f"{META_FILE} is missing"
    except (OSError, ValueError) as e:
        return {}, f"{META_FILE} is unreadable ({e})"
    version = meta.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        return meta, f"made by a newer autocomplete (format {version}): upgrade"
    if bad := _bad_meta_fields(meta):  # hand-edited: everything else reads these as the types below
        return meta, f"{META_FILE} has bad values for {', '.join(bad)}"
    missing = [f for f in (WEIGHTS_FILE, VOCAB_FILE) if not (folder / f).is_file()]
    if config_of(meta).ngram and not ((folder / NGRAM_DIR).is_dir() or (folder / NGRAM_FILE).is_file()):
        missing.append(f"{NGRAM_DIR}/")
    if missing:
        return meta, f"{', '.join(missing)} missing"
    return meta, None


def _bad_meta_fields(meta: dict) -> list[str]:
    config = meta.get("config")
    lstm_weight = meta.get("lstm_weight", 1.0)
    corpus = meta.get("corpus", [])
    checks = {
        "config": isinstance(config, dict),
        "config.context": (
            isinstance(config, dict) and type(config.get("context")) is int and config["context"] >= 1
        ),
        "vocab_size": type(meta.get("vocab_size", 0)) is int,
        "lstm_weight": type(lstm_weight) in (int, float) and 0 <= lstm_weight <= 1,
        "corpus": isinstance(corpus, list) and all(isinstance(f, dict) for f in corpus),
        "validation": meta.get("validation") is None or isinstance(meta.get("validation"), dict),
    }
    return [name for name, ok in checks.items() if not ok]


def config_of(meta: dict) -> TrainConfig:
    """The TrainConfig a model was trained with (defaults for fields an older version did not write)."""
    return TrainConfig.from_json(meta["config"])


def load(folder: Path, meta: dict | None = None) -> Predictor:
    """The numpy predictor of a model folder (`meta`: its meta.json, as `read_meta` checked it; read here
    when not given). Raises one of LOAD_ERRORS for a damaged folder."""
    if meta is None:
        meta, problem = read_meta(folder)
        if problem:
            raise ValueError(problem)
    with _LOADING:
        return _load(folder, meta)


def _load(folder: Path, meta: dict) -> Predictor:
    config = config_of(meta)
    vocab = Vocabulary.load(folder / VOCAB_FILE)
    with np.load(folder / WEIGHTS_FILE, allow_pickle=False) as arrays:
        lstm = LstmWeights.from_arrays(arrays)
    lstm.check_shapes()
    if lstm.vocab_size > len(vocab):  # the LSTM may know only the most frequent words: the first ids
        raise ValueError(f"vocab.json has {len(vocab)} words but the weights have {lstm.vocab_size}")
    ngram = _load_ngram(folder) if config.ngram else None
    if ngram is not None and ngram.vocab_size != len(vocab):
        raise ValueError(f"vocab.json has {len(vocab)} words but the n-gram has {ngram.vocab_size}")
    return Predictor(vocab, config.context, lstm, ngram, float(meta.get("lstm_weight", 1.0)))


def _load_ngram(folder: Path) -> KneserNey:
    """The n-gram: ngram/ memory-mapped, or a format-1 folder's ngram.npz read whole."""
    if not (folder / NGRAM_DIR).is_dir():
        with np.load(folder / NGRAM_FILE, allow_pickle=False) as arrays:
            return KneserNey.from_arrays(dict(arrays))
    return load_folder(folder / NGRAM_DIR)


def created_display(created: str) -> str:
    """meta.json's ISO creation time as a table shows it: "2025-01-31 14:05"."""
    return created.replace("T", " ")[:16]
