"""`evaluate --adapt`: a user typing the file in order, with the recency cache over the words typed so far
and the memory learning each sentence once it ends (starting from the model's saved memory, in this process
only: nothing is written). The same figures as `evaluate`, over the same positions:

- perplexity and top-1/3/5 over the windows `evaluate` scores (targets in the vocabulary), from the adapted
  distribution (`adapt.mix`), ranking a word among the real words and the sources' own words;
- keystroke savings as `evaluate` defines them, the suggestions being `adapt.adapted_suggestions`: a word the
  vocabulary lacks can be accepted here once the cache or the memory holds it.

It calls the adapted suggestions for every typed prefix: slower than `evaluate` (seconds per thousand words).
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np

from autocomplete import metrics
from autocomplete.adapt import Adaptation, adapted_suggestions, mix
from autocomplete.corpus import check_file
from autocomplete.errors import CorpusError
from autocomplete.evaluate import Evaluation, KeystrokeSavings, _tokens
from autocomplete.text import BOUNDARY, context_window
from autocomplete.vocab import FIRST_WORD_ID, UNKNOWN_ID
from autocomplete.wordcounts import MAX_ORDER


def evaluate_adapted(path: Path, model, adaptation: Adaptation, k: int = 3) -> Evaluation:
    """The figures of `evaluate.evaluate(path, model, k)` with `adaptation` learning as the file is typed
    (it is changed: pass a fresh one)."""
    started = time.perf_counter()
    corpus_file = check_file(Path(path))
    tokens = _tokens(corpus_file)
    if not any(t != BOUNDARY for t in tokens):
        raise CorpusError(f"{path} has no words to evaluate on")
    n, vocab, lexicon = model.context_size, model.vocab, adaptation.lexicon
    boundary = lexicon.intern(BOUNDARY)
    log_sum, hits, scored, unknown = 0.0, np.zeros(len(metrics.TOP_KS), np.int64), 0, 0
    keystrokes = baseline = accepted = typed = 0
    sentence: list[int] = []
    for i, word in enumerate(tokens):
        if word != BOUNDARY:
            probs = model.next_word_probs([vocab.id(t) for t in context_window(tokens[max(0, i - n) : i], n)])
            context = context_window(tokens[max(0, i - MAX_ORDER + 1) : i], MAX_ORDER - 1)
            word_id = vocab.id(word)
            if i >= n and word_id == UNKNOWN_ID:
                unknown += 1
            elif i >= n and word_id >= FIRST_WORD_ID:
                mixed = mix(probs, adaptation, context)
                p = float(mixed.vocab_probs[word_id])
                # Ties by id, as adapted_suggestions lists them: the vocabulary first, then the sources.
                ranked = mixed.vocab_probs[FIRST_WORD_ID:]
                ahead = (ranked > p).sum() + (ranked[: word_id - FIRST_WORD_ID] == p).sum()
                rank = int(ahead + (mixed.local[mixed.oov] > p).sum())
                log_sum, scored = log_sum + math.log(max(p, 1e-300)), scored + 1
                hits += [rank < top for top in metrics.TOP_KS]
            cost = _keystrokes(probs, adaptation, context, word, k)
            typed, baseline, keystrokes = typed + 1, baseline + len(word) + 1, keystrokes + cost
            accepted += cost < len(word) + 1
        lid = lexicon.intern(word)
        with adaptation.lock:
            adaptation.cache.push(lid)
            sentence.append(lid)
            if lid == boundary and len(sentence) > 1:
                adaptation.memory.extend([boundary, *sentence])
        sentence = [] if lid == boundary else sentence
    top = hits / max(scored, 1)
    perplexity = float(np.exp(-log_sum / scored)) if scored else float("nan")
    scores = metrics.NextWordScores(scored, unknown, perplexity, *map(float, top))
    ksr = KeystrokeSavings(k, typed, keystrokes, baseline, accepted)
    return Evaluation(Path(path), scores, ksr, typed, time.perf_counter() - started, corpus_file.sha256)


def _keystrokes(probs: np.ndarray, adaptation: Adaptation, context, word: str, k: int) -> int:
    """What typing `word` costs with the adapted suggestions shown before each character."""
    for j in range(len(word)):
        shown = adapted_suggestions(probs, adaptation, context, word[:j], word[:j], k)
        if any(s.word.lower() == word for s in shown):
            return j + 1
    return len(word) + 1
