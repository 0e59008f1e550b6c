"""Training data: corpus files -> vocabulary -> ids on disk -> the course's sliding windows, and the split.

The files are streamed twice (encode.py): a first pass counts the words, the vocabulary is fixed, a second
pass writes the token ids to a memory-mapped .npy in a temporary folder, so memory is bounded by the distinct
words whatever the corpus's size. No Keras here: evaluation and the benchmarks build their windows with the
same `windows`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from autocomplete import encode, heap
from autocomplete.config import TrainConfig
from autocomplete.corpus import CorpusFile, check_file
from autocomplete.errors import CorpusError
from autocomplete.vocab import FIRST_WORD_ID, UNKNOWN_ID, Vocabulary, check_learnable

COUNTING, ENCODING = "Counting words", "Encoding"  # the two passes, as the progress callback names them
_COUNT_CHUNK = 1 << 20  # ids counted at a time by id_counts: 8 MiB as int64
# The most validation windows: each epoch scores them all, and more than this does not move the epoch or
# the weight chosen. The benchmark corpora's tails (5%) are 4-12k windows, a 1 GB corpus's would be 9M.
MAX_VALIDATION = 50_000


@dataclass(frozen=True)
class PreparedCorpus:
    files: list[CorpusFile]
    vocab: Vocabulary
    ids: np.ndarray  # (T,) int32 the token stream, starting with a boundary (streamed: a read-only map)
    words: int
    notes: tuple[str, ...] = ()  # what the user should know about the files, e.g. a copy read once


# Told (pass, bytes read so far, bytes of all the files) after every chunk read; pass is COUNTING or ENCODING.
Progress = Callable[[str, int, int], None]


@contextlib.contextmanager
def streamed(
    paths: list[Path], config: TrainConfig, workdir: Path | None = None, progress: Progress | None = None
) -> Iterator[PreparedCorpus]:
    """The corpus with its ids a read-only memory map of a .npy in a fresh folder inside `workdir` (default:
    the system's temporary folder, $TMPDIR), removed on leaving, after an exception or Ctrl-C too.

    Raises CorpusError for a file that cannot be used or changes while read, DiskError if the ids do not
    fit."""
    heap.map_big_blocks()  # training's big temporaries go back to the system when freed
    files = [check_file(Path(p)) for p in paths]
    tell = functools.partial(progress, COUNTING) if progress else None
    counted = encode.count_words(files, tell)
    files, notes = _without_copies(files)
    if notes:  # the count read every file; read the kept ones again (only when a copy was given)
        counted = encode.count_words(files, tell)
    names = ", ".join(f.name for f in files)
    if counted.words < config.context + 1:
        raise CorpusError(
            f"{names} has {counted.words} word{'s' * (counted.words != 1)}: a context of {config.context} "
            f"needs at least {config.context + 1}; give a longer text"
        )
    check_learnable(counted.counts, config.min_count, names)
    vocab = Vocabulary.build(counted.counts, config.max_vocab, config.min_count)
    words, counted = counted.words, dataclasses.replace(counted, counts=Counter())  # frees every word
    tell = functools.partial(progress, ENCODING) if progress else None
    workdir = Path(tempfile.gettempdir()) if workdir is None else workdir
    with encode.encoded_ids(counted, vocab, workdir, tell) as ids:
        heap.give_back()  # what reading the text twice left
        yield PreparedCorpus(files, vocab, ids, words, notes)


def prepare(paths: list[Path], config: TrainConfig) -> PreparedCorpus:
    """The corpus with its ids in memory (a copy of the streamed ones): for evaluation, tests and benchmarks
    on corpora that fit in memory."""
    with streamed(paths, config) as corpus:
        return dataclasses.replace(corpus, ids=np.array(corpus.ids))


def id_counts(ids: np.ndarray, size: int) -> np.ndarray:
    """How often each id occurs in `ids` (any array, a memory map too: read in chunks): (size,) int64."""
    counts = np.zeros(size, dtype=np.int64)
    for read in heap.read_once(ids, _COUNT_CHUNK):
        counts += np.bincount(read, minlength=size)[:size]
    return counts


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
    """A contiguous tail of the windows, so validation measures text the model has not seen: `split` of
    them, at most MAX_VALIDATION."""
    if windows < 2:
        return 0
    return min(max(1, round(windows * split)), windows - 1, MAX_VALIDATION)


def lstm_vocab_size(corpus: PreparedCorpus, config: TrainConfig) -> int:
    """How many of the first (most frequent) ids get an LSTM output of their own: all of them without the
    n-gram, else the markers and the words seen at least `lstm_min_count` times."""
    if not config.ngram or config.lstm_min_count <= 1:
        return len(corpus.vocab)
    counts = id_counts(corpus.ids, len(corpus.vocab))[FIRST_WORD_ID:]
    return FIRST_WORD_ID + int((counts >= config.lstm_min_count).sum())  # ids are sorted by count


def beyond_as_unknown(ids: np.ndarray, lstm_vocab_size: int) -> np.ndarray:
    """The ids the LSTM sees: words beyond its first `lstm_vocab_size` ids become the unknown marker ("some
    other word")."""
    return np.where(ids < lstm_vocab_size, ids, UNKNOWN_ID).astype(np.int32)


def unseen_as_unknown(targets: np.ndarray, seen_ids: np.ndarray) -> np.ndarray:
    """Validation targets that the training part never shows become the unknown marker, which scoring counts
    but does not score: a model fitted on the training part cannot know them (the n-gram gives them 0, and so
    does the LSTM's share of "other word"), while the final model, fitted on every line, does. Done a chunk
    at a time, the pages of a memory map let go: memory is the result's, (n,) like `targets`."""
    top = max((int(part.max()) for part in heap.read_once(targets, _COUNT_CHUNK)), default=0)
    seen = id_counts(seen_ids, top + 1) > 0
    out, start = np.empty(len(targets), dtype=targets.dtype), 0
    for part in heap.read_once(targets, _COUNT_CHUNK):
        out[start : start + len(part)] = np.where((part < FIRST_WORD_ID) | seen[part], part, UNKNOWN_ID)
        start += len(part)
    return out
