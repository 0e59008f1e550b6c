"""Choosing the adaptation rule on a validation stream typed in order."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from autocomplete.adapt import Adaptation, AdaptParams, adapted_probability
from autocomplete.adapt_tune import simulate, target_probs, tune
from autocomplete.inference import Predictor
from autocomplete.ngram import KneserNey
from autocomplete.text import BOUNDARY, tokenize
from autocomplete.vocab import Vocabulary

# A document that keeps coming back to its own words, which the model (fitted on other text) rates low.
BACKGROUND = "the cat sat on the mat . the dog ran to the gate . a bird sang in the garden . " * 20
DOCUMENT = "the quokka ate the leaf . a quokka met the wombat . the wombat ate the leaf . " * 15


@pytest.fixture(scope="module")
def stream():
    tokens = [BOUNDARY, *tokenize(BACKGROUND + DOCUMENT)]
    vocab = Vocabulary.build(Counter(tokens))
    ids = vocab.encode(tokens)
    cut = len(tokenize(BACKGROUND)) + 1
    model = Predictor(vocab, 2, None, KneserNey.fit(ids[:cut], len(vocab), 3, discount=None))
    return tokens, vocab, ids, cut, model


def test_target_probs_are_the_models_probability_of_each_next_token(stream):
    tokens, vocab, ids, cut, model = stream
    p = target_probs(model.batch_probs, ids, cut, 2)
    for i in (cut, cut + 1, len(ids) - 1):
        assert p[i - cut] == pytest.approx(float(model.next_word_probs(ids[i - 2 : i])[ids[i]]), rel=1e-6)


def test_target_probs_do_not_depend_on_the_batch(stream):
    """The batch bounds the temporaries' memory (benchmarks/results/mixing_memory.md), never the answer."""
    _, _, ids, cut, model = stream
    expected = target_probs(model.batch_probs, ids, cut, 2, batch=len(ids))
    for batch in (1, 7, 64):
        np.testing.assert_array_equal(target_probs(model.batch_probs, ids, cut, 2, batch=batch), expected)


def test_a_repetitive_document_gets_a_cache_that_beats_the_model(stream):
    tokens, vocab, ids, cut, model = stream
    model_p = target_probs(model.batch_probs, ids, cut, 2)
    tuning = tune(tokens[cut:], model_p, vocab, windows=(50, 200))
    assert sum(tuning.params.cache.weights) > 0
    assert tuning.perplexity < tuning.unadapted
    assert [ppl for _, ppl in tuning.top] == sorted(ppl for _, ppl in tuning.top) and len(tuning.top) == 3
    assert tuning.top[0] == (AdaptParams(tuning.params.window, tuning.params.cache), tuning.perplexity)
    assert {w for w, _ in tuning.by_window} == {50, 200}
    AdaptParams.from_json(tuning.params.to_json())  # a valid record for the model's meta


def test_the_simulation_reads_what_the_adaptation_would_give(stream):
    """The evidence the grid mixes is the mix suggestions use: the same probabilities, computed both ways."""
    tokens, vocab, ids, cut, model = stream
    model_p = target_probs(model.batch_probs, ids, cut, 2)
    params = tune(tokens[cut:], model_p, vocab, windows=(50,)).params
    params = AdaptParams(params.window, params.cache)  # the cache stage alone
    tail = tokens[cut:]
    scored = np.array([vocab.index[t] >= 3 for t in tail]) & (model_p > 0)
    cache, _ = simulate(tail, scored, vocab, params.window)
    lam, mass = cache.mass(params.cache)
    from_evidence = model_p[scored] * (1 - lam) + mass
    adaptation = Adaptation(vocab, params)
    direct = []
    for i, token in enumerate(tail):
        context = [BOUNDARY, BOUNDARY, *tokens[: cut + i]][-2:]
        if scored[i]:
            probs = model.next_word_probs([vocab.id(t) for t in context])
            direct.append(adapted_probability(probs, adaptation, context, token))
        adaptation.cache.push(adaptation.lexicon.intern(token))
    assert np.allclose(direct, from_evidence, rtol=1e-5)
