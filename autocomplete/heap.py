"""Keeping training's memory to what its arrays hold: freed memory given back to the system (glibc's
`malloc_trim`, big blocks in mappings of their own), and the pages of a memory map read once let go.

glibc keeps freed memory inside its heap unless it lies at the heap's top, so the garbage of one step (the
lines read, a chunk's n-gram codes) would stay in the process under the next step's arrays and add up:
returned between the steps, the peak is that of the largest step alone (benchmarks/results/ngram_memory.md).
Best effort: where the C library has no `malloc_trim` or `mallopt` (macOS, musl), nothing happens.
"""

from __future__ import annotations

import ctypes
import functools
import mmap
from collections.abc import Iterator

import numpy as np

M_MMAP_THRESHOLD = -3  # glibc's malloc.h
MAP_FROM_BYTES = 4 << 20  # blocks this big get a mapping of their own; a chunk's temporaries reuse the heap
_PAGE = mmap.PAGESIZE


def give_back() -> None:
    """Return the free pages of the C heap to the system."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@functools.cache
def map_big_blocks() -> bool:
    """From now on every block of MAP_FROM_BYTES or more gets a mapping of its own (glibc's mallopt), so that
    freeing it returns it to the system at once and growing it remaps it instead of copying; glibc's own
    threshold rises up to 32 MiB as such blocks are freed, after which they fill and fragment the heap. Once
    per process; whether it was set."""
    libc = _libc()
    if libc is None or not hasattr(libc, "gnu_get_libc_version") or not hasattr(libc, "mallopt"):
        return False  # M_MMAP_THRESHOLD's number is glibc's
    return bool(libc.mallopt(M_MMAP_THRESHOLD, MAP_FROM_BYTES))


def drop_pages(array: np.ndarray) -> None:
    """Let the system take back the pages of `array` if it lies in a read-only memory map of a file (np.load's
    mmap_mode="r"; a slice of one, or a view such as dataset.windows' targets): they stay in the page cache
    and come back on the next read, but stop counting in this process's memory. Anything else is left alone
    (on memory of its own this would lose its data)."""
    if not (array.flags.c_contiguous and array.nbytes and _in_read_only_map(array)):
        return
    madvise, advice = _madvise(), getattr(mmap, "MADV_DONTNEED", None)
    if madvise is None or advice is None:
        return
    lo = array.ctypes.data // _PAGE * _PAGE  # whole pages: the mapping starts and ends on page boundaries
    hi = -(-(array.ctypes.data + array.nbytes) // _PAGE) * _PAGE
    madvise(ctypes.c_void_p(lo), ctypes.c_size_t(hi - lo), advice)


def _in_read_only_map(array: np.ndarray) -> bool:
    """Whether `array`'s bytes all lie in the buffer of a read-only np.memmap it is a view of."""
    base = array
    while base is not None and not isinstance(base, np.memmap):
        base = getattr(base, "base", None)  # views chain to what they view (as_strided's through a holder)
    if base is None or base.mode != "r":
        return False
    lo, start = array.ctypes.data, base.ctypes.data
    return start <= lo and lo + array.nbytes <= start + base.nbytes


def read_once(ids: np.ndarray, size: int, overlap: int = 0) -> Iterator[np.ndarray]:
    """ids[start : start + size + overlap] for start = 0, size, 2 size, ...: with a memory map,
    the pages of each chunk let go once it has been used (see drop_pages), and at the end those the
    system mapped again around the next chunk's first read."""
    for start in range(0, len(ids), size):
        yield ids[start : start + size + overlap]
        drop_pages(ids[max(start - size, 0) : start + size + overlap])
    drop_pages(ids)


def _libc():
    try:
        return ctypes.CDLL(None)
    except OSError:
        return None


@functools.cache
def _malloc_trim():
    return getattr(_libc(), "malloc_trim", None)


@functools.cache
def _madvise():
    return getattr(_libc(), "madvise", None)
