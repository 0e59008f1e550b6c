"""The adaptation rule on a validation stream: simulate typing it in order, search a grid by perplexity.

Training calls `tune(tokens, model_p, vocab)` at its end with the validation tail's tokens and the model's
probability of each (`target_probs`). The simulation runs once per cache window W and records, for every
scored position and every source and order, the source's probability of the true word and its evidence; the
grid over the weights is then a few numpy operations per candidate. Two stages:
1. the cache alone on the whole tail (the cache starts empty and fills as the tail is typed): W, a_o, k_o;
2. the memory, with that cache: the first half of the tail is the memory (text the user taught before), the
   second half is typed with the memory learning each sentence as it ends.
Each stage is a coordinate descent (each order's (a, k) in turn, three rounds) over small grids.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from autocomplete.adapt import MAX_TOTAL_WEIGHT, ORDERS, AdaptParams, Cache, Rule
from autocomplete.metrics import FIRST_WORD_ID, PROBS_BATCH
from autocomplete.text import BOUNDARY, UNKNOWN
from autocomplete.vocab import Vocabulary
from autocomplete.wordcounts import Counts, Lexicon, context_code

WINDOWS = (500, 1000, 2000, 4000)
WEIGHTS = (0.0, 0.01, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4)
HALVES = {
    1: (10.0, 30.0, 100.0, 300.0, 1000.0, 3000.0, 10000.0),
    2: (0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0),
}
HALVES[3] = HALVES[2]
ROUNDS = 3


@dataclass(frozen=True)
class Evidence:
    """Per scored position and order (1, 2, 3): a source's probability of the true word and its evidence."""

    p: np.ndarray  # (n, 3)
    n: np.ndarray  # (n, 3)

    def mass(self, rule: Rule) -> tuple[np.ndarray, np.ndarray]:
        """(sum of the lambdas, sum of lambda * p), each (n,)."""
        a, k = np.array(rule.weights), np.array(rule.halves)
        lam = a * self.n / (self.n + k)
        return lam.sum(axis=1), (lam * self.p).sum(axis=1)


@dataclass(frozen=True)
class Tuning:
    params: AdaptParams  # the choice
    perplexity: float  # of the choice's cache stage, on the whole tail
    unadapted: float  # the model alone on the same positions
    top: tuple[tuple[AdaptParams, float], ...]  # the three best cache choices with their perplexities
    by_window: tuple[tuple[int, float], ...]  # each window's best perplexity (stage 1)
    memory_perplexity: float  # stage 2 (second half, memory = first half), with the memory rule chosen
    memory_baseline: float  # stage 2 with the cache only
    words: int  # positions scored
    seconds: float


def target_probs(batch_probs: Callable, ids: np.ndarray, start: int, context_size: int,
                 batch: int = PROBS_BATCH) -> np.ndarray:  # fmt: skip
    """p_model(ids[i] | the context_size ids before it) for i in start..T-1, (T - start,) float64, from
    `batch_probs((batch, context_size)) -> (batch, V)`; positions before context_size see boundaries."""
    padded = np.concatenate([np.full(context_size, 2, np.int64), np.asarray(ids, np.int64)])
    out = np.empty(len(ids) - start)
    for lo in range(start, len(ids), batch):
        hi = min(lo + batch, len(ids))
        contexts = np.stack([padded[i : i + context_size] for i in range(lo, hi)])
        out[lo - start : hi - start] = np.asarray(batch_probs(contexts))[np.arange(hi - lo), ids[lo:hi]]
    return out


def simulate(tokens: Sequence[str], scored: np.ndarray, vocab: Vocabulary, window: int,
             memory_tokens: Sequence[str] = ()) -> tuple[Evidence, Evidence]:  # fmt: skip
    """Type `tokens` in order; before each scored one, read both sources' evidence for it."""
    lexicon = Lexicon(vocab)
    lids = lexicon.intern_pairs((t, t) for t in tokens)
    cache = Cache(lexicon, window)
    memory = Counts.from_stream(
        lexicon, np.array(lexicon.intern_pairs((t, t) for t in memory_tokens), np.int64)
    )
    boundary = lexicon.intern(BOUNDARY)
    history = [boundary, boundary]
    n_scored = int(np.count_nonzero(scored))
    p, n = np.zeros((2, n_scored, 3)), np.zeros((2, n_scored, 3))
    row, sentence = 0, []
    for i, lid in enumerate(lids):
        if scored[i]:
            for s, counts in enumerate((cache.counts, memory)):
                for order in ORDERS:
                    if order == 1:
                        p[s, row, 0] = counts.unigram_count(lid) / counts.total if counts.total else 0.0
                        n[s, row, 0] = counts.total
                        continue
                    code = context_code(history[-(order - 1) :])
                    total = counts.context_total(order - 1, code)
                    if total:
                        p[s, row, order - 1] = counts.count(order - 1, code, lid) / total
                        n[s, row, order - 1] = total
            row += 1
        cache.push(lid)
        history = [history[-1], lid]
        sentence.append(lid)
        if lid == boundary:
            memory.extend(sentence)
            sentence = []
    return Evidence(p[0], n[0]), Evidence(p[1], n[1])


