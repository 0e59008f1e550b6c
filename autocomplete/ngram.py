"""Interpolated Kneser-Ney n-gram model, over the same token ids as the LSTM.

p(w | ctx) = max(c(ctx w) - d, 0) / c(ctx) + d * N1+(ctx .) / c(ctx) * p(w | ctx[1:])
where c() are raw counts at the highest order and continuation counts N1+(. ctx w) below it, and the
lowest order is the continuation unigram N1+(. w) / N1+(. .). With one discount d (0.75, the benchmark's
baseline) this is nltk's KneserNeyInterpolated (tests hold them equal), computed for the whole vocabulary
at once, except that it stays normalised where nltk does not (see _group).

`discount=None` fits modified Kneser-Ney (Chen & Goodman 1998): three discounts per order, for counts of
1, 2 and 3+, estimated from the counts of counts; the back-off weight becomes sum(d(c)) / c(ctx). On the
Shakespeare validation part it beat d=0.75 alone (perplexity 357 vs 387) and in the hybrid.

The counts are taken in chunks of the stream (a memory map of any length) and merged, so memory is bounded by
the distinct n-grams. `prune` drops the rarest n-grams, their mass going to the shorter context.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MAX_ORDER = 4  # context keys are base-V numbers in an int64: V**3 must fit
COUNT_CHUNK = 1 << 20  # ids counted at a time: a few tens of MB of int64 codes per chunk


@dataclass(frozen=True)
class _Level:
    """The followers of every context of one length, grouped by context (sorted by key)."""

    keys: np.ndarray  # (contexts,) int64 context keys, sorted
    starts: np.ndarray  # (contexts + 1,) int64 offsets into ids/vals
    ids: np.ndarray  # (pairs,) int32 follower word ids
    vals: np.ndarray  # (pairs,) float64 counts (raw at the top level, continuation below)
    totals: np.ndarray  # (contexts,) float64 sum of vals per context


class KneserNey:
    """Call `next_word_probs(context_ids)` for p(. | context) over the whole vocabulary, shape (V,)."""

    def __init__(self, vocab_size: int, order: int, discounts: np.ndarray, unigram: np.ndarray,
                 levels: list[_Level]):  # fmt: skip
        self.vocab_size, self.order = vocab_size, order
        # (order - 1, 4): row m - 1 is level m's discount for a count of 0, 1, 2 and 3 or more (0 for 0).
        self.discounts = np.asarray(discounts, dtype=np.float64)
        self.unigram = unigram  # (V,) continuation unigram probabilities
        self.levels = levels  # levels[m - 1] holds contexts of m words, m = 1 .. order - 1
        # Per level, computed once (not per keystroke): each pair's discounted count, and each context's
        # total discount, which is the mass it leaves to the shorter context. A follower with a zero
        # continuation count (an n-gram seen only at the very start of the stream) is discounted 0, so
        # every distribution sums to one; nltk discounts it too, and differs there alone.
        self._kept, self._left = [], []
        for level, discounts in zip(levels, self.discounts, strict=True):
            d = discounts[np.minimum(level.vals, 3).astype(np.intp)]
            self._kept.append(np.maximum(level.vals - d, 0.0))
            starts = level.starts[:-1]
            left = np.zeros(0)
            if len(level.vals):  # plus what pruning took from each context (0 where nothing was pruned)
                pruned = level.totals - np.add.reduceat(level.vals, starts)
                left = np.add.reduceat(np.minimum(d, level.vals), starts) + pruned
            self._left.append(left)

    @classmethod
    def fit(
        cls,
        ids: np.ndarray,
        vocab_size: int,
        order: int = 3,
        discount: float | None = 0.75,
        prune: int | tuple[int, ...] = 0,
        chunk: int = COUNT_CHUNK,
    ) -> KneserNey:
        """Count the n-grams of a token-id stream, shape (T,) (any array, a memory map too: it is read `chunk`
        ids at a time); `discount=None`: modified Kneser-Ney. `prune` drops rare n-grams (see _thresholds)."""
        if not 2 <= order <= MAX_ORDER:
            raise ValueError(f"order must be 2..{MAX_ORDER}")
        thresholds = _thresholds(prune, order)
        grams = count_grams(ids, order, vocab_size, chunk)  # (codes, counts) by n
        bigram_codes = grams[1][0]
        cont_unigram = np.bincount(bigram_codes % vocab_size, minlength=vocab_size).astype(np.float64)
        unigram = cont_unigram / max(cont_unigram.sum(), 1.0)
        levels = []
        for n in range(2, order + 1):  # n-grams whose context has n - 1 words
            codes, counts = grams[n - 1]
            if n < order:  # continuation counts: distinct words seen before each n-gram
                higher = grams[n][0] % vocab_size**n
                suffixes, cont = np.unique(higher, return_counts=True)
                suffixes = np.append(suffixes, np.iinfo(np.int64).max)  # past every code, so never empty
                pos = np.searchsorted(suffixes, codes)
                counts = np.where(suffixes[pos] == codes, np.append(cont, 0)[pos], 0)
            levels.append(_group(codes, counts.astype(np.float64), vocab_size))
        if discount is None:  # from the counts of counts before pruning, which removes the rarest
            discounts = [[0.0, *_chen_goodman(level.vals)] for level in levels]
        else:
            discounts = [[0.0, discount, discount, discount]] * len(levels)
        levels = [
            _pruned(level, grams[n - 1][1] > threshold) if threshold else level
            for n, level, threshold in zip(range(2, order + 1), levels, thresholds, strict=True)
        ]
        return cls(vocab_size, order, np.array(discounts), unigram, levels)

    def next_word_probs(self, context_ids) -> np.ndarray:
        """p(. | context), shape (V,), float32; the context's last order-1 ids are used."""
        probs = self.unigram.astype(np.float32)  # a fresh copy, in the predictor's precision
        context = [int(i) for i in context_ids][-(self.order - 1) :] if self.order > 1 else []
        levels = zip(self.levels, self._kept, self._left, strict=True)
        for m, (level, kept, left) in enumerate(levels, start=1):
            if m > len(context):
                break
            key = 0
            for word_id in context[-m:]:
                key = key * self.vocab_size + word_id
            row = np.searchsorted(level.keys, key)
            if row == len(level.keys) or level.keys[row] != key or level.totals[row] == 0:
                continue  # an unseen context adds nothing: alpha = 0, gamma = 1
            lo, hi = level.starts[row], level.starts[row + 1]
            total = level.totals[row]
            probs *= left[row] / total  # one discount d <= 1: d * (followers with a count) / total
            probs[level.ids[lo:hi]] += kept[lo:hi] / total
        return probs

    def to_arrays(self) -> dict[str, np.ndarray]:
        arrays = {"meta": np.array([self.vocab_size, self.order]), "discounts": self.discounts,
                  "unigram": self.unigram}  # fmt: skip
        for m, level in enumerate(self.levels, start=1):
            for name in _Level.__dataclass_fields__:
                arrays[f"l{m}_{name}"] = getattr(level, name)
        return arrays

    @classmethod
    def from_arrays(cls, arrays) -> KneserNey:
        vocab_size, order = arrays["meta"][:2]
        levels = [
            _Level(**{name: arrays[f"l{m}_{name}"] for name in _Level.__dataclass_fields__})
            for m in range(1, int(order))
        ]
        discounts = np.asarray(arrays["discounts"], dtype=np.float64)
        if discounts.shape != (len(levels), 4):
            raise ValueError("ngram.npz's discounts do not fit its order")
        return cls(int(vocab_size), int(order), discounts, arrays["unigram"], levels)


