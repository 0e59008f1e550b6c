"""The numpy forward pass against Keras, the predictor's mixing and cache, and `suggest` on top of them."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import random_lstm
from hypothesis import given, settings
from hypothesis import strategies as st

from autocomplete import modelfile
from autocomplete.config import TrainConfig
from autocomplete.inference import WEIGHT_NAMES, LstmWeights, Predictor, lstm_probs
from autocomplete.mixing import widen
from autocomplete.ngram import KneserNey
from autocomplete.suggest import suggest
from autocomplete.text import BOUNDARY, MARKERS
from autocomplete.vocab import BOUNDARY_ID, PAD_ID, UNKNOWN_ID, Vocabulary

# --- numpy == Keras -------------------------------------------------------------------------------


def keras_probs(model, contexts: np.ndarray) -> np.ndarray:
    return np.asarray(model(np.asarray(contexts, dtype=np.int32), training=False))


@pytest.fixture(scope="module")
def random_keras_model():
    """A model from build_model with random weights larger than the initialiser's: every gate matters."""
    from autocomplete.model import build_model, export_weights

    config = TrainConfig(context=3, embedding_dim=8, units=16, hidden=12, dropout=0.3, tie_embeddings=False)
    model = build_model(50, config)
    rng = np.random.default_rng(0)
    model.set_weights([rng.normal(scale=0.6, size=w.shape).astype(np.float32) for w in model.get_weights()])
    return model, export_weights(model)


@pytest.mark.slow  # builds a Keras model
def test_numpy_matches_keras_on_random_weights(random_keras_model):
    model, weights = random_keras_model
    contexts = np.random.default_rng(1).integers(0, 50, size=(64, 3))
    expected = keras_probs(model, contexts)
    np.testing.assert_allclose(lstm_probs(weights, contexts), expected, atol=1e-5)
    for i in range(8):  # one context at a time, as a keystroke asks
        np.testing.assert_allclose(lstm_probs(weights, contexts[i]), expected[i], atol=1e-5)


@pytest.mark.slow  # builds a Keras model
def test_numpy_matches_keras_with_tied_embeddings():
    """Tied, the softmax's kernel is the embedding matrix: export_weights writes it out as a plain kernel."""
    from autocomplete.model import build_model, export_weights

    model = build_model(40, TrainConfig(embedding_dim=12, units=16, hidden=12, tie_embeddings=True))
    rng = np.random.default_rng(3)
    model.set_weights([rng.normal(scale=0.6, size=w.shape).astype(np.float32) for w in model.get_weights()])
    weights = export_weights(model)
    weights.check_shapes()
    np.testing.assert_array_equal(weights.output_kernel, weights.embedding.T)
    contexts = rng.integers(0, 40, size=(32, 2))
    np.testing.assert_allclose(lstm_probs(weights, contexts), keras_probs(model, contexts), atol=1e-5)


@pytest.mark.slow  # builds a Keras model
def test_weight_names_follow_the_keras_layer_order(random_keras_model):
    # weights.npz is written from export_weights; reading the layers positionally must give the same arrays.
    model, weights = random_keras_model
    positional = LstmWeights.from_arrays(dict(zip(WEIGHT_NAMES, model.get_weights(), strict=True)))
    for name in WEIGHT_NAMES:
        np.testing.assert_array_equal(getattr(positional, name), getattr(weights, name))
    weights.check_shapes()


@pytest.mark.slow
def test_saved_weights_match_the_saved_keras_model(trained_model):
    """The trained model's weights.npz (the interactive path) against its model.keras, loaded safely."""
    from autocomplete.model import import_keras

    keras = import_keras()
    path = trained_model.folder / modelfile.KERAS_FILE
    model = keras.saving.load_model(path, compile=False, safe_mode=True)
    with np.load(trained_model.folder / modelfile.WEIGHTS_FILE, allow_pickle=False) as arrays:
        weights = LstmWeights.from_arrays(arrays)
    vocab_size = weights.vocab_size
    contexts = np.random.default_rng(2).integers(0, vocab_size, size=(32, trained_model.config.context))
    expected = keras_probs(model, contexts)
    np.testing.assert_allclose(lstm_probs(weights, contexts), expected, atol=1e-5)
    np.testing.assert_allclose(lstm_probs(weights, contexts[0]), expected[0], atol=1e-5)
    np.testing.assert_allclose(expected.sum(axis=1), 1.0, atol=1e-5)


