"""Reading corpus files: checked, streamed line by line, decoded as UTF-8 with bad bytes counted."""

from __future__ import annotations

import codecs
import hashlib
import os
import stat
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from autocomplete import heap
from autocomplete.errors import CorpusError
from autocomplete.text import BOUNDARY, tokenize_lines

_SNIFF_BYTES = 64 * 1024
_CHUNK = 1 << 20
GIVE_BACK_EVERY = 1 << 20  # bytes read between two heap.give_back(): glibc keeps the decoded lines' memory


@dataclass
class CorpusFile:
    """One checked corpus file; `sha256` and `replaced` (bad bytes) are filled in as it is read."""

    path: Path
    size: int
    encoding: str
    sha256: str = ""
    replaced: int = 0

    @property
    def name(self) -> str:
        return self.path.name


def check_file(path: Path) -> CorpusFile:
    """Refuse anything that is not a readable, non-empty text file (of any size: it is streamed)."""
    if not path.exists():
        raise CorpusError(f"corpus file not found: {path}")
    if path.is_dir():
        raise CorpusError(f"{path} is a directory: give the text files inside it instead")
    try:
        info = path.stat()  # never opens: opening a FIFO with no writer would wait for one
    except OSError as e:
        raise CorpusError(f"cannot read {path}: {e.strerror or e}") from None
    if not stat.S_ISREG(info.st_mode):
        raise CorpusError(
            f"{path} is not a regular file (a pipe, a device or a socket): training reads its corpus twice, "
            "so save the text to a file first (e.g. `head -300 f > part.txt`)"
        )
    try:
        size = info.st_size
        with path.open("rb") as f:
            head = f.read(_SNIFF_BYTES)
    except OSError as e:
        raise CorpusError(f"cannot read {path}: {e.strerror or e}") from None
    if size == 0 or not head.strip():
        raise CorpusError(f"{path} is empty: give a text file with some words in it")
    encoding = _sniff_encoding(path, head)
    return CorpusFile(path, size, encoding)


def _sniff_encoding(path: Path, head: bytes) -> str:
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if b"\x00" in head:
        raise CorpusError(f"{path} is not a text file (it contains NUL bytes): give a UTF-8 text file")
    sample = head.decode("utf-8", errors="replace")
    if len(head) == _SNIFF_BYTES:  # the cut may split a character: ignore the last few bytes
        sample = sample[:-3]
    if sample.count("\ufffd") > 0.1 * max(len(sample), 1):
        raise CorpusError(f"{path} is not UTF-8 text (most of it does not decode): convert it to UTF-8 first")
    return "utf-8"


def distinct(paths: list[Path]) -> tuple[list[Path], list[str]]:
    """The paths with every file given more than once (the same file, by device and inode) kept once, and
    a note for each such file; paths that cannot be stat'ed are kept for check_file to report."""
    seen: dict[tuple[int, int], Path] = {}
    kept, times = [], Counter()
    for path in paths:
        try:
            info = os.stat(path)
        except OSError:
            kept.append(path)
            continue
        key = (info.st_dev, info.st_ino)
        times[key] += 1
        if key not in seen:
            seen[key] = path
            kept.append(path)
    notes = [
        f"{seen[key]} given {'twice' if n == 2 else f'{n} times'}: read once"
        for key, n in times.items()
        if n > 1
    ]
    return kept, notes


def read_lines(corpus_file: CorpusFile, on_read: Callable[[int], None] | None = None) -> Iterator[str]:
    """The file's lines, decoded; counts replaced bytes and computes the sha256 as it goes, and tells
    `on_read` how many bytes each chunk held; memory stays that of a few chunks, whatever the file's size."""
    digest = hashlib.sha256()
    decoder = codecs.getincrementaldecoder(corpus_file.encoding)(errors="replace")
    replaced, pending, unreturned = 0, "", 0
    try:
        with corpus_file.path.open("rb") as f:
            while chunk := f.read(_CHUNK):
                digest.update(chunk)
                unreturned += len(chunk)
                if unreturned >= GIVE_BACK_EVERY:  # else the freed heap grows with the text read
                    heap.give_back()
                    unreturned = 0
                if on_read is not None:
                    on_read(len(chunk))
                decoded = decoder.decode(chunk)
                replaced += decoded.count("\ufffd")
                lines = (pending + decoded).split("\n")
                pending = lines.pop()
                yield from lines
            tail = decoder.decode(b"", final=True)
            replaced += tail.count("\ufffd")
            yield pending + tail
    except OSError as e:
        raise CorpusError(f"cannot read {corpus_file.path}: {e.strerror or e}") from None
    corpus_file.sha256 = digest.hexdigest()
    corpus_file.replaced = replaced


def read_tokens(files: list[CorpusFile], on_read: Callable[[int], None] | None = None) -> Iterator[str]:
    """All the files' tokens in order; each file ends with a boundary so sentences never run across files."""
    for corpus_file in files:
        last = BOUNDARY
        for last in tokenize_lines(read_lines(corpus_file, on_read)):
            yield last
        if last != BOUNDARY:
            yield BOUNDARY
