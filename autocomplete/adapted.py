"""Adaptation for a loaded model, as the commands use it: its rule from meta.json, its personal memory, and
the memory commands (learn, forget). No terminal here; no TensorFlow.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from autocomplete import memory
from autocomplete.adapt import DEFAULT_PARAMS, Adaptation, AdaptParams, suggest_adapted
from autocomplete.errors import AutocompleteError, CorpusError, UsageError
from autocomplete.suggest import NextWordModel, Suggestions, suggest
from autocomplete.wordcounts import Lexicon

NO_LEARN_ENV = "AUTOCOMPLETE_NO_LEARN"


def params_of(meta: dict) -> AdaptParams:
    """The rule training chose (meta.json's "adaptation"), or DEFAULT_PARAMS when absent or malformed."""
    record = meta.get("adaptation")
    if not isinstance(record, dict):
        return DEFAULT_PARAMS
    try:
        return AdaptParams.from_json(record)
    except (ValueError, KeyError, TypeError):
        return DEFAULT_PARAMS


def adaptation_for(name: str, meta: dict, model: NextWordModel) -> Adaptation:
    """A fresh Adaptation of the model `name`: its rule and its saved memory (empty if it has none)."""
    return Adaptation(model.vocab, params_of(meta), memory.load(name, Lexicon(model.vocab)))


def answer(text: str, model: NextWordModel, adaptation: Adaptation | None, k: int) -> Suggestions:
    """suggest() without adaptation, suggest_adapted() with it; the adaptation is left as it was, so every
    call is self-contained."""
    if adaptation is None:
        return suggest(text, model, k)
    return suggest_adapted(text, model, adaptation, k)


def learning_refused() -> bool:
    """The user's "never learn" switch: AUTOCOMPLETE_NO_LEARN set to anything but "", "0"."""
    return os.environ.get(NO_LEARN_ENV, "").strip() not in ("", "0")


def words_learned(infos) -> dict[str, int]:
    """Words in the personal memory of each model listed (store.ModelInfo), 0 where it has none."""
    return {info.name: _words_or_zero(info.name) for info in infos}


def _words_or_zero(name: str) -> int:
    try:
        return memory.words_learned(name)
    except AutocompleteError:  # a hand-made folder's odd name, an unreadable memory: the listing goes on
        return 0


@dataclass(frozen=True)
class LearnedFiles:
    name: str
    files: int
    units: int  # lines written to the memory
    words: int  # words the memory gained


def learn(
    name: str, paths: Iterable[Path], progress: Callable[[Path, int], None] | None = None
) -> LearnedFiles:
    """Learn the files into model `name`'s memory; `progress(path, bytes_read)` as each one is read. Raises
    UsageError when learning is switched off, CorpusError as `train` does for a bad file (before any file
    is learned: all are checked first)."""
    if learning_refused():
        raise UsageError(f"learning is off ({NO_LEARN_ENV} is set): unset it to learn")
    paths = list(paths)
    for path in paths:
        _check_has_words(Path(path))
    units = words = 0
    for path in paths:
        report = (lambda done, p=path: progress(p, done)) if progress else None
        learned = memory.learn_file(name, Path(path), report)
        units, words = units + learned.units, words + learned.words
    return LearnedFiles(name, len(paths), units, words)


def _check_has_words(path: Path) -> None:
    """train's checks (CorpusError), and a word somewhere: reading stops at the first one."""
    from autocomplete.corpus import check_file, read_lines
    from autocomplete.text import BOUNDARY, tokenize_line

    lines = read_lines(check_file(path))
    if not any(t != BOUNDARY for line in lines for t in tokenize_line(line)):
        raise CorpusError(f"{path} has no words to learn: give a text with words")
    lines.close()


@dataclass(frozen=True)
class Forgotten:
    name: str
    words: tuple[str, ...]  # what was asked to be forgotten (empty: everything)
    lines: int  # memory lines removed (with --all: the words the memory held)


def forget(name: str, words: Iterable[str], everything: bool = False) -> Forgotten:
    """Remove `words` (and every learned line holding one) from the memory, or empty it."""
    words = tuple(words)
    if everything == bool(words):
        raise UsageError("give the words to forget, or --all to empty the memory (not both)")
    if everything:
        held = memory.words_learned(name)
        memory.forget_all(name)
        return Forgotten(name, (), held)
    return Forgotten(name, words, memory.forget(name, words))
