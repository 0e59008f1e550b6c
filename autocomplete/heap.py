"""Giving the memory a step of training freed back to the system (glibc's `malloc_trim`).

glibc keeps freed memory inside its heap unless it lies at the heap's top, so the garbage of one step (the
lines read, a chunk's n-gram codes) would stay in the process under the next step's arrays and add up:
returned between the steps, the peak is that of the largest step alone (benchmarks/results/ngram_memory.md).
Best effort: where the C library has no `malloc_trim` (macOS, musl), nothing happens.
"""

from __future__ import annotations

import ctypes
import functools


def give_back() -> None:
    """Return the free pages of the C heap to the system."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@functools.cache
def _malloc_trim():
    try:
        return ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return None
