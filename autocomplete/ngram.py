"""Interpolated Kneser-Ney n-gram model, over the same token ids as the LSTM.

p(w | ctx) = max(c(ctx w) - d, 0) / c(ctx) + d * N1+(ctx .) / c(ctx) * p(w | ctx[1:])
where c() are raw counts at the highest order and continuation counts N1+(. ctx w) below it, and the
lowest order is the continuation unigram N1+(. w) / N1+(. .). With one discount d (0.75, the benchmark's
baseline) this is nltk's KneserNeyInterpolated (tests hold them equal), computed for the whole vocabulary
at once, except that it stays normalised where nltk does not (see KneserNey.__init__).

`discount=None` fits modified Kneser-Ney (Chen & Goodman 1998): three discounts per order, for counts of
1, 2 and 3+, estimated from the counts of counts; the back-off weight becomes sum(d(c)) / c(ctx). On the
Shakespeare validation part it beat d=0.75 alone (perplexity 357 vs 387) and in the hybrid.

The counts are taken in chunks of the stream (a memory map of any length) and merged (ngram_counts.py), so
memory is bounded by the distinct n-grams; the levels are built from them a block at a time. `prune` drops
the rarest n-grams, their mass going to the shorter context.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from autocomplete import heap
from autocomplete.ngram_counts import COUNT_CHUNK, count_grams

MAX_ORDER = 4  # context keys are base-V numbers in an int64: V**3 must fit
_PAIRS = 1 << 16  # pairs of a level computed on at a time where a pass over all of them needs temporaries


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
        # Per level: each pair's discounted count (computed for the one context looked up), and each
        # context's total discount, computed once, which is the mass it leaves to the shorter context. A
        # follower with a zero continuation count (an n-gram seen only at the very start of the stream) is
        # discounted 0, so every distribution sums to one; nltk discounts it too, and differs there alone.
        self._kept = [Kept(level.vals, d) for level, d in zip(levels, self.discounts, strict=True)]
        self._left = [_left(level, d) for level, d in zip(levels, self.discounts, strict=True)]

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
        heap.give_back()  # what the caller freed, before the counts grow over it
        grams = count_grams(ids, order, vocab_size, chunk)  # (codes, counts) by n
        heap.give_back()  # the chunks' codes, before the levels are built
        cont_unigram = np.bincount(grams[1][0] % vocab_size, minlength=vocab_size).astype(np.float64)
        unigram = cont_unigram / max(cont_unigram.sum(), 1.0)
        levels, discounts = [], []
        for n, threshold in zip(range(2, order + 1), thresholds, strict=True):  # contexts of n - 1 words
            codes, raw = grams[n - 1]
            grams[n - 1] = None  # made into the level below: its memory goes before the next order's
            keep = raw > threshold if threshold else None  # pruning keeps the n-grams seen more often
            # Raw counts at the top; below, continuation counts: how many distinct words come before.
            vals = _continuation(codes, grams[n][0], vocab_size**n) if n < order else raw
            del raw
            keys, starts, followers = _group(codes, vocab_size)
            del codes  # before the totals are made: the codes are the largest array but the counts
            vals = _as_float(vals)
            totals = np.add.reduceat(vals, starts[:-1]) if len(vals) else np.zeros(0)
            # Modified KN's discounts come from the counts of counts before pruning, which removes the rarest.
            discounts.append([0.0, *(_chen_goodman(vals) if discount is None else (discount,) * 3)])
            level = {"keys": keys, "starts": starts, "ids": followers, "vals": vals, "totals": totals}
            del keys, starts, followers, vals, totals  # the dict alone holds them: pruning replaces each
            if threshold:
                _prune(level, keep)
            levels.append(_Level(**level))
            del level, keep
            heap.give_back()
        del grams
        model = cls(vocab_size, order, np.array(discounts), unigram, levels)
        heap.give_back()  # the last counts and the temporaries of building the model
        return model

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


class Kept:
    """A level's discounted counts max(c - d(c), 0) per pair, computed for the slice asked for, so no array
    of them is held (or, memory-mapped, read) whole."""

    def __init__(self, vals: np.ndarray, discounts: np.ndarray):
        self.vals, self.discounts = vals, discounts

    def __len__(self) -> int:
        return len(self.vals)

    def __getitem__(self, pairs: slice) -> np.ndarray:
        vals = np.asarray(self.vals[pairs])
        return np.maximum(vals - self.discounts[np.minimum(vals, 3).astype(np.intp)], 0.0)


def _left(level: _Level, discounts: np.ndarray) -> np.ndarray:
    """Per context (contexts,): the total discount of its followers plus what pruning took from it, summed
    over blocks of about _PAIRS pairs (each context's sum as one np.add.reduceat over all the pairs gives)."""
    left = np.zeros(len(level.keys))
    if not len(level.vals):
        return left
    starts = np.asarray(level.starts)
    first = 0
    while first < len(left):
        last = max(int(np.searchsorted(starts, starts[first] + _PAIRS, side="right")) - 1, first + 1)
        last = min(last, len(left))
        lo, hi = int(starts[first]), int(starts[last])
        vals, offsets = np.asarray(level.vals[lo:hi]), starts[first:last] - lo
        d = discounts[np.minimum(vals, 3).astype(np.intp)]
        pruned = level.totals[first:last] - np.add.reduceat(vals, offsets)  # 0 where nothing was pruned
        left[first:last] = np.add.reduceat(np.minimum(d, vals), offsets) + pruned
        first = last
    return left


def _continuation(codes: np.ndarray, higher: np.ndarray, modulus: int) -> np.ndarray:
    """N1+(. g) for each n-gram code g (sorted, (k,)): how many of the distinct (n+1)-gram codes `higher` end
    in g (their code % modulus), counted a chunk of them at a time; (k,) int64."""
    counts = np.zeros(len(codes), dtype=np.int64)
    for start in range(0, len(higher), _PAIRS):
        suffixes = np.sort(higher[start : start + _PAIRS] % modulus)  # each one is in codes; sorted: faster
        counts += np.bincount(np.searchsorted(codes, suffixes), minlength=len(codes))
    return counts


def _chen_goodman(vals: np.ndarray) -> tuple[float, float, float]:
    """Modified Kneser-Ney's discounts for counts 1, 2, 3+ from the counts of counts n1..n4 of one order:
    Y = n1 / (n1 + 2 n2), D_c = c - (c + 1) Y n_(c+1) / n_c, kept within [0, c] (and 0.75 if a count of
    counts is missing, as on a tiny text)."""
    n = [float((vals == c).sum()) for c in (1, 2, 3, 4)]
    if min(n) == 0:
        return 0.75, 0.75, 0.75
    y = n[0] / (n[0] + 2 * n[1])
    return tuple(float(np.clip(c - (c + 1) * y * n[c] / n[c - 1], 0.0, c)) for c in (1, 2, 3))


def _thresholds(prune: int | tuple[int, ...], order: int) -> tuple[int, ...]:
    """Per order 2 .. order, the count at or below which an n-gram is dropped (KenLM's --prune; unigrams are
    never pruned): a tuple gives one per order, an int the highest order's alone (1: drop its singletons)."""
    thresholds = (0,) * (order - 2) + (prune,) if isinstance(prune, int) else tuple(prune)
    if len(thresholds) != order - 1 or min(thresholds) < 0:
        raise ValueError(f"prune takes {order - 1} counts of 0 or more, one per order 2..{order}")
    return thresholds


def _prune(level: dict[str, np.ndarray], keep: np.ndarray) -> None:
    """Drop from a level's arrays (its _Level fields) the pairs not kept, (pairs,) bool, one array at a time
    so that each old one goes as its pruned copy is made. Each context keeps its total, so the mass of its
    pruned followers goes to the shorter context (KneserNey.__init__'s `pruned`) and every distribution
    still sums to one; a context left without followers goes, which backs off the same way."""
    starts = level["starts"]
    counts_left = np.add.reduceat(keep, starts[:-1], dtype=np.int64) if len(keep) else keep.astype(np.int64)
    has = counts_left > 0
    level["ids"] = level["ids"][keep]
    level["vals"] = level["vals"][keep]
    level["keys"] = level["keys"][has]
    level["totals"] = level["totals"][has]
    level["starts"] = np.concatenate([[0], np.cumsum(counts_left[has])]).astype(np.int64)


def _group(codes: np.ndarray, vocab_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sorted n-gram codes (k,) grouped by their context (code // V, sorted too: no sort needed), in blocks
    of _PAIRS codes so that no temporary array spans them all: the contexts' keys (contexts,) int64, their
    starts (contexts + 1,) int64 and each code's last word (k,) int32."""
    ids = np.empty(len(codes), dtype=np.int32)
    starts = [np.zeros(min(len(codes), 1), dtype=np.int64)]
    for lo in range(0, len(codes), _PAIRS):
        contexts = codes[lo : lo + _PAIRS + 1] // vocab_size  # with the next block's first: a change there
        ids[lo : lo + _PAIRS] = codes[lo : lo + _PAIRS] - contexts[:_PAIRS] * vocab_size
        starts.append(lo + 1 + np.flatnonzero(contexts[1:] != contexts[:-1]))
    starts = np.concatenate([*starts, np.array([len(codes)], dtype=np.int64)])
    keys = codes[starts[:-1]]
    keys //= vocab_size
    return keys, starts, ids


def _as_float(counts: np.ndarray) -> np.ndarray:
    """int64 counts as float64 (exact below 2**53) in their own memory, converted a block at a time."""
    out = counts.view(np.float64)
    for lo in range(0, len(counts), _PAIRS):
        out[lo : lo + _PAIRS] = counts[lo : lo + _PAIRS].copy()  # the copy: the two views share memory
    return out
