"""The corpus this project wrote itself and ships: the default when `train` is given no file."""

from __future__ import annotations

import importlib.util
from pathlib import Path

DEFAULT_CORPUS = "notebook.txt"


def corpora_dir() -> Path:
    """Installed, corpora/ is the package autocomplete.corpora; in a source checkout it sits beside the
    package."""
    spec = importlib.util.find_spec("autocomplete.corpora")
    if spec is not None and spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    return Path(__file__).resolve().parent.parent / "corpora"


def default_corpus() -> Path:
    return corpora_dir() / DEFAULT_CORPUS
