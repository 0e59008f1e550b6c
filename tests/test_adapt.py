"""The recency cache, its counts and the mixing rule, as plain functions over a real n-gram model."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autocomplete.adapt import (
    Adaptation,
    AdaptParams,
    Cache,
    Rule,
    adapted_probability,
    adapted_suggestions,
    mix,
    suggest_adapted,
)
from autocomplete.inference import Predictor
from autocomplete.ngram import KneserNey
from autocomplete.suggest import suggest
from autocomplete.text import BOUNDARY, tokenize
from autocomplete.vocab import Vocabulary
from autocomplete.wordcounts import Counts, Lexicon, context_code

TEXT = (
    "The cat sat on the mat. The dog sat on the rug. The cat saw the dog and the dog saw the cat. "
    "A bird sang in the garden. We walked to the harbour in the morning. My lord, the king is in the hall."
)
PARAMS = AdaptParams(1000, Rule((0.2, 0.3, 0.1), (5.0, 1.0, 1.0)), Rule((0.05, 0.1, 0.05), (50.0, 2.0, 2.0)))


@pytest.fixture(scope="module")
def model() -> Predictor:
    tokens = [BOUNDARY, *tokenize(TEXT)]
    vocab = Vocabulary.build(Counter(tokens))
    return Predictor(vocab, 2, None, KneserNey.fit(vocab.encode(tokens), len(vocab), 3, discount=None))


def test_a_name_typed_twice_is_offered_the_third_time_as_typed(model):
    adaptation = Adaptation(model.vocab, PARAMS)
    text = "We met Zorblax at the harbour. Later Zorblax sat on the mat. Then "
    assert [s.word for s in suggest_adapted(text + "zo", model, adaptation, 3).items] == ["Zorblax"]
    assert [s.word for s in suggest_adapted(text + "ZO", model, adaptation, 3).items] == ["ZORBLAX"]
    assert suggest_adapted(text + "we met ", model, adaptation, 1).items[0].word == "Zorblax"
    assert not any("orblax" in s.word for s in suggest(text + "zo", model, 3).items)  # the model alone cannot


def test_a_name_typed_mid_sentence_keeps_that_case_over_a_sentence_start(model):
    adaptation = Adaptation(model.vocab, PARAMS)
    adaptation.accept("Mcgill came. We saw McGill there.")
    adaptation.accept("Mcgill left.")
    assert [s.word for s in suggest_adapted("and mc", model, adaptation, 2).items] == ["McGill"]


def test_accepted_lines_fill_the_cache_and_the_session_memory(model):
    adaptation = Adaptation(model.vocab, PARAMS)
    adaptation.accept("the quokka sat on the mat")
    lid = adaptation.lexicon.get("quokka")
    assert adaptation.cache.counts.unigram[lid] == 1 and adaptation.memory.unigram[lid] == 1
    adaptation.accept("a quokka again", learn=False)
    assert adaptation.cache.counts.unigram[lid] == 2 and adaptation.memory.unigram[lid] == 1


def test_without_weights_it_is_the_model_itself(model):
    adaptation = Adaptation(model.vocab, AdaptParams(1000, Rule(), Rule()))
    for text in ["", "the cat ", "the dog sat on the r", "My lo", "Zorblax Zorblax zo"]:
        assert suggest_adapted(text, model, adaptation, 5) == suggest(text, model, 5)


def test_the_cache_forgets_what_left_its_window(model):
    adaptation = Adaptation(model.vocab, AdaptParams(6, Rule((0.5, 0.0, 0.0), (1.0, 1.0, 1.0)), Rule()))
    adaptation.accept("Zorblax")  # Zorblax, boundary
    adaptation.accept("one two three four")  # five more tokens: Zorblax leaves the window of six
    assert suggest_adapted("zo", model, adaptation, 3).items == ()


def test_the_markers_are_never_suggested(model):
    adaptation = Adaptation(model.vocab, PARAMS)
    adaptation.accept("the cat. the dog. the end.")
    words = [s.word for s in suggest_adapted("the cat. ", model, adaptation, len(model.vocab) + 5).items]
    assert not {"", "<unk>", BOUNDARY} & set(words)


def test_completions_are_renormalised_over_the_words_with_the_prefix(model):
    adaptation = Adaptation(model.vocab, PARAMS)
    adaptation.accept("the sapphire sat on the sand")
    items = suggest_adapted("the sa", model, adaptation, 50).items
    assert {s.word for s in items} == {"sat", "sang", "saw", "sapphire", "sand"}
    assert sum(s.probability for s in items) == pytest.approx(1.0)


_word = st.sampled_from(["the", "cat", "sat", "on", "mat", "dog", "Zorblax", "quokka", "Nim", ".", "x9"])


@settings(max_examples=150, deadline=None)
@given(
    cache_text=st.lists(_word, max_size=40),
    memory_text=st.lists(_word, max_size=40),
    context=st.lists(_word, max_size=3),
    weights=st.lists(st.floats(0.0, 0.15), min_size=6, max_size=6),
    halves=st.lists(st.floats(0.1, 100.0), min_size=6, max_size=6),
    window=st.integers(1, 30),
    seed=st.integers(0, 2**32 - 1),
)
def test_the_mix_is_a_distribution(model, cache_text, memory_text, context, weights, halves, window, seed):
    params = AdaptParams(window, Rule(tuple(weights[:3]), tuple(halves[:3])),
                         Rule(tuple(weights[3:]), tuple(halves[3:])))  # fmt: skip
    adaptation = Adaptation(model.vocab, params)
    adaptation.accept(" ".join(memory_text))
    adaptation.accept(" ".join(cache_text), learn=False)
    probs = np.random.default_rng(seed).dirichlet(np.ones(len(model.vocab)))  # (V,) float64, sums to 1
    words = tokenize(" ".join(context)) or [BOUNDARY]
    mixed = mix(probs, adaptation, words)
    total = mixed.vocab_probs.sum(dtype=np.float64) + mixed.local[mixed.oov].sum()
    assert total == pytest.approx(1.0, abs=1e-9)
    assert mixed.vocab_probs.min() >= 0 and mixed.local.min() >= 0
    for word in [*model.vocab.words[2:], *adaptation.lexicon.words]:
        expected = mixed.vocab_probs[model.vocab.index[word]] if model.vocab.knows(word) else mixed.local[
            adaptation.lexicon.get(word)]  # fmt: skip
        assert adapted_probability(probs, adaptation, words, word) == pytest.approx(expected, abs=1e-12)


def _ngrams(lids: list[int]) -> Counter:
    grams = Counter()
    for n in (1, 2, 3):
        grams.update(tuple(lids[i : i + n]) for i in range(len(lids) - n + 1))
    return grams


def _as_counter(counts: Counts, lexicon: Lexicon) -> Counter:
    """Every n-gram the counts hold, read back through count() and the unigram."""
    out = Counter()
    ids = range(len(lexicon))
    for a in ids:
        if a < len(counts.unigram) and counts.unigram[a]:
            out[(a,)] = counts.unigram[a]
        for b in ids:
            if c := counts.count(1, context_code([a]), b):
                out[(a, b)] = c
            for d in ids:
                if c := counts.count(2, context_code([a, b]), d):
                    out[(a, b, d)] = c
    return out


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 4), max_size=30), st.lists(st.integers(0, 4), max_size=30), st.integers(1, 12))
def test_counts_bulk_plus_increments_and_the_window_count_what_they_hold(first, then, window):
    lexicon = Lexicon(Vocabulary.build(Counter()))
    for i in range(5):
        lexicon.intern(f"w{i}")
    counts = Counts.from_stream(lexicon, np.array(first, dtype=np.int64))
    counts.extend(then)
    assert _as_counter(counts, lexicon) == _ngrams(first + then)
    assert counts.total == len(first + then)
    cache = Cache(lexicon, window)
    for lid in first + then:
        cache.push(lid)
    assert _as_counter(cache.counts, lexicon) == _ngrams((first + then)[-window:])
    for a in range(5):  # every context's total is the sum of its followers
        assert cache.counts.context_total(1, a) == sum(cache.counts.count(1, a, b) for b in range(5))


def test_typing_leaves_the_cache_as_it_found_it(model):
    adaptation = Adaptation(model.vocab, AdaptParams(8, PARAMS.cache, PARAMS.memory))
    adaptation.accept("the cat sat on the mat")
    before = (list(adaptation.cache.tokens), _as_counter(adaptation.cache.counts, adaptation.lexicon))
    with adaptation.typing("a dog and a bird and a quokka ran far away"):
        assert list(adaptation.cache.tokens) != before[0]
    assert (list(adaptation.cache.tokens), _as_counter(adaptation.cache.counts, adaptation.lexicon)) == before


def test_params_round_trip_and_refuse_what_is_not_a_distribution():
    assert AdaptParams.from_json(PARAMS.to_json()) == PARAMS
    with pytest.raises(ValueError):
        AdaptParams(1000, Rule((0.5, 0.3, 0.1), (1.0, 1.0, 1.0)), Rule((0.1, 0.0, 0.0), (1.0, 1.0, 1.0)))
    with pytest.raises(ValueError):
        AdaptParams.from_json({**PARAMS.to_json(), "cache": {"weights": [0.1, 0.1], "halves": [1, 1]}})


def test_suggestions_for_one_row_match_the_text_form(model):
    adaptation = Adaptation(model.vocab, PARAMS)
    adaptation.accept("the cat sat on the mat")
    probs = model.next_word_probs([model.vocab.id("on"), model.vocab.id("the")])
    with adaptation.typing("the dog sat on the "):
        direct = adapted_suggestions(probs, adaptation, ["on", "the"], k=5)
    assert suggest_adapted("the dog sat on the ", model, adaptation, 5).items == direct
    assert direct[0].word == "mat"
