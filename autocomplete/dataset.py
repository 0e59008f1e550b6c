"""Training data: corpus files -> vocabulary -> token ids -> the course's sliding windows, and the split.

No Keras here: evaluation and the benchmarks build their windows with the same `windows`.
"""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from autocomplete.config import TrainConfig
from autocomplete.corpus import CorpusFile, check_file, read_tokens
from autocomplete.errors import CorpusError
from autocomplete.text import BOUNDARY
from autocomplete.vocab import FIRST_WORD_ID, UNKNOWN_ID, Vocabulary, check_learnable


@dataclass(frozen=True)
class PreparedCorpus:
    files: list[CorpusFile]
    vocab: Vocabulary
    ids: np.ndarray  # (T,) the token stream, starting with a boundary
    words: int
    notes: tuple[str, ...] = ()  # what the user should know about the files, e.g. a copy read once


def prepare(paths: list[Path], config: TrainConfig) -> PreparedCorpus:
    """Read the files twice (count, then encode) so that a large corpus is never held as strings."""
    files = [check_file(Path(p)) for p in paths]
    counts = Counter(read_tokens(files))
    files, notes = _without_copies(files)
    if notes:  # the count read every file; read the kept ones again (only when a copy was given)
        counts = Counter(read_tokens(files))
    words = counts.total() - counts[BOUNDARY]
    if words < config.context + 1:
        names = ", ".join(f.name for f in files)
        raise CorpusError(
            f"{names} has {words} word{'s' * (words != 1)}: a context of {config.context} needs at least "
            f"{config.context + 1}; give a longer text"
        )
    check_learnable(counts, config.min_count, ", ".join(f.name for f in files))
    vocab = Vocabulary.build(counts, config.max_vocab, config.min_count)
    ids = vocab.encode(itertools.chain([BOUNDARY], read_tokens(files)))
    return PreparedCorpus(files, vocab, ids, words, notes)


def _without_copies(files: list[CorpusFile]) -> tuple[list[CorpusFile], tuple[str, ...]]:
    """The files with a copy of an earlier one (the same sha256, known once a file has been read) left out,
    and a note for each left out: the same text twice would fill the validation tail with training text."""
    first: dict[str, CorpusFile] = {}
    kept, notes = [], []
    for f in files:
        if f.sha256 in first:
            notes.append(f"{f.path} has the same text as {first[f.sha256].path}: read once")
        else:
            first[f.sha256] = f
            kept.append(f)
    return kept, tuple(notes)


def windows(ids: np.ndarray, context: int) -> tuple[np.ndarray, np.ndarray]:
    """Every run of context+1 ids as (contexts (n, context), targets (n,)): the course's sliding windows,
    views of `ids` (stride tricks, no copy)."""
    ids = np.asarray(ids, dtype=np.int32)
    if len(ids) <= context:
        return np.zeros((0, context), np.int32), np.zeros(0, np.int32)
    view = np.lib.stride_tricks.sliding_window_view(ids, context + 1)
    return view[:, :context], view[:, context]


def validation_size(windows: int, split: float) -> int:
    """A contiguous tail of the windows, so validation measures text the model has not seen."""
    if windows < 2:
        return 0
    return min(max(1, round(windows * split)), windows - 1)


def lstm_vocab_size(corpus: PreparedCorpus, config: TrainConfig) -> int:
    """How many of the first (most frequent) ids get an LSTM output of their own: all of them without the
    n-gram, else the markers and the words seen at least `lstm_min_count` times."""
    if not config.ngram or config.lstm_min_count <= 1:
        return len(corpus.vocab)
    counts = np.bincount(corpus.ids, minlength=len(corpus.vocab))[FIRST_WORD_ID:]
    return FIRST_WORD_ID + int((counts >= config.lstm_min_count).sum())  # ids are sorted by count


def beyond_as_unknown(ids: np.ndarray, lstm_vocab_size: int) -> np.ndarray:
    """The ids the LSTM sees: words beyond its first `lstm_vocab_size` ids become the unknown marker ("some
    other word")."""
    return np.where(ids < lstm_vocab_size, ids, UNKNOWN_ID).astype(np.int32)


def unseen_as_unknown(targets: np.ndarray, seen_ids: np.ndarray) -> np.ndarray:
    """Validation targets that the training part never shows become the unknown marker, which scoring counts
    but does not score: a model fitted on the training part cannot know them (the n-gram gives them 0, and so
    does the LSTM's share of "other word"), while the final model, fitted on every line, does."""
    seen = np.bincount(seen_ids, minlength=int(targets.max(initial=0)) + 1) > 0
    known = (targets < FIRST_WORD_ID) | seen[targets]
    return np.where(known, targets, UNKNOWN_ID).astype(targets.dtype)