def _chen_goodman(vals: np.ndarray) -> tuple[float, float, float]:
    """Modified Kneser-Ney's discounts for counts 1, 2, 3+ from the counts of counts n1..n4 of one order:
    Y = n1 / (n1 + 2 n2), D_c = c - (c + 1) Y n_(c+1) / n_c, kept within [0, c] (and 0.75 if a count of
    counts is missing, as on a tiny text)."""
    n = [float((vals == c).sum()) for c in (1, 2, 3, 4)]
    if min(n) == 0:
        return 0.75, 0.75, 0.75
    y = n[0] / (n[0] + 2 * n[1])
    return tuple(float(np.clip(c - (c + 1) * y * n[c] / n[c - 1], 0.0, c)) for c in (1, 2, 3))


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
    for start in range(0, len(ids), chunk):
        window = np.asarray(ids[start : start + chunk + order - 1], dtype=np.int64)
        unigrams += np.bincount(window[:chunk], minlength=vocab_size)
        for n, counts in enumerate(merged, start=2):
            counts.add(*_unique_grams(window[: chunk + n - 1], n, vocab_size))
    codes = np.flatnonzero(unigrams).astype(np.int64)
    return [(codes, unigrams[codes]), *(counts.result() for counts in merged)]


class _Merged:
    """Sorted distinct codes with their counts, merged from per-chunk counts. The chunks wait until they hold
    as many codes as the merged ones, so each code is merged a bounded number of times on average (time linear
    in what is added) and memory stays within about twice the distinct codes plus a chunk."""

    def __init__(self) -> None:
        self.codes, self.counts = np.zeros(0, np.int64), np.zeros(0, np.int64)
        self.waiting: list[tuple[np.ndarray, np.ndarray]] = []
        self.size = 0

    def add(self, codes: np.ndarray, counts: np.ndarray) -> None:
        self.waiting.append((codes, counts))
        self.size += len(codes)
        if self.size >= len(self.codes):
            self._merge()

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        self._merge()
        return self.codes, self.counts

    def _merge(self) -> None:
        if not self.waiting:
            return
        codes = np.concatenate([self.codes, *(c for c, _ in self.waiting)])
        counts = np.concatenate([self.counts, *(n for _, n in self.waiting)])
        self.waiting, self.size = [], 0
        if not len(codes):
            return
        order = np.argsort(codes, kind="stable")
        codes, counts = codes[order], counts[order]
        starts = np.flatnonzero(np.concatenate([[True], codes[1:] != codes[:-1]]))
        self.codes, self.counts = codes[starts], np.add.reduceat(counts, starts)


