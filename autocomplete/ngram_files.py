"""The n-gram as a folder of uncompressed .npy files that a reader memory-maps, so that it loads in
milliseconds whatever its size and reads only the pages a prediction touches (an .npz member cannot be
mapped: np.load reads it whole).

The folder holds each array of `KneserNey.to_arrays()` as NAME.npy, plus l{m}_left.npy: per context, the
mass it leaves to the shorter context, which KneserNey.__init__ would otherwise compute over every pair at
load. The pairs' discounted counts are computed per prediction for the one context looked up.
"""

from __future__ import annotations

import errno
from pathlib import Path

import numpy as np

from autocomplete.ngram import Kept, KneserNey, _Level

_LEVEL_FIELDS = tuple(_Level.__dataclass_fields__)


def array_names(order: int) -> list[str]:
    """The .npy files (without the extension) of an n-gram of this order."""
    names = ["meta", "discounts", "unigram"]
    for m in range(1, order):
        names += [f"l{m}_{name}" for name in (*_LEVEL_FIELDS, "left")]
    return names


def save_folder(model: KneserNey, folder: Path) -> None:
    """Write the model's arrays into `folder` (created if missing), one uncompressed .npy each."""
    folder.mkdir(parents=True, exist_ok=True)
    arrays = model.to_arrays()
    for m, left in enumerate(model._left, start=1):
        arrays[f"l{m}_left"] = np.asarray(left, dtype=np.float64)
    for name, array in arrays.items():
        np.save(folder / f"{name}.npy", np.ascontiguousarray(array), allow_pickle=False)


def load_folder(folder: Path) -> KneserNey:
    """The model saved by save_folder, its arrays memory-mapped read-only. Raises FileNotFoundError if a file
    is missing, ValueError if one does not fit (OSError if one cannot be read)."""
    meta = np.load(folder / "meta.npy", allow_pickle=False)
    order = int(meta[1])
    arrays = {name: _load(folder, name) for name in array_names(order)}
    _check_lengths(arrays, order)
    return MappedKneserNey(arrays)


def _check_lengths(arrays: dict[str, np.ndarray], order: int) -> None:
    """ValueError unless the arrays' lengths fit together (a truncated or swapped file): one page read."""
    if arrays["unigram"].shape != (int(arrays["meta"][0]),):
        raise ValueError("the n-gram's unigram.npy does not fit its vocabulary")
    for m in range(1, order):
        keys, starts, ids, vals, totals, left = (arrays[f"l{m}_{f}"] for f in (*_LEVEL_FIELDS, "left"))
        contexts, pairs = len(keys), len(ids)
        if not (len(starts) == contexts + 1 and len(totals) == len(left) == contexts and len(vals) == pairs
                and int(starts[-1]) == pairs):  # fmt: skip
            raise ValueError(f"the n-gram's l{m}_*.npy files do not fit together")


def _load(folder: Path, name: str) -> np.ndarray:
    path = folder / f"{name}.npy"
    try:
        return np.load(path, mmap_mode="r", allow_pickle=False)
    except FileNotFoundError:  # kept as such: the store then reads a model replaced meanwhile again
        raise FileNotFoundError(errno.ENOENT, f"{path.name} is missing") from None


class MappedKneserNey(KneserNey):
    """A KneserNey over memory-mapped arrays: nothing is computed over all the pairs at load."""

    def __init__(self, arrays: dict[str, np.ndarray]):  # KneserNey's fields, without its pass over the pairs
        vocab_size, order = (int(x) for x in arrays["meta"][:2])
        levels = [_Level(**{f: arrays[f"l{m}_{f}"] for f in _LEVEL_FIELDS}) for m in range(1, order)]
        discounts = np.asarray(arrays["discounts"], dtype=np.float64)
        if discounts.shape != (len(levels), 4):
            raise ValueError("the n-gram's discounts do not fit its order")
        self.vocab_size, self.order, self.discounts = vocab_size, order, discounts
        self.unigram, self.levels = arrays["unigram"], levels
        self._kept = [Kept(level.vals, d) for level, d in zip(levels, discounts, strict=True)]
        self._left = [arrays[f"l{m}_left"] for m in range(1, order)]