def _perplexity(model_p: np.ndarray, parts: Sequence[tuple[Evidence, Rule]]) -> float:
    keep = 1.0
    added = 0.0
    for evidence, rule in parts:
        lam, mass = evidence.mass(rule)
        keep, added = keep - lam, added + mass
    return float(np.exp(-np.log(np.maximum(model_p * keep + added, 1e-300)).mean()))


def _descend(model_p, evidence: Evidence, fixed: Sequence[tuple[Evidence, Rule]], budget: float):
    """The rule for `evidence` that minimises perplexity next to the `fixed` parts; (rule, perplexity, every
    rule tried with its perplexity)."""
    rule, tried = Rule(), {}
    for _ in range(ROUNDS):
        for order in ORDERS:
            for a, k in itertools.product(WEIGHTS, HALVES[order]):
                weights = tuple(a if o == order else rule.weights[o - 1] for o in ORDERS)
                if sum(weights) > budget:
                    continue
                halves = tuple(k if o == order else rule.halves[o - 1] for o in ORDERS)
                candidate = Rule(weights, halves)
                if candidate not in tried:
                    tried[candidate] = _perplexity(model_p, [*fixed, (evidence, candidate)])
            rule = min(tried, key=tried.get)
    return rule, tried[rule], tried


def tune(tokens: Sequence[str], model_p: np.ndarray, vocab: Vocabulary,
         windows: Sequence[int] = WINDOWS) -> Tuning:  # fmt: skip
    """The adaptation rule for a validation stream typed in order. `model_p[i]` is the model's probability
    of tokens[i] (NaN where there is none); real words of the vocabulary with a positive probability are
    scored, every token is learned (the unknown marker as a boundary)."""
    started = time.perf_counter()
    tokens = [BOUNDARY if t == UNKNOWN else t for t in tokens]
    model_p = np.asarray(model_p, dtype=np.float64)
    scored = np.array([vocab.index.get(t, 0) >= FIRST_WORD_ID for t in tokens]) & (np.nan_to_num(model_p) > 0)
    pm = model_p[scored]
    results, by_window = [], []
    for window in windows:
        cache, _ = simulate(tokens, scored, vocab, window)
        rule, perplexity, tried = _descend(pm, cache, [], MAX_TOTAL_WEIGHT)
        results += [(ppl, AdaptParams(window, r, Rule())) for r, ppl in tried.items()]
        by_window.append((window, perplexity))
    results.sort(key=lambda r: r[0])
    best = results[0][1]
    top = [results[0]]
    for ppl, params in results[1:]:
        if len(top) < 3 and params != top[-1][1]:
            top.append((ppl, params))
    half = _sentence_start_near(tokens, len(tokens) // 2)
    cache2, memory2 = simulate(tokens[half:], scored[half:], vocab, best.window, tokens[:half])
    pm2 = model_p[half:][scored[half:]]
    fixed = [(cache2, best.cache)]
    memory_rule, memory_ppl, _ = _descend(pm2, memory2, fixed, MAX_TOTAL_WEIGHT - sum(best.cache.weights))
    return Tuning(
        params=AdaptParams(best.window, best.cache, memory_rule), perplexity=results[0][0],
        unadapted=_perplexity(pm, []), top=tuple((p, ppl) for ppl, p in top), by_window=tuple(by_window),
        memory_perplexity=memory_ppl, memory_baseline=_perplexity(pm2, fixed), words=len(pm),
        seconds=time.perf_counter() - started,
    )  # fmt: skip


def _sentence_start_near(tokens: Sequence[str], i: int) -> int:
    """The first position after a boundary at or after i (i itself if there is none)."""
    for j in range(i, len(tokens)):
        if tokens[j] == BOUNDARY:
            return j + 1
    return i
