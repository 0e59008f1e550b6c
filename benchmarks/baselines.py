"""The two predictors a user would pick instead of ours, built over the same vocabulary and token ids.

- `kneser_ney(corpus)`: an interpolated Kneser-Ney trigram with one discount (0.75), the classic model. It
  is the project's own autocomplete.ngram.KneserNey, used alone (no LSTM) through the same Predictor
  that ships; tests/test_kneser_ney_nltk.py holds it equal to nltk's KneserNeyInterpolated.
- `MostFrequentFollower`: what markovify-style tools do. Maximum-likelihood counts of the words that
  followed the last two words; the most frequent follower first. When those two words were never seen
  together it backs off to the last word alone, then to plain word frequency. Suggestions are ranked
  tier by tier: followers of the two-word context, then the remaining followers of the last word, then
  the remaining words by frequency.

Its probability is the maximum-likelihood one of the longest context it has seen, so a word that never
followed that context gets probability 0 and its perplexity on new text is infinite; the benchmark reports
that and the share of words it cannot predict at all, not a number made finite by a hidden smoothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from autocomplete.inference import Predictor
from autocomplete.ngram import KneserNey
from autocomplete.vocab import Vocabulary

ORDER = 3  # a trigram: two words in, the third predicted
DISCOUNT = 0.75


def kneser_ney(
    vocab: Vocabulary, ids: np.ndarray, order: int = ORDER, discount: float = DISCOUNT
) -> Predictor:
    """The interpolated Kneser-Ney baseline over the token-id stream `ids` (T,), as a Predictor."""
    return Predictor(vocab, order - 1, None, KneserNey.fit(ids, len(vocab), order, discount))


@dataclass(frozen=True)
class _Followers:
    """The followers of every context of one length with their counts, grouped by context (sorted keys)."""

    keys: np.ndarray  # (contexts,) int64 base-V context codes
    starts: np.ndarray  # (contexts + 1,) offsets into ids/counts
    ids: np.ndarray  # (pairs,) follower ids
    counts: np.ndarray  # (pairs,) how often each followed

    def lookup(self, key: int) -> tuple[np.ndarray, np.ndarray] | None:
        row = int(np.searchsorted(self.keys, key))
        if row == len(self.keys) or self.keys[row] != key:
            return None
        lo, hi = self.starts[row], self.starts[row + 1]
        return self.ids[lo:hi], self.counts[lo:hi]


class MostFrequentFollower:
    """`next_word_probs(context)` gives ranking scores over the vocabulary, shape (V,): a follower of the
    two-word context scores 2 + its share there, a follower of the last word only 1 + its share there,
    any other word its share of the text. Higher tiers always rank first; within one, more frequent first."""

    def __init__(
        self, vocab: Vocabulary, unigram: np.ndarray, levels: list[_Followers], cache_size: int = 512
    ):
        self.vocab, self.context_size = vocab, len(levels)
        self.unigram = unigram  # (V,) counts
        self.levels = levels  # levels[m - 1]: contexts of m words
        self._cached = lru_cache(maxsize=cache_size)(self._scores)

    @classmethod
    def fit(
        cls, vocab: Vocabulary, ids: np.ndarray, order: int = ORDER, cache_size: int = 512
    ) -> MostFrequentFollower:
        v = len(vocab)
        ids = np.asarray(ids, dtype=np.int64)
        unigram = np.bincount(ids, minlength=v).astype(np.float64)
        levels = []
        for n in range(2, order + 1):
            windows = np.lib.stride_tricks.sliding_window_view(ids, n)
            codes = np.zeros(len(windows), np.int64)
            for j in range(n):
                codes = codes * v + windows[:, j]
            codes, counts = np.unique(codes, return_counts=True)
            keys, starts = np.unique(codes // v, return_index=True)
            levels.append(
                _Followers(keys, np.append(starts, len(codes)), (codes % v).astype(np.int64), counts)
            )
        return cls(vocab, unigram, levels, cache_size)

    def to_arrays(self) -> dict[str, np.ndarray]:
        arrays = {"unigram": self.unigram}
        for m, level in enumerate(self.levels, start=1):
            arrays.update({f"l{m}_{name}": getattr(level, name) for name in _Followers.__dataclass_fields__})
        return arrays

    def _followers(self, context: tuple[int, ...], m: int) -> tuple[np.ndarray, np.ndarray] | None:
        key = 0
        for word_id in context[-m:]:
            key = key * len(self.vocab) + word_id
        return self.levels[m - 1].lookup(key)

    def _scores(self, context: tuple[int, ...]) -> np.ndarray:
        scores = self.unigram / self.unigram.sum()
        for m in range(1, min(len(context), len(self.levels)) + 1):  # higher tiers overwrite lower ones
            found = self._followers(context, m)
            if found is not None:
                ids, counts = found
                scores[ids] = m + counts / counts.sum()
        scores.flags.writeable = False
        return scores

    def next_word_probs(self, context_ids) -> np.ndarray:
        return self._cached(tuple(int(i) for i in context_ids)[-self.context_size :])

    def uncached_probs(self, context_ids) -> np.ndarray:
        return self._scores(tuple(int(i) for i in context_ids)[-self.context_size :])

    def clear_cache(self) -> None:
        self._cached.cache_clear()

    def batch_probs(self, contexts: np.ndarray) -> np.ndarray:
        """Ranking scores for many contexts, (batch, context) -> (batch, V): for top-k, not perplexity."""
        return np.stack([self._scores(tuple(int(i) for i in c)) for c in contexts])

    def probability(self, context_ids, target: int) -> float:
        """Maximum-likelihood p(target | the longest context seen in training): 0 if it never followed it."""
        context = tuple(int(i) for i in context_ids)[-self.context_size :]
        for m in range(min(len(context), len(self.levels)), 0, -1):
            found = self._followers(context, m)
            if found is not None:
                ids, counts = found
                return float(counts[ids == target].sum() / counts.sum())
        return float(self.unigram[target] / self.unigram.sum())
