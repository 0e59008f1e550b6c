"""Which files a training reads: the files given, and the text files found in the directories given.

Inside a directory (read recursively) a file counts as text when it is a regular file, neither it nor a folder
above it (below the directory given) is hidden, its extension is not a known binary one, and its first 64 KiB
are not blank, hold no NUL byte (unless it starts with a UTF-16 byte-order mark) and decode as UTF-8 for at
least 90% of the characters. Files named on the command line are passed on as they are: `corpus.check_file`
says what is wrong with them, since the user asked for them by name. A path that does not exist but holds a
glob pattern (`*`, `?`, `[`: quoted, so the shell left it alone) stands for the paths it matches, sorted, as a
shell would pass them (`**` reaches into folders).
"""

from __future__ import annotations

import codecs
import glob
import os
from collections import Counter
from pathlib import Path

from autocomplete.errors import CorpusError

SNIFF_BYTES = 64 * 1024
MIN_DECODED = 0.9  # the share of characters of the first 64 KiB that must decode as UTF-8

# Skipped without being opened: formats that are never text, however their first bytes look.
BINARY_EXTENSIONS = frozenset(
    """
    png jpg jpeg gif bmp ico webp tif tiff psd heic svgz  mp3 wav flac ogg oga m4a aac opus mid midi
    mp4 m4v mkv avi mov webm wmv flv  zip gz tgz bz2 xz zst lz4 7z rar tar jar war apk deb rpm dmg iso img
    pdf doc docx xls xlsx ppt pptx odt ods odp epub  exe dll so dylib o a lib obj bin class pyc pyo wasm
    ttf otf woff woff2 eot  sqlite sqlite3 db  npy npz h5 hdf5 keras pkl pickle pt pth onnx safetensors
    parquet
    """.split()
)

# Reasons a file inside a directory was skipped, as counted and shown to the user.
HIDDEN = "hidden"
HIDDEN_FOLDER = "hidden folder"
NOT_REGULAR = "not a regular file"
LINKED_FOLDER = "link to a folder"
BINARY_EXTENSION = "binary extension"
EMPTY = "empty"
NUL_BYTES = "binary (NUL bytes)"
NOT_UTF8 = "not UTF-8"
UNREADABLE = "unreadable"
DUPLICATE = "listed twice"


def expand(paths: list[Path]) -> tuple[list[Path], dict[str, int]]:
    """The files to read, in order: each path given as it is unless it is a directory, which becomes its
    text files sorted by their path inside it; a file reached twice is read once. Also how many files were
    skipped, by reason. A directory with no text file in it raises CorpusError."""
    files: list[Path] = []
    skipped: Counter[str] = Counter()
    seen: set[Path] = set()
    for path in (p for given in map(Path, paths) for p in _matches(given)):
        found = _text_files(path, skipped) if path.is_dir() else [path]
        for file in found:
            key = file.resolve()
            if key in seen:
                skipped[DUPLICATE] += 1
                continue
            seen.add(key)
            files.append(file)
    return files, dict(sorted(skipped.items()))


def _matches(path: Path) -> list[Path]:
    """[path], or the paths a glob pattern matches when no such path exists; none raises CorpusError."""
    if path.exists() or path.is_symlink() or not glob.has_magic(str(path)):
        return [path]
    matches = sorted(glob.glob(str(path), recursive=True))
    if not matches:
        raise CorpusError(f"no file matches {path}: check the pattern")
    return [Path(m) for m in matches]


def describe(skipped: dict[str, int]) -> str:
    """'5 skipped: 3 binary extension, 2 hidden' (or '0 skipped')."""
    total = sum(skipped.values())
    if not total:
        return "0 skipped"
    return f"{total} skipped: " + ", ".join(f"{n} {reason}" for reason, n in skipped.items())


def _text_files(folder: Path, skipped: Counter[str]) -> list[Path]:
    """The text files under `folder`, recursively, sorted; what is not text is counted in `skipped`."""
    found, here = [], Counter()
    for root, dirs, names in os.walk(folder, onerror=lambda e: here.update([UNREADABLE])):
        here[HIDDEN_FOLDER] += sum(d.startswith(".") for d in dirs)
        linked = {d for d in dirs if not d.startswith(".") and Path(root, d).is_symlink()}
        here[LINKED_FOLDER] += len(linked)  # not followed: a link may loop back
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in linked)
        for name in names:
            path = Path(root, name)
            reason = HIDDEN if name.startswith(".") else why_not_text(path)
            if reason is None:
                found.append(path)
            else:
                here[reason] += 1
    here = +here  # drop the reasons counted zero times
    skipped.update(here)
    if not found:
        counted = describe(dict(sorted(here.items()))) if here else "it is empty"
        raise CorpusError(f"{folder} has no text files ({counted}): give files or a folder of UTF-8 text")
    return sorted(found, key=lambda p: p.parts)


def why_not_text(path: Path) -> str | None:
    """None if `path` is a text file by this module's rule, else the reason it is not."""
    if not path.is_file():  # follows a link to a file; a broken link, a FIFO or a socket is not one
        return NOT_REGULAR
    if path.suffix[1:].lower() in BINARY_EXTENSIONS:
        return BINARY_EXTENSION
    try:
        with path.open("rb") as f:
            head = f.read(SNIFF_BYTES)
    except OSError:
        return UNREADABLE
    if not head.strip():
        return EMPTY
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return None
    if b"\x00" in head:
        return NUL_BYTES
    sample = head.decode("utf-8", errors="replace")
    if len(head) == SNIFF_BYTES:  # the cut may split a character: ignore the last few
        sample = sample[:-3]
    return NOT_UTF8 if sample.count("\ufffd") > (1 - MIN_DECODED) * len(sample) else None
