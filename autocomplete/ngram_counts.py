"""Counting the n-grams of a token-id stream in chunks: each chunk's distinct n-grams (packed base-V integer
codes, np.unique), merged into sorted arrays, so that memory is bounded by the distinct n-grams and one chunk,
never by the stream (a memory map of any length)."""

from __future__ import annotations

import numpy as np

from autocomplete import heap

COUNT_CHUNK = 1 << 18  # ids counted at a time: a few MB of int64 codes (and np.unique's copies) per chunk
MOVE_BLOCK = 1 << 16  # merged codes moved to their new places at a time (and its temporaries)
WAIT_RATIO = 8  # a merge waits for new codes 1 / WAIT_RATIO as many as the merged: smaller temporaries


def count_grams(
    ids: np.ndarray, order: int, vocab_size: int, chunk: int = COUNT_CHUNK
) -> list[tuple[np.ndarray, np.ndarray]]:
    """For n = 1 .. order, the distinct n-grams of the stream as sorted base-V codes (first word most
    significant) with their counts, shapes (distinct,) int64. Counted `chunk` ids at a time, each chunk read
    with the next order - 1 ids so that an n-gram across a boundary is counted once, by the chunk where it
    starts; memory is bounded by the distinct n-grams and one chunk, never the stream."""
    if chunk < 1:
        raise ValueError("chunk must be at least 1")
    unigrams = np.zeros(vocab_size, dtype=np.int64)
    merged = [_Merged() for _ in range(2, order + 1)]
    for read in heap.read_once(ids, chunk, order - 1):  # each id read once (twice in the overlap)
        window = np.asarray(read, dtype=np.int64)
        unigrams += np.bincount(window[:chunk], minlength=vocab_size)
        for n, counts in enumerate(merged, start=2):
            counts.add(*_unique_grams(window[: chunk + n - 1], n, vocab_size))
    codes = np.flatnonzero(unigrams).astype(np.int64)
    return [(codes, unigrams[codes]), *(counts.result() for counts in merged)]


class _Merged:
    """Sorted distinct codes with their counts, merged from per-chunk counts. A chunk's codes already merged
    are counted at once; only its new ones wait, so a stream that repeats what it has seen holds nothing more
    than its distinct codes. The new codes wait until they are 1 / WAIT_RATIO as many as the merged ones (so
    each merged code moves a bounded number of times on average: time linear in what is added), are summed
    among themselves, then merged in place: the arrays grow by realloc to exactly what they hold (remapped,
    not copied, once heap.map_big_blocks has run) and the old codes move to their new places from the back, a
    block at a time, so memory stays within about 1 + 1 / WAIT_RATIO times the distinct codes (with the
    waiting ones) plus the sum's and a block's temporaries."""

    def __init__(self) -> None:
        self.codes, self.counts = np.zeros(0, np.int64), np.zeros(0, np.int64)  # the first n are used
        self.n = 0
        self.waiting: list[tuple[np.ndarray, np.ndarray]] = []
        self.size = 0

    def add(self, codes: np.ndarray, counts: np.ndarray) -> None:
        """Count a chunk's distinct sorted codes (k,) int64, with their counts (k,) int64."""
        if self.n:
            pos = np.searchsorted(self.codes[: self.n], codes)
            found = pos < self.n
            found[found] = self.codes[pos[found]] == codes[found]
            self.counts[pos[found]] += counts[found]  # distinct codes: distinct positions
            new = np.logical_not(found, out=found)
            codes, counts = codes[new], counts[new]
        if len(codes):
            self.waiting.append((codes, counts))
            self.size += len(codes)
        if WAIT_RATIO * self.size >= self.n:
            self._merge()

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        self._merge()
        return self.codes, self.counts

    def _merge(self) -> None:
        if not self.waiting:
            return
        codes, counts = _summed(self.waiting)  # which empties the list: the chunks go as they are summed
        self.size, n = 0, self.n
        pos = np.searchsorted(self.codes[:n], codes)  # how many old codes come before each (new) code
        for array in (self.codes, self.counts):  # grown by remapping, with no room to spare (see heap.py)
            array.resize(n + len(codes), refcheck=False)
        for hi in range(n, 0, -MOVE_BLOCK):  # old code i goes to i + (new codes before it); dest >= source
            lo = max(hi - MOVE_BLOCK, 0)
            first, last = np.searchsorted(pos, [lo, hi])  # the new codes going before old codes lo .. hi - 1
            before = first + np.cumsum(np.bincount(pos[first:last] - lo, minlength=hi - lo))
            dest = np.arange(lo, hi) + before
            for array in (self.codes, self.counts):
                array[dest] = array[lo:hi].copy()
        dest = pos + np.arange(len(pos))
        self.codes[dest], self.counts[dest] = codes, counts
        self.n = n + len(codes)
        heap.give_back()  # the chunks' codes and this merge's temporaries


def _summed(parts: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Several (sorted distinct codes, counts) as one, emptying `parts` as soon as they are copied."""
    if len(parts) == 1:
        return parts.pop()
    codes = np.concatenate([c for c, _ in parts])
    counts = np.concatenate([n for _, n in parts])
    parts.clear()
    if not len(codes):
        return codes, counts
    order = np.argsort(codes, kind="stable")
    codes = codes[order]
    counts = counts[order]
    del order
    starts = np.flatnonzero(np.concatenate([[True], codes[1:] != codes[:-1]]))
    return codes[starts], np.add.reduceat(counts, starts)


def _unique_grams(ids: np.ndarray, n: int, vocab_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Distinct n-grams of `ids` (int64) as sorted base-V codes (first word most significant), with counts."""
    if len(ids) < n:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    windows = np.lib.stride_tricks.sliding_window_view(ids, n)
    codes = np.zeros(len(windows), dtype=np.int64)
    for j in range(n):
        codes = codes * vocab_size + windows[:, j]
    return np.unique(codes, return_counts=True)
