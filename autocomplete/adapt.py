"""Adaptation: the model's distribution mixed with a recency cache and the user's personal memory.

    p(w | h) = (1 - sum of the lambdas) * p_model(w | h) + sum over sources s and orders o of
               lambda_so(h) * p_so(w | h),        lambda_so(h) = a_so * n_so(h) / (n_so(h) + k_so)

where s is the cache (the last W tokens typed) or the memory (everything the user taught), o = 1, 2, 3 is a
unigram, bigram or trigram of that source's counts (maximum likelihood: c(h w) / c(h)), and n_so(h) is its
evidence: the tokens in the source for o = 1, the count of the last o - 1 words as a context for o > 1. With
no evidence a term is 0, so a source interpolates its own orders by how much it has seen, and the rule is
a distribution over the vocabulary and the sources' own words as long as the a's sum below 1. W, the a's and
the k's are chosen on a validation stream (`adapt_tune.tune`).

Words the vocabulary lacks get no share of the model (its unknown marker keeps that) and can be suggested
from the sources, with their case as typed.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
import unicodedata
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from autocomplete.suggest import NextWordModel, RankedWord, Suggestions, _match_case, _top_k
from autocomplete.text import BOUNDARY, MARKERS, context_window, split_typed, typed_word
from autocomplete.vocab import Vocabulary
from autocomplete.wordcounts import MAX_ORDER, Counts, Lexicon, context_code, learnable

ORDERS = (1, 2, 3)
MAX_TOTAL_WEIGHT = 0.95  # the model always keeps a share: a word no source has seen stays possible


@dataclass(frozen=True)
class Rule:
    """One source's weights: order o takes a_o * n / (n + k_o) of the distribution, n its evidence."""

    weights: tuple[float, float, float] = (0.0, 0.0, 0.0)  # a_1..a_3
    halves: tuple[float, float, float] = (
        1.0,
        1.0,
        1.0,
    )  # k_1..k_3: the evidence at which a term gets a_o / 2

    def weight(self, order: int, evidence: float) -> float:
        a, k = self.weights[order - 1], self.halves[order - 1]
        return a * evidence / (evidence + k) if a and evidence > 0 else 0.0


@dataclass(frozen=True)
class AdaptParams:
    """The whole adaptation rule: what training stores in the model's meta and every consumer reads."""

    window: int = 1000  # the cache's size in tokens (sentence boundaries included)
    cache: Rule = field(default_factory=Rule)
    memory: Rule = field(default_factory=Rule)

    def __post_init__(self) -> None:
        weights = [*self.cache.weights, *self.memory.weights]
        if self.window < 0 or min(weights) < 0 or sum(weights) > MAX_TOTAL_WEIGHT + 1e-9:
            raise ValueError(f"adaptation weights must be >= 0 and sum to at most {MAX_TOTAL_WEIGHT}")
        if min(*self.cache.halves, *self.memory.halves) <= 0:
            raise ValueError("adaptation half-weight evidence must be > 0")

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> AdaptParams:
        """Raises ValueError (or KeyError/TypeError) on a malformed or hand-edited record."""
        rules = {s: Rule(tuple(map(float, data[s]["weights"])), tuple(map(float, data[s]["halves"])))
                 for s in ("cache", "memory")}  # fmt: skip
        if any(len(r.weights) != 3 or len(r.halves) != 3 for r in rules.values()):
            raise ValueError("an adaptation rule has three weights and three halves")
        return cls(int(data["window"]), rules["cache"], rules["memory"])


# For a model whose training did not choose its own (made before adaptation): the middle of what the three
# benchmark corpora's validation parts chose (benchmarks/results/adapt_holdout.md).
DEFAULT_PARAMS = AdaptParams(
    window=1000,
    cache=Rule((0.2, 0.1, 0.1), (1000.0, 1.0, 0.5)),
    memory=Rule((0.05, 0.05, 0.02), (1000.0, 0.1, 0.1)),
)