def _unique_grams(ids: np.ndarray, n: int, vocab_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Distinct n-grams of `ids` (int64) as sorted base-V codes (first word most significant), with counts."""
    if len(ids) < n:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    windows = np.lib.stride_tricks.sliding_window_view(ids, n)
    codes = np.zeros(len(windows), dtype=np.int64)
    for j in range(n):
        codes = codes * vocab_size + windows[:, j]
    return np.unique(codes, return_counts=True)


def _thresholds(prune: int | tuple[int, ...], order: int) -> tuple[int, ...]:
    """Per order 2 .. order, the count at or below which an n-gram is dropped (KenLM's --prune; unigrams are
    never pruned): a tuple gives one per order, an int the highest order's alone (1: drop its singletons)."""
    thresholds = (0,) * (order - 2) + (prune,) if isinstance(prune, int) else tuple(prune)
    if len(thresholds) != order - 1 or min(thresholds) < 0:
        raise ValueError(f"prune takes {order - 1} counts of 0 or more, one per order 2..{order}")
    return thresholds


def _pruned(level: _Level, keep: np.ndarray) -> _Level:
    """The level without the pairs not kept, (pairs,) bool. Each context keeps its total, so the mass of
    its pruned followers goes to the shorter context (KneserNey.__init__'s `pruned`) and every distribution
    still sums to one; a context left without followers goes, which backs off the same way."""
    counts_left = np.add.reduceat(keep.astype(np.int64), level.starts[:-1]) if len(keep) else keep
    has = counts_left > 0
    return _Level(
        keys=level.keys[has],
        starts=np.concatenate([[0], np.cumsum(counts_left[has])]).astype(np.int64),
        ids=level.ids[keep],
        vals=level.vals[keep],
        totals=level.totals[has],
    )


def _group(codes: np.ndarray, vals: np.ndarray, vocab_size: int) -> _Level:
    """Group sorted n-gram codes by their context (code // V)."""
    contexts = codes // vocab_size
    keys, starts = np.unique(contexts, return_index=True)
    totals = np.add.reduceat(vals, starts) if len(vals) else np.zeros(0)
    return _Level(
        keys=keys,
        starts=np.append(starts, len(codes)).astype(np.int64),
        ids=(codes % vocab_size).astype(np.int32),
        vals=vals,
        totals=totals.astype(np.float64),
    )