def test_check_shapes_refuses_arrays_that_do_not_chain():
    w = random_weights(vocab_size=10)
    bad = LstmWeights(**{**{n: getattr(w, n) for n in WEIGHT_NAMES}, "output_bias": np.zeros(9, np.float32)})
    with pytest.raises(ValueError, match="do not fit"):
        bad.check_shapes()


# --- the predictor --------------------------------------------------------------------------------


def random_weights(vocab_size: int, seed: int = 0, e: int = 4, h: int = 6, d: int = 5) -> LstmWeights:
    return random_lstm(vocab_size, seed, e, h, d)


@pytest.fixture
def parts():
    vocab = Vocabulary(MARKERS + tuple("the cat sat on a mat dog".split()))
    ids = np.random.default_rng(3).integers(3, len(vocab), size=300)
    return vocab, random_weights(len(vocab)), KneserNey.fit(ids, len(vocab), 3)


def test_lstm_probs_shapes_and_normalisation(parts):
    vocab, weights, _ = parts
    single = lstm_probs(weights, [3, 4])
    batch = lstm_probs(weights, np.array([[3, 4], [5, 6], [0, 2]]))
    assert single.shape == (len(vocab),) and batch.shape == (3, len(vocab))
    assert single.dtype == np.float32
    np.testing.assert_allclose(batch.sum(axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(batch[0], single, atol=1e-7)


@pytest.mark.parametrize("weight", [0.0, 0.3, 1.0])
def test_mixing(parts, weight):
    vocab, lstm, ngram = parts
    predictor = Predictor(vocab, 2, lstm, ngram, lstm_weight=weight)
    context = [3, 4]
    expected = weight * lstm_probs(lstm, context) + (1 - weight) * ngram.next_word_probs(context)
    np.testing.assert_allclose(predictor.next_word_probs(context), expected, atol=1e-6)
    assert predictor.next_word_probs(context).sum() == pytest.approx(1.0, abs=1e-5)


def test_weight_zero_is_the_ngram_and_one_is_the_lstm(parts):
    vocab, lstm, ngram = parts
    np.testing.assert_array_equal(
        Predictor(vocab, 2, lstm, ngram, 0.0).next_word_probs([5, 6]), ngram.next_word_probs([5, 6])
    )
    np.testing.assert_array_equal(
        Predictor(vocab, 2, lstm, ngram, 1.0).next_word_probs([5, 6]), lstm_probs(lstm, [5, 6])
    )
    assert Predictor(vocab, 2, lstm=lstm).lstm_weight == 1.0
    assert Predictor(vocab, 2, ngram=ngram, lstm_weight=0.7).lstm_weight == 0.0
    with pytest.raises(ValueError):
        Predictor(vocab, 2)


def test_cache_returns_the_same_read_only_answer(parts):
    vocab, lstm, ngram = parts
    predictor = Predictor(vocab, 2, lstm, ngram, 0.5)
    first = predictor.next_word_probs([3, 4])
    assert predictor.next_word_probs(np.array([3, 4])) is first  # any sequence of ids: one cache key
    assert predictor.next_word_probs([9, 9, 3, 4]) is first  # only the last context_size ids count
    assert not first.flags.writeable
    with pytest.raises(ValueError):
        first[0] = 1.0
    np.testing.assert_array_equal(predictor.uncached_probs([3, 4]), first)
    predictor.clear_cache()
    again = predictor.next_word_probs([3, 4])
    assert again is not first
    np.testing.assert_array_equal(again, first)


def test_batch_probs_match_one_at_a_time(parts):
    vocab, lstm, ngram = parts
    predictor = Predictor(vocab, 2, lstm, ngram, 0.4)
    contexts = np.random.default_rng(4).integers(0, len(vocab), size=(20, 2))
    batch = predictor.batch_probs(contexts)
    assert batch.shape == (20, len(vocab))
    for row, context in zip(batch, contexts, strict=True):
        np.testing.assert_allclose(row, predictor.uncached_probs(context), atol=1e-6)


# --- suggest --------------------------------------------------------------------------------------


class TableModel:
    """A dict-backed next-word model: probabilities given as {word: p}, the same for every context."""

    def __init__(self, probs: dict[str, float], words=None, context_size: int = 2):
        self.vocab = Vocabulary(MARKERS + tuple(words or [w for w in probs if w not in MARKERS]))
        self.context_size = context_size
        self.probs = np.zeros(len(self.vocab), np.float32)
        for word, p in probs.items():
            self.probs[self.vocab.words.index(word)] = p
        self.calls: list[tuple[int, ...]] = []

    def next_word_probs(self, context_ids):
        self.calls.append(tuple(context_ids))
        return self.probs


def words(answer):
    return [s.word for s in answer.items]


def test_next_words_never_include_markers():
    model = TableModel({"": 0.3, "<unk>": 0.2, "</s>": 0.2, "the": 0.1, "cat": 0.08, "sat": 0.07, "on": 0.05})
    answer = suggest("the ", model, k=3)
    assert words(answer) == ["the", "cat", "sat"]
    assert [s.probability for s in answer.items] == pytest.approx([0.1, 0.08, 0.07])
    assert answer.prefix == ""
    assert words(suggest("", model, k=50)) == ["the", "cat", "sat", "on"]  # k beyond the vocabulary


def test_prefix_is_renormalised_over_matching_words():
    model = TableModel({"cat": 0.2, "cap": 0.1, "car": 0.1, "the": 0.5, "dog": 0.1})
    answer = suggest("the ca", model, k=5)
    assert answer.prefix == "ca"
    assert words(answer) == ["cat", "cap", "car"]  # ties in vocabulary order
    assert [s.probability for s in answer.items] == pytest.approx([0.5, 0.25, 0.25])


@pytest.mark.parametrize("typed", ["I don'", "I don’", "I don't"])
def test_prefix_ending_in_an_apostrophe(typed):
    model = TableModel({"don't": 0.2, "done": 0.6, "i": 0.2})
    answer = suggest(typed, model)
    assert answer.prefix in ("don'", "don't") and words(answer) == ["don't"]
    assert answer.items[0].probability == pytest.approx(1.0)


def test_prefix_with_no_match_is_an_empty_list():
    model = TableModel({"cat": 0.5, "dog": 0.5})
    answer = suggest("the zy", model)
    assert answer.items == () and answer.prefix == "zy"


def test_prefix_never_completes_to_a_marker():
    model = TableModel({"</s>": 0.9, "<unk>": 0.05, "unit": 0.05})
    assert words(suggest("<u", model)) == ["unit"]  # "<" is not part of the word: the prefix is "u"


def test_context_is_the_last_words_padded_with_boundaries():
    model = TableModel({"the": 0.5, "cat": 0.5})
    vocab = model.vocab
    answer = suggest("", model)
    assert answer.context == (BOUNDARY, BOUNDARY) and model.calls[-1] == (BOUNDARY_ID, BOUNDARY_ID)
    suggest("x y the cat ", model)
    assert model.calls[-1] == (vocab.id("the"), vocab.id("cat"))
    answer = suggest("The cat. th", model)
    assert answer.context == ("cat", BOUNDARY) and answer.prefix == "th"


def test_unknown_context_words_are_the_unknown_marker():
    model = TableModel({"the": 0.5, "cat": 0.5})
    answer = suggest("zebra quagga ", model)
    assert model.calls[-1] == (UNKNOWN_ID, UNKNOWN_ID)
    assert answer.unknown == ("zebra", "quagga") and answer.context == ("zebra", "quagga")
    assert words(answer) == ["the", "cat"]
    assert PAD_ID not in model.calls[-1]


@pytest.mark.parametrize(
    ("typed", "completed"),
    [("the ca", "cat"), ("The Ca", "Cat"), ("the C", "Cat"), ("THE CA", "CAT"), ("the cA", "cat")],
)
def test_completions_keep_the_case_typed(typed, completed):
    model = TableModel({"cat": 1.0})
    assert words(suggest(typed, model)) == [completed]


@pytest.mark.parametrize(
    ("typed", "completed"),
    [("the Cafe\u0301", "Café"), ("the caf\u00e9", "café"), ("the CAFE\u0301", "CAFÉ"), ("x_Caf", "Café")],
    ids=["decomposed é, capital", "composed é", "decomposed é, upper", "after an underscore"],
)
def test_the_case_typed_survives_normalisation_changing_lengths(typed, completed):
    model = TableModel({"café": 1.0})
    assert words(suggest(typed, model)) == [completed]


def test_to_json_shape():
    model = TableModel({"cat": 0.75, "cap": 0.25})
    data = suggest("the ca", model).to_json()
    assert data["text"] == "the ca" and data["prefix"] == "ca"
    assert data["context"] == [BOUNDARY, "the"]
    assert data["suggestions"] == [{"word": "cat", "probability": 0.75}, {"word": "cap", "probability": 0.25}]


@settings(max_examples=200, deadline=None)
@given(
    st.text(st.one_of(st.characters(exclude_categories=()), st.sampled_from(list(" .!?'’ca\n"))), max_size=40)
)
def test_suggest_never_raises(text):
    model = TableModel({"cat": 0.5, "cap": 0.2, "the": 0.3})
    answer = suggest(text, model, k=3)
    assert len(answer.items) <= 3
    assert all(s.word.lower() not in MARKERS and 0.0 <= s.probability <= 1.0 + 1e-6 for s in answer.items)


# --- an LSTM over the most frequent words only ----------------------------------------------------


@pytest.mark.parametrize("f", [3, 5, 8])
@pytest.mark.parametrize("with_ngram", [True, False])
def test_widen_keeps_the_lstm_words_and_shares_the_other_mass(parts, f, with_ngram):
    vocab, _, ngram = parts
    v = len(vocab)
    small = lstm_probs(random_weights(f, seed=f), [3, 4])
    ngram_p = ngram.next_word_probs([3, 4]) if with_ngram else None
    wide = widen(small, v, ngram_p)
    assert wide.shape == (v,) and wide.sum(dtype=np.float64) == pytest.approx(1.0, abs=1e-6)
    np.testing.assert_array_equal(wide[np.r_[0, 2:f]], small[np.r_[0, 2:f]])  # the LSTM's own words
    others = np.r_[UNKNOWN_ID, f:v]
    assert wide[others].sum() == pytest.approx(small[UNKNOWN_ID], rel=1e-5)  # "another word", shared
    shares = ngram_p[others] if with_ngram else np.ones(len(others))
    np.testing.assert_allclose(wide[others], small[UNKNOWN_ID] * shares / shares.sum(), rtol=1e-5)


def test_widen_is_the_identity_for_a_full_vocabulary(parts):
    vocab, lstm, ngram = parts
    p = lstm_probs(lstm, [3, 4])
    assert widen(p, len(vocab), ngram.next_word_probs([3, 4])) is p


def test_widen_shares_evenly_where_the_ngram_gives_the_rare_words_nothing(parts):
    vocab, _, _ = parts
    small = lstm_probs(random_weights(5), [3, 4])
    ngram_p = np.zeros(len(vocab), np.float32)
    ngram_p[3] = 1.0  # all its mass on a word the LSTM has
    wide = widen(small, len(vocab), ngram_p)
    np.testing.assert_allclose(wide, widen(small, len(vocab)), rtol=1e-6)
    assert wide.sum(dtype=np.float64) == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("weight", [0.0, 0.4, 1.0])
def test_a_predictor_with_a_smaller_lstm(parts, weight):
    vocab, _, ngram = parts
    lstm = random_weights(6)
    predictor = Predictor(vocab, 2, lstm, ngram, weight)
    for context in ([3, 4], [9, 9], [0, 2]):  # ids beyond the LSTM's read as the unknown marker
        probs = predictor.next_word_probs(context)
        assert probs.shape == (len(vocab),) and probs.sum(dtype=np.float64) == pytest.approx(1.0, abs=1e-5)
        n = ngram.next_word_probs(context)
        expected = weight * widen(lstm_probs(lstm, context), len(vocab), n) + (1 - weight) * n
        np.testing.assert_allclose(probs, expected, atol=1e-6)
    np.testing.assert_array_equal(lstm_probs(lstm, [9, 10]), lstm_probs(lstm, [UNKNOWN_ID, UNKNOWN_ID]))
    batch = predictor.batch_probs(np.array([[3, 4], [9, 9]]))
    np.testing.assert_allclose(batch[1], predictor.uncached_probs([9, 9]), atol=1e-6)


def test_an_lstm_larger_than_the_vocabulary_is_refused(parts):
    vocab, _, ngram = parts
    with pytest.raises(ValueError, match="the LSTM's has"):
        Predictor(vocab, 2, random_weights(len(vocab) + 1), ngram)
