"""What the user typed -> ranked suggestions. A pure function of (text, predictor, k): no terminal here.

`predict`, the REPL's completer, its ghost text and `evaluate` all go through `suggest`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from autocomplete.text import BOUNDARY, context_window, split_typed, typed_word
from autocomplete.vocab import FIRST_WORD_ID, Vocabulary

_MARKER_IDS = np.arange(FIRST_WORD_ID)
MAX_TOP_K = 1000  # the most suggestions any front end asks for (`--top-k`, the REPL's `:top`)


class NextWordModel(Protocol):
    """Anything that gives p(next word | context ids) over a vocabulary."""

    vocab: Vocabulary
    context_size: int

    def next_word_probs(self, context_ids) -> np.ndarray: ...


@dataclass(frozen=True)
class RankedWord:
    """One suggested word and its probability (renormalised over the prefix's words when there is one)."""

    word: str
    probability: float


@dataclass(frozen=True)
class Suggestions:
    """The answer for one text: the context the model used, the prefix being completed, the ranked words."""

    text: str
    context: tuple[str, ...]  # the model's context window; BOUNDARY where a sentence starts
    unknown: tuple[str, ...]  # context words the vocabulary does not know (read as the unknown marker)
    prefix: str
    items: tuple[RankedWord, ...]

    def to_json(self) -> dict:
        return {
            "text": self.text,
            "context": list(self.context),
            "unknown": list(self.unknown),
            "prefix": self.prefix,
            "suggestions": [{"word": s.word, "probability": round(s.probability, 6)} for s in self.items],
        }


def suggest(text: str, model: NextWordModel, k: int = 5) -> Suggestions:
    """The top-k next words for `text`, or completions of the word it ends in.

    With a prefix, probabilities are renormalised over the words that start with it; without one they
    are the model's own (the markers' share left out). Markers are never suggested.
    """
    tokens, prefix = split_typed(text)
    context = context_window(tokens, model.context_size)
    vocab = model.vocab
    probs = model.next_word_probs([vocab.id(t) for t in context])
    if prefix:
        candidates = vocab.ids_with_prefix(prefix)
        scores = probs[candidates]
        total = float(scores.sum())
        scores = scores / total if total > 0 else scores
    else:
        scores, candidates = probs, None
    top = _top_k(scores, k + len(_MARKER_IDS) if candidates is None else k)
    if candidates is None:  # markers are never suggested: drop them from a few spare places
        top = top[~np.isin(top, _MARKER_IDS)][:k]
    ids = top if candidates is None else candidates[top]
    typed = typed_word(text) if prefix else ""
    items = tuple(
        RankedWord(_match_case(vocab.words[i], typed), float(scores[j]))
        for i, j in zip(ids, top, strict=True)
    )
    unknown = tuple(t for t in context if t != BOUNDARY and not vocab.knows(t))
    return Suggestions(text, tuple(context), unknown, prefix, items)


def _top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k largest scores, best first; ties by index for stable output."""
    k = min(k, len(scores))
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    top = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
    return top[np.lexsort((top, -scores[top]))]


def _match_case(word: str, typed: str) -> str:
    """Complete "Lo" as "Lord" and "LO" as "LORD": keep the case the user started the word in."""
    if len(typed) > 1 and typed.isupper():
        return word.upper()
    if typed[:1].isupper():
        return word[:1].upper() + word[1:]
    return word