class Cache:
    """The counts of the last `window` tokens: push one at a time; the oldest leaves as the newest comes."""

    def __init__(self, lexicon: Lexicon, window: int):
        self.counts, self.window = Counts(lexicon), window
        self.tokens: deque[int] = deque()

    def push(self, lid: int) -> int | None:
        """Count `lid` after the tokens held; returns the token evicted, if one was."""
        if self.window <= 0:
            return None
        tokens = self.tokens
        self.counts.bump((*itertools.islice(reversed(tokens), MAX_ORDER - 1),)[::-1] + (lid,), 1.0)
        tokens.append(lid)
        if len(tokens) <= self.window:
            return None
        evicted = tokens.popleft()
        self.counts.bump_from((evicted, *itertools.islice(tokens, MAX_ORDER - 1)), -1.0)
        return evicted

    def pop(self, evicted: int | None) -> None:
        """Undo the last push (given what it evicted)."""
        if self.window <= 0:
            return  # push() held nothing
        tokens = self.tokens
        if evicted is not None:
            self.counts.bump_from((evicted, *itertools.islice(tokens, MAX_ORDER - 1)), 1.0)
            tokens.appendleft(evicted)
        lid = tokens.pop()
        self.counts.bump((*itertools.islice(reversed(tokens), MAX_ORDER - 1),)[::-1] + (lid,), -1.0)


class Adaptation:
    """The recency cache and the memory of one session, over one vocabulary, with their rule. Thread-safe:
    the REPL's completer, ghost text and panel may ask at once."""

    def __init__(self, vocab: Vocabulary, params: AdaptParams = DEFAULT_PARAMS, memory: Counts | None = None):
        if memory is not None and memory.lexicon.vocab is not vocab:
            raise ValueError("the memory was loaded for another vocabulary")
        self.lexicon = memory.lexicon if memory is not None else Lexicon(vocab)
        self.params = params
        self.cache = Cache(self.lexicon, params.window)
        self.memory = memory if memory is not None else Counts(self.lexicon)
        self.lock = threading.RLock()

    @property
    def vocab(self) -> Vocabulary:
        return self.lexicon.vocab

    def accept(self, line: str, learn: bool = True) -> None:
        """A finished line (the REPL's accepted input): into the cache for good and, if `learn`, into this
        session's memory (its file is `memory.learn_line`'s business)."""
        pairs = learnable(line)
        with self.lock:
            lids = self.lexicon.intern_pairs(pairs)
            boundary = self.lexicon.intern(BOUNDARY)
            for lid in [*lids, boundary] if lids and lids[-1] != boundary else lids:
                self.cache.push(lid)
            if learn and lids:
                self.memory.extend([boundary, *lids, boundary] if lids[-1] != boundary else [boundary, *lids])

    @contextlib.contextmanager
    def typing(self, text: str) -> Iterator[None]:
        """Hold the learnable tokens of `text` (what is typed so far) in the cache while the block runs."""
        pairs = learnable(text)
        with self.lock:
            evicted = [self.cache.push(lid) for lid in self.lexicon.intern_pairs(pairs)]
            try:
                yield
            finally:
                for e in reversed(evicted):
                    self.cache.pop(e)


@dataclass(frozen=True)
class Mixed:
    """The adapted distribution for one context: vocab_probs over the vocabulary, plus local[oov] for the
    sources' words the vocabulary lacks (local is indexed by the lexicon's ids)."""

    vocab_probs: np.ndarray  # (V,) float64
    local: np.ndarray  # (L,) float64: the sources' share of each local id
    oov: np.ndarray  # local ids of words the vocabulary lacks that have a share


def _terms(adaptation: Adaptation, context: Sequence[str]) -> list[tuple[float, Counts, int, int, float]]:
    """(lambda, counts, order, context code, evidence) of every term with a weight."""
    lids = [adaptation.lexicon.get(w) for w in context][-(MAX_ORDER - 1) :]
    terms = []
    sources = (
        (adaptation.cache.counts, adaptation.params.cache),
        (adaptation.memory, adaptation.params.memory),
    )
    for counts, rule in sources:
        for order in ORDERS:
            h = lids[len(lids) - order + 1 :] if order > 1 else []
            if len(h) < order - 1 or min(h, default=0) < 0:
                continue
            code = context_code(h)
            n = counts.total if order == 1 else counts.context_total(order - 1, code)
            weight = rule.weight(order, n)
            if weight > 0:
                terms.append((weight, counts, order, code, n))
    return terms


