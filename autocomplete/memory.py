"""The personal memory: everything the user taught a model, kept across sessions and retraining.

It lives in $AUTOCOMPLETE_HOME/memory/NAME/ (outside the model folder, so `train --force` of the same name
keeps it), folder mode 0700:
- memory.txt (0600): the learned text as the user can read it, one learned unit per line: a REPL line, or a
  paragraph of a learned file (its lines joined by spaces); secrets are cut out before anything is written
  (where one stood, the line is split in two). This file is the truth; everything else is rebuilt from it.
- counts.npz (0600): its token stream, a cache (tokenizing 100k words takes ~0.2 s; loading this, ms). It
  records how many bytes of memory.txt it covers and their sha256, so a line appended since is tokenized on
  load and a hand-edited file is read afresh.
- .lock: every change holds an exclusive flock on it (readers a shared one). Appends open memory.txt under
  the lock, so two processes learning at once keep both lines, and a rewrite (forget) is a temp file renamed
  over it under the same lock.

The counts are those of the stream a corpus would give: each unit starts after a sentence boundary and ends
with one.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from autocomplete import store
from autocomplete.errors import StoreError
from autocomplete.secrets import is_clean, safe_pieces
from autocomplete.text import BOUNDARY, MARKERS, tokenize_line
from autocomplete.vocab import Vocabulary
from autocomplete.wordcounts import Counts, Lexicon, learnable

MEMORY_FILE, COUNTS_FILE, LOCK_FILE = "memory.txt", "counts.npz", ".lock"
REFRESH_BYTES = 64 * 1024  # text beyond what counts.npz covers that makes a load write it again


def memory_dir(name: str) -> Path:
    return store.home() / "memory" / store.check_name(name)


@contextlib.contextmanager
def _locked(name: str, exclusive: bool) -> Iterator[Path]:
    """The memory's folder (created for a writer), with its lock held."""
    folder = memory_dir(name)
    try:
        if exclusive:
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(folder / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as e:
        raise StoreError(f"cannot use the memory of {name!r} in {folder}: {e.strerror or e}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield folder
    finally:
        os.close(fd)


def _write_error(name: str, e: OSError) -> StoreError:
    return StoreError(f"cannot write the memory of {name!r}: {e.strerror or e}; nothing was learned")


def learn_line(name: str, line: str) -> int:
    """Learn one line (a REPL line); returns the words learned (0 if nothing was left after the filter)."""
    units = [p.strip() for part in line.splitlines() for p in safe_pieces(part)]
    learn_units(name, units)
    return sum(t != BOUNDARY for u in units for t, _ in learnable(u))


def learn_units(name: str, units: list[str]) -> int:
    """Append units of text (already through the secret filter, one line each) to the memory; returns how
    many were written."""
    units = [u for u in units if u.strip()]
    if not units:
        return 0
    data = "".join(u + "\n" for u in units).encode("utf-8")
    try:
        with _locked(name, exclusive=True) as folder:
            _append(folder / MEMORY_FILE, data)
    except OSError as e:
        raise _write_error(name, e) from None
    return len(units)


def _append(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":  # a line cut short by a crash: never glue onto it
            data = b"\n" + data
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass(frozen=True)
class Learned:
    units: int  # lines written to memory.txt
    words: int


def learn_file(name: str, path: Path, progress=None) -> Learned:
    """Learn a document: same checks as `train` (CorpusError); `progress(bytes_read)` is called as it goes.
    Paragraphs become units; a line the filter cut breaks its paragraph there."""
    from autocomplete.corpus import check_file, read_lines  # `learn` only: not on the REPL's start

    corpus_file = check_file(Path(path))
    before = words_learned(name)
    units, done = [], 0
    for unit in _paragraphs(read_lines(corpus_file), progress):
        units.append(unit)
        if len(units) >= 2000:
            done, units = done + learn_units(name, units), []
    done += learn_units(name, units)
    after = words_learned(name)  # also brings counts.npz up to date for the next reader
    return Learned(done, after - before)


def _paragraphs(lines: Iterable[str], progress=None) -> Iterator[str]:
    """The units of a document: its paragraphs; the pieces of a line the filter cut stand alone."""
    paragraph: list[str] = []
    seen = 0
    for line in lines:
        seen += len(line.encode("utf-8", errors="replace")) + 1
        if progress is not None:
            progress(seen)
        if line.strip() and is_clean(line):
            paragraph.append(line.strip())
            continue
        if paragraph:
            yield " ".join(paragraph)
            paragraph = []
        yield from (p.strip() for p in safe_pieces(line))
    if paragraph:
        yield " ".join(paragraph)


def load(name: str, lexicon: Lexicon) -> Counts:
    """The memory's counts over `lexicon` (empty when there is no memory yet)."""
    folder = memory_dir(name)
    if not (folder / MEMORY_FILE).is_file():
        return Counts(lexicon)
    try:
        with _locked(name, exclusive=False):
            data = (folder / MEMORY_FILE).read_bytes()
            cached = _read_counts(folder / COUNTS_FILE, data)
    except OSError as e:
        raise StoreError(f"cannot read the memory of {name!r} in {folder}: {e.strerror or e}") from None
    words, display, stream, covered = cached or ([], [], np.zeros(0, np.int64), 0)
    table = {w: i for i, w in enumerate(words)}
    tail = [int(stream[-1])] if len(stream) else []  # the last id, so units join on one boundary
    for line in data[covered:].decode("utf-8", errors="replace").splitlines():
        _add_unit(line, words, display, table, tail)
    stream = np.concatenate([stream, np.array(tail[1:] if len(stream) else tail, dtype=np.int64)])
    if len(data) - covered > REFRESH_BYTES:
        _write_counts(folder / COUNTS_FILE, words, display, stream, data)
    mapping = lexicon.intern_all(words, display)
    return Counts.from_stream(lexicon, mapping[stream] if len(stream) else stream)


def _add_unit(line: str, words: list, display: list, table: dict, stream: list) -> None:
    """Append one memory line's tokens to the stream (memory-local ids): boundary, its words, boundary."""
    pairs = learnable(line)  # again: a hand-edited memory.txt may hold what the filter never let through
    if not pairs:
        return
    ids = []
    for token, surface in [(BOUNDARY, BOUNDARY), *pairs, (BOUNDARY, BOUNDARY)]:
        i = table.get(token)
        if i is None:
            i = table[token] = len(words)
            words.append(token)
            display.append(surface)
        ids.append(i)
    if stream and stream[-1] == ids[0]:
        ids = ids[1:]
    stream.extend(ids[:-1] if ids[-1] == ids[-2] else ids)


def _read_counts(path: Path, data: bytes) -> tuple[list, list, np.ndarray, int] | None:
    """counts.npz's (words, display forms, stream, bytes covered) if it describes a prefix of `data`."""
    try:
        with np.load(path, allow_pickle=False) as arrays:
            covered = int(arrays["covered"])
            if covered > len(data) or bytes(arrays["digest"]) != hashlib.sha256(data[:covered]).digest():
                return None
            words = bytes(arrays["words"]).decode("utf-8").split("\n")
            display = bytes(arrays["display"]).decode("utf-8").split("\n")
            stream = np.asarray(arrays["stream"], dtype=np.int64)
    except (OSError, ValueError, KeyError, EOFError):
        return None
    if len(words) != len(display) or (len(stream) and not 0 <= stream.min() <= stream.max() < len(words)):
        return None
    return words, display, stream, covered


def _write_counts(path: Path, words: list, display: list, stream: list, data: bytes) -> None:
    """Best effort (a cache): temp file + rename, so a reader sees the old one or the new one."""
    try:
        fd, temp = tempfile.mkstemp(prefix=".counts-", suffix=".npz", dir=path.parent)  # mode 0600
        with os.fdopen(fd, "wb") as f:
            np.savez(f, words=np.frombuffer("\n".join(words).encode(), np.uint8),
                     display=np.frombuffer("\n".join(display).encode(), np.uint8),
                     stream=np.asarray(stream, np.int32), covered=np.array(len(data)),
                     digest=np.frombuffer(hashlib.sha256(data).digest(), np.uint8))  # fmt: skip
        os.replace(temp, path)
    except OSError:
        with contextlib.suppress(OSError, UnboundLocalError):
            os.unlink(temp)


def forget(name: str, words: Iterable[str]) -> int:
    """Remove every memory line holding one of `words` (so no n-gram of them is left); returns how many."""
    gone = {t for w in words for t in tokenize_line(w) if t != BOUNDARY}
    folder = memory_dir(name)
    if not gone or not (folder / MEMORY_FILE).is_file():
        return 0
    try:
        with _locked(name, exclusive=True):
            lines = (folder / MEMORY_FILE).read_bytes().decode("utf-8", errors="replace").splitlines()
            kept = [line for line in lines if gone.isdisjoint(tokenize_line(line))]
            if len(kept) == len(lines):
                return 0
            fd, temp = tempfile.mkstemp(prefix=".memory-", dir=folder)
            with os.fdopen(fd, "wb") as f:
                f.write("".join(line + "\n" for line in kept).encode("utf-8"))
                f.flush()
                os.fsync(f.fileno())
            os.replace(temp, folder / MEMORY_FILE)
            with contextlib.suppress(FileNotFoundError):
                (folder / COUNTS_FILE).unlink()
    except OSError as e:
        raise StoreError(
            f"cannot rewrite the memory of {name!r}: {e.strerror or e}; nothing was forgotten"
        ) from None
    return len(lines) - len(kept)


def forget_all(name: str) -> None:
    """Empty the memory: its text and its counts go (the folder and its lock stay)."""
    if not memory_dir(name).is_dir():
        return
    try:
        with _locked(name, exclusive=True) as folder:
            for file in (MEMORY_FILE, COUNTS_FILE):
                with contextlib.suppress(FileNotFoundError):
                    (folder / file).unlink()
    except OSError as e:
        raise StoreError(f"cannot empty the memory of {name!r}: {e.strerror or e}") from None


def words_learned(name: str) -> int:
    """How many words the memory holds (for `autocomplete models`)."""
    return load(name, Lexicon(Vocabulary(MARKERS))).words()
