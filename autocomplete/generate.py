"""Text generation: sample the shipped predictor word by word. Pure: no printing, the caller owns the random
generator and the output.

The distribution is the one the suggestions use (`next_word_probs` over the context ids), with the padding
and unknown markers left out; the boundary marker ends a sentence, and is never sampled twice in a row (an
empty sentence is no text). `readable` turns the words into text as they come.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from autocomplete.errors import UsageError
from autocomplete.suggest import NextWordModel
from autocomplete.text import BOUNDARY, context_window, tokenize
from autocomplete.vocab import BOUNDARY_ID, PAD_ID, UNKNOWN_ID

MAX_WORDS = 100_000


@dataclass(frozen=True)
class Sampling:
    """How to reshape the model's distribution before each draw (None: no truncation)."""

    temperature: float = 1.0  # 0: greedy, the most likely word every time
    top_k: int | None = None  # keep only the k most likely words
    top_p: float | None = None  # keep the fewest most likely words whose probabilities add up to p

    def validated(self) -> Sampling:
        """Self, or a UsageError naming the first option out of range."""
        if not (math.isfinite(self.temperature) and 0.0 <= self.temperature <= 100.0):
            raise UsageError(f"--temperature must be between 0 and 100 (got {self.temperature})")
        if self.top_k is not None and self.top_k < 1:
            raise UsageError(f"--top-k must be at least 1 (got {self.top_k})")
        if self.top_p is not None and not 0.0 < self.top_p <= 1.0:
            raise UsageError(f"--top-p must be in (0, 1] (got {self.top_p})")
        return self


def check_lengths(words: int | None, sentences: int | None) -> None:
    if words is not None and not 1 <= words <= MAX_WORDS:
        raise UsageError(f"--words must be between 1 and {MAX_WORDS:,} (got {words})")
    if sentences is not None and not 1 <= sentences <= MAX_WORDS:
        raise UsageError(f"--sentences must be between 1 and {MAX_WORDS:,} (got {sentences})")


def distribution(probs: np.ndarray, sampling: Sampling) -> tuple[np.ndarray, np.ndarray]:
    """The words a draw may give and their probabilities: (V,) -> ids (n,), weights (n,) summing to 1.

    Zero-probability words are never candidates. Order: temperature, then top-k, then top-p (as in most
    samplers); ties are broken by the lower id, as `suggest` breaks them.
    """
    ids = np.flatnonzero(probs > 0)
    if len(ids) == 0:
        return ids, np.zeros(0)
    p = probs[ids].astype(np.float64)
    if sampling.temperature == 0.0:
        best = ids[np.argmax(p)]  # argmax takes the first maximum: the lower id
        return np.array([best]), np.ones(1)
    if sampling.temperature != 1.0:
        logp = np.log(p) / sampling.temperature
        p = np.exp(logp - logp.max())
    order = np.lexsort((ids, -p))  # best first, ties by id
    if sampling.top_k is not None:
        order = order[: sampling.top_k]
    if sampling.top_p is not None and sampling.top_p < 1.0:
        ranked = p[order]
        cumulative = np.cumsum(ranked) / ranked.sum()
        # The fewest words reaching top_p; the tolerance keeps a word reaching it exactly but for rounding.
        order = order[: int(np.searchsorted(cumulative, sampling.top_p - 1e-12)) + 1]
    ids, p = ids[order], p[order]
    return ids, p / p.sum()


def sample_words(
    model: NextWordModel, seed_text: str, rng: np.random.Generator, sampling: Sampling = Sampling()
) -> Iterator[str]:
    """Endless words following `seed_text`, drawn one at a time; BOUNDARY where a sentence ends.

    Stops only if the model gives no word any probability. The caller decides how many to take.
    """
    vocab, n = model.vocab, model.context_size
    context = [vocab.id(t) for t in context_window(tokenize(seed_text), n)]
    previous = context[-1] if context else BOUNDARY_ID
    while True:
        probs = np.array(model.next_word_probs(context[-n:] if n else []), dtype=np.float64)
        probs[[PAD_ID, UNKNOWN_ID]] = 0.0
        if previous == BOUNDARY_ID:
            probs[BOUNDARY_ID] = 0.0  # a sentence has at least one word
        ids, weights = distribution(probs, sampling)
        if len(ids) == 0:
            return
        choice = ids[0] if len(ids) == 1 else ids[_draw(weights, rng)]
        previous = int(choice)
        context.append(previous)
        del context[: len(context) - n]
        yield vocab.words[previous]


def _draw(weights: np.ndarray, rng: np.random.Generator) -> int:
    """An index drawn with probability weights[i] (the weights sum to 1): one uniform, one binary search."""
    cumulative = np.cumsum(weights)
    return min(
        int(np.searchsorted(cumulative, rng.random() * cumulative[-1], side="right")), len(weights) - 1
    )


def take(words: Iterable[str], max_words: int, max_sentences: int | None = None) -> Iterator[str]:
    """The first `max_words` words (boundaries not counted), or up to the `max_sentences`-th sentence end."""
    count = ends = 0
    for word in words:
        if word == BOUNDARY:
            yield word
            ends += 1
            if max_sentences is not None and ends >= max_sentences:
                return
            continue
        yield word
        count += 1
        if count >= max_words:
            return


def readable(words: Iterable[str], sentence_start: bool = True, space_first: bool = False) -> Iterator[str]:
    """Pieces of text as the words come: sentence starts capitalised, "i" as "I", "." at each sentence end.

    `sentence_start`: the first word starts a sentence; `space_first`: put a space before it (the text goes
    after other text)."""
    space = space_first
    for word in words:
        if word == BOUNDARY:
            if not sentence_start:
                yield "."
            sentence_start = True
            continue
        yield (" " if space else "") + _cased(word, sentence_start)
        space, sentence_start = True, False


def _cased(word: str, sentence_start: bool) -> str:
    if word == "i" or word.startswith("i'"):  # "i", "i'm", "i'll"
        return "I" + word[1:]
    return word[:1].upper() + word[1:] if sentence_start else word


def seed_ends_sentence(seed_text: str) -> bool:
    """Whether what follows `seed_text` starts a sentence: an empty seed, or one ending in a sentence end."""
    tokens = tokenize(seed_text)
    return not tokens or tokens[-1] == BOUNDARY
