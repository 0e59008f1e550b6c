"""A corpus of any size as token ids on disk: one pass counts the words, a second encodes them to a .npy.

The token stream is train.prepare's: a boundary, then every file's tokens (`corpus.read_tokens`). Memory stays
bounded by the distinct words (the Counter) and one chunk of ids, never the corpus. The ids are written with
plain writes and then mapped read-only: writing through a shared memory map kills the process with SIGBUS
when the disk fills (measured on a full tmpfs), where a write() raises an OSError that can be reported.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from autocomplete.corpus import CorpusFile, read_tokens
from autocomplete.errors import CorpusError, DiskError
from autocomplete.text import BOUNDARY
from autocomplete.vocab import BOUNDARY_ID, Vocabulary

CHUNK_TOKENS = 1 << 20  # ids encoded and written at a time: 4 MiB of int32
IDS_FILE = "ids.npy"
_DTYPE = np.dtype("<i4")


class Progress(Protocol):
    """Told after every chunk read: `done` bytes of the `total` of all the files (a rich bar's completed and
    total, from which it shows the rate)."""

    def __call__(self, done: int, total: int) -> None: ...


@dataclass(frozen=True)
class _Stamp:
    size: int
    mtime_ns: int

    @classmethod
    def of(cls, corpus_file: CorpusFile) -> _Stamp:
        try:
            st = corpus_file.path.stat()
        except OSError as e:
            raise CorpusError(f"cannot read {corpus_file.path}: {e.strerror or e}") from None
        return cls(st.st_size, st.st_mtime_ns)


@dataclass(frozen=True)
class WordCounts:
    """What the first pass saw: every token's count, and per file its tokens, stamp and sha256, so that the
    second pass can tell that it reads the same text."""

    files: list[CorpusFile]
    counts: Counter[str]  # every token, boundaries included
    tokens: list[int]  # per file, its trailing boundary included
    stamps: list[_Stamp]
    sha256: list[str]

    @property
    def words(self) -> int:
        """Word tokens, boundaries not counted."""
        return self.counts.total() - self.counts[BOUNDARY]

    @property
    def stream_length(self) -> int:
        """Length of the id stream: the leading boundary, then every token."""
        return 1 + sum(self.tokens)


def count_words(files: list[CorpusFile], progress: Progress | None = None) -> WordCounts:
    """Pass 1: count every token of the files, telling `progress` the bytes read (and filling in each
    file's sha256)."""
    counts: Counter[str] = Counter()
    tokens, stamps, sha256 = [], [], []
    on_read = _bytes_read(files, progress)
    for corpus_file in files:
        before = _Stamp.of(corpus_file)
        seen = counts.total()
        counts.update(read_tokens([corpus_file], on_read))
        stamps.append(_check_same(corpus_file, before, _Stamp.of(corpus_file)))
        tokens.append(counts.total() - seen)
        sha256.append(corpus_file.sha256)
    return WordCounts(files, counts, tokens, stamps, sha256)


@contextlib.contextmanager
def encoded_ids(
    counted: WordCounts,
    vocab: Vocabulary,
    workdir: Path,
    progress: Progress | None = None,
    chunk_tokens: int = CHUNK_TOKENS,
) -> Iterator[np.ndarray]:
    """Pass 2: the token ids, shape (counted.stream_length,), int32, a read-only memory map of a .npy in a
    fresh folder inside `workdir`, which is removed on leaving (after an exception or Ctrl-C too).

    Raises CorpusError if a file is not what pass 1 read, DiskError if the ids do not fit on the disk."""
    try:
        folder = Path(tempfile.mkdtemp(prefix="autocomplete-ids-", dir=workdir))
    except OSError as e:
        raise DiskError(f"cannot create a temporary folder in {workdir}: {e.strerror or e}") from None
    try:
        path = folder / IDS_FILE
        _write_ids(counted, vocab, path, progress, chunk_tokens)
        yield np.load(path, mmap_mode="r")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _write_ids(counted: WordCounts, vocab: Vocabulary, path: Path, progress, chunk_tokens: int) -> None:
    length = counted.stream_length
    need = length * _DTYPE.itemsize + 128
    free = shutil.disk_usage(path.parent).free
    if free < need:
        raise DiskError(
            f"the corpus's token ids need {_mib(need)} in {path.parent}, which has {_mib(free)} free: "
            "free some space there, or set TMPDIR to a folder on a disk with room"
        )
    on_read = _bytes_read(counted.files, progress)
    try:
        with path.open("wb") as f:
            header = {"descr": _DTYPE.str, "fortran_order": False, "shape": (length,)}
            np.lib.format.write_array_header_1_0(f, header)
            f.write(np.array([BOUNDARY_ID], dtype=_DTYPE).data)
            for i, corpus_file in enumerate(counted.files):
                _check_same(corpus_file, counted.stamps[i], _Stamp.of(corpus_file))
                written = _write_file(f, vocab, read_tokens([corpus_file], on_read), chunk_tokens)
                if written != counted.tokens[i] or corpus_file.sha256 != counted.sha256[i]:
                    _check_same(corpus_file, counted.stamps[i], _Stamp.of(corpus_file))
                    raise CorpusError(_changed(corpus_file, "its text is not what was read the first time"))
            f.flush()
            os.fsync(f.fileno())
    except OSError as e:
        raise DiskError(
            f"cannot write the corpus's token ids to {path.parent} ({e.strerror or e}): they need "
            f"{_mib(need)}; free some space there, or set TMPDIR to a folder on a disk with room"
        ) from None


def _write_file(f, vocab: Vocabulary, tokens: Iterator[str], chunk_tokens: int) -> int:
    """Write the ids of `tokens` in chunks; how many there were."""
    written = 0
    while len(ids := vocab.encode(itertools.islice(tokens, chunk_tokens))):
        f.write(ids.astype(_DTYPE, copy=False).data)  # not ndarray.tofile, which can lose a failed write
        written += len(ids)
    return written


def _bytes_read(files: list[CorpusFile], progress: Progress | None):
    """A corpus.read_lines callback that tells `progress` the bytes read so far of the files' total."""
    if progress is None:
        return None
    total = sum(f.size for f in files)
    done = 0

    def on_read(n: int) -> None:
        nonlocal done
        done += n
        progress(done, total)

    return on_read


def _check_same(corpus_file: CorpusFile, before: _Stamp, after: _Stamp) -> _Stamp:
    """`after`, if the file still has the size and modification time it had; else CorpusError."""
    if after.size != before.size:
        how = "grew" if after.size > before.size else "shrank"
        raise CorpusError(_changed(corpus_file, f"it {how} from {before.size:,} to {after.size:,} bytes"))
    if after.mtime_ns != before.mtime_ns:
        raise CorpusError(_changed(corpus_file, "it was modified"))
    return after


def _changed(corpus_file: CorpusFile, how: str) -> str:
    return (
        f"{corpus_file.path} changed while it was being read ({how}): "
        "train on a copy that nothing is writing to"
    )


def _mib(n: int) -> str:
    return f"{n / 2**20:,.1f} MiB"