def mix(probs: np.ndarray, adaptation: Adaptation, context: Sequence[str]) -> Mixed:
    """The adapted distribution after `context` (the words before the next one, BOUNDARY at a sentence
    start), given the model's probs (V,)."""
    with adaptation.lock:
        terms = _terms(adaptation, context)
        local = np.zeros(len(adaptation.lexicon))
        for weight, counts, order, code, n in terms:
            if order == 1:
                size = min(len(local), len(counts.unigram))
                local[:size] += (weight / n) * counts.unigram[:size]
            else:
                for ids, c in counts.followers(order - 1, code):
                    local[ids] += (weight / n) * c
        known, vocab_ids, oov = adaptation.lexicon.index()
    if not terms:  # no evidence: the model's own row, so the answer is exactly the unadapted one
        return Mixed(probs, local, oov[:0])
    vocab_probs = np.asarray(probs, dtype=np.float64) * (1.0 - sum(t[0] for t in terms))
    vocab_probs[vocab_ids] += local[known]
    return Mixed(vocab_probs, local, oov[local[oov] > 0])


def adapted_probability(
    probs: np.ndarray, adaptation: Adaptation, context: Sequence[str], word: str
) -> float:
    """p(word | context) under the adapted distribution; a word neither the vocabulary nor a source knows
    has probability 0 (the model's share of it is in the unknown marker)."""
    vocab = adaptation.vocab
    with adaptation.lock:
        terms = _terms(adaptation, context)
        lid = adaptation.lexicon.get(word)
        p = (1.0 - sum(t[0] for t in terms)) * float(probs[vocab.index[word]]) if vocab.knows(word) else 0.0
        if lid < 0:
            return p
        for weight, counts, order, code, n in terms:
            c = counts.unigram_count(lid) if order == 1 else counts.count(order - 1, code, lid)
            p += weight * c / n
    return p


def adapted_suggestions(probs: np.ndarray, adaptation: Adaptation, context: Sequence[str], prefix: str = "",
                        typed: str = "", k: int = 5) -> tuple[RankedWord, ...]:  # fmt: skip
    """The top-k next words (prefix "") with their adapted probabilities, markers left out; or the top-k
    words starting with `prefix` (lower-cased), renormalised over those words and shown in the case of
    `typed` (the prefix as the user typed it), as `suggest.suggest` does. Words the vocabulary lacks are
    shown as they were typed into the cache or memory."""
    mixed = mix(probs, adaptation, context)
    vocab, lexicon = adaptation.vocab, adaptation.lexicon
    if prefix:
        vocab_ids = vocab.ids_with_prefix(prefix)
        oov = lexicon.oov_with_prefix(prefix)
        oov = oov[mixed.local[oov] > 0]
        scores = _joined(mixed.vocab_probs[vocab_ids], mixed.local[oov])
        total = float(scores.sum())
        scores = scores / total if total > 0 else scores
        top = _top_k(scores, k)
    else:  # as suggest() does: the markers dropped from a few spare places
        vocab_ids, oov = np.arange(len(vocab)), mixed.oov
        scores = _joined(mixed.vocab_probs, mixed.local[oov])
        top = _top_k(scores, k + len(MARKERS))
        top = top[top >= len(MARKERS)][:k]
    n = len(vocab_ids)
    with adaptation.lock:
        words = [vocab.words[vocab_ids[j]] if j < n else lexicon.display[oov[j - n]] for j in top]
    return tuple(RankedWord(_match_case(w, typed), float(scores[j])) for w, j in zip(words, top, strict=True))


def _joined(vocab_scores: np.ndarray, oov_scores: np.ndarray) -> np.ndarray:
    """One score array, the vocabulary's first; the model's own float32 values when no other word has one."""
    return np.concatenate([vocab_scores, oov_scores]) if len(oov_scores) else vocab_scores


def suggest_adapted(text: str, model: NextWordModel, adaptation: Adaptation, k: int = 5) -> Suggestions:
    """`suggest.suggest(text, model, k)` with adaptation: the words of `text` before the one being typed are
    held in the cache (after what the session accepted) while the suggestions are made."""
    tokens, prefix = split_typed(text)
    context = context_window(tokens, model.context_size)
    vocab = model.vocab
    probs = model.next_word_probs([vocab.id(t) for t in context])
    nfc = unicodedata.normalize("NFC", text)
    typed = typed_word(nfc) if prefix else ""
    with adaptation.typing(nfc[: len(nfc) - len(typed)]):
        items = adapted_suggestions(
            probs, adaptation, context_window(tokens, MAX_ORDER - 1), prefix, typed, k
        )
    unknown = tuple(t for t in context if t != BOUNDARY and not vocab.knows(t))
    return Suggestions(text, tuple(context), unknown, prefix, items)
