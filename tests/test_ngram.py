"""The Kneser-Ney n-gram: equal to nltk's KneserNeyInterpolated, normalised, backing off, saved and loaded."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from autocomplete.ngram import KneserNey, _chen_goodman

# The first bigram ("the cat") recurs later: the one place our model differs from nltk on purpose (followers
# seen only at the very start of the stream, see ngram._group) does not arise, so the two must agree exactly.
TEXT = (
    "the cat sat on the mat and the dog sat on the rug . the cat saw the dog . "
    "a dog ran to the cat and the cat ran to a mat . on the rug sat a cat ."
)
TOKENS = TEXT.split()
WORDS = list(dict.fromkeys(TOKENS))
FIRST_ID = 3  # ids 0-2 are the vocabulary's markers, never in the stream
IDS = np.array([FIRST_ID + WORDS.index(t) for t in TOKENS])
V = FIRST_ID + len(WORDS)


@pytest.fixture(scope="module")
def nltk_model():
    from nltk.lm import KneserNeyInterpolated
    from nltk.util import everygrams

    model = KneserNeyInterpolated(order=3, discount=0.75)
    model.fit([list(everygrams(TOKENS, max_len=3))], vocabulary_text=TOKENS)
    return model


@pytest.fixture(scope="module")
def ours():
    return KneserNey.fit(IDS, V, order=3, discount=0.75)


def contexts_to_check():
    """Every context of the text (1 and 2 words), plus unseen pairs of seen words."""
    seen = {tuple(TOKENS[i : i + n]) for n in (1, 2) for i in range(len(TOKENS) - n + 1)}
    unseen = {("mat", "mat"), ("rug", "the"), (".", ".")}
    return sorted(seen | unseen)


def test_parity_with_nltk(nltk_model, ours):
    assert ours.order == 3 and (ours.discounts[:, 1:] == 0.75).all()
    checked = 0
    for context in contexts_to_check():
        probs = ours.next_word_probs([FIRST_ID + WORDS.index(w) for w in context])
        expected = [nltk_model.score(word, list(context)) for word in WORDS]
        np.testing.assert_allclose(probs[FIRST_ID:], expected, atol=1e-6, err_msg=str(context))
        checked += 1
    assert checked > 40


def test_parity_of_the_unigram_level(nltk_model, ours):
    expected = [nltk_model.score(word) for word in WORDS]
    np.testing.assert_allclose(ours.next_word_probs([])[FIRST_ID:], expected, atol=1e-6)


@pytest.mark.parametrize("order", [2, 3, 4])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_distribution_sums_to_one(order, seed):
    # Random streams: the first n-grams usually never recur (nltk's sums drift from 1 there, ours do not).
    rng = np.random.default_rng(seed)
    vocab_size = 12
    ids = rng.integers(FIRST_ID, vocab_size, size=300)
    model = KneserNey.fit(ids, vocab_size, order)
    contexts = [ids[i : i + order - 1] for i in range(len(ids) - order + 2)]
    contexts += [list(c) for c in itertools.product(range(FIRST_ID, vocab_size), repeat=min(order - 1, 2))]
    for context in contexts:
        probs = model.next_word_probs(context)
        assert probs.shape == (vocab_size,) and probs.dtype == np.float32  # the predictor's precision
        assert probs.sum(dtype=np.float64) == pytest.approx(1.0, abs=1e-6) and (probs >= 0).all()
    assert (model.next_word_probs(ids[:0])[:FIRST_ID] == 0).all()  # markers never seen, never predicted


def test_unseen_contexts_back_off(ours):
    unseen = 0  # the padding id: never in the stream
    the, cat = FIRST_ID + WORDS.index("the"), FIRST_ID + WORDS.index("cat")
    np.testing.assert_array_equal(ours.next_word_probs([unseen, unseen]), ours.unigram.astype(np.float32))
    np.testing.assert_array_equal(ours.next_word_probs([unseen, the]), ours.next_word_probs([the]))
    assert not np.allclose(ours.next_word_probs([the]), ours.unigram)
    assert not np.array_equal(ours.next_word_probs([the, cat]), ours.next_word_probs([cat]))


def test_only_the_last_order_minus_one_ids_count(ours):
    the, cat = FIRST_ID + WORDS.index("the"), FIRST_ID + WORDS.index("cat")
    np.testing.assert_array_equal(
        ours.next_word_probs([cat, cat, the, cat]), ours.next_word_probs([the, cat])
    )


def test_next_word_probs_returns_a_fresh_array(ours):
    probs = ours.next_word_probs([FIRST_ID])
    probs[:] = 0
    assert ours.next_word_probs([FIRST_ID]).sum() == pytest.approx(1.0)
    assert ours.unigram.sum() == pytest.approx(1.0)


def test_arrays_round_trip_through_npz(ours, tmp_path):
    path = tmp_path / "ngram.npz"
    np.savez(path, **ours.to_arrays())
    with np.load(path, allow_pickle=False) as arrays:
        loaded = KneserNey.from_arrays(dict(arrays))
    assert (loaded.vocab_size, loaded.order) == (ours.vocab_size, ours.order)
    np.testing.assert_array_equal(loaded.discounts, ours.discounts)
    for context in contexts_to_check():
        ids = [FIRST_ID + WORDS.index(w) for w in context]
        np.testing.assert_array_equal(loaded.next_word_probs(ids), ours.next_word_probs(ids))


@pytest.mark.parametrize("order", [1, 5])
def test_order_out_of_range_is_refused(order):
    with pytest.raises(ValueError, match="order"):
        KneserNey.fit(IDS, V, order)


def test_a_stream_shorter_than_the_order():
    model = KneserNey.fit(np.array([FIRST_ID]), V, 3)
    assert model.next_word_probs([FIRST_ID, FIRST_ID]).shape == (V,)


# --- modified Kneser-Ney (the hybrid's n-gram) ------------------------------------------------------


@pytest.mark.parametrize("order", [2, 3, 4])
@pytest.mark.parametrize("seed", [0, 1])
def test_modified_kneser_ney_distributions_sum_to_one(order, seed):
    rng = np.random.default_rng(seed)
    vocab_size = 12
    ids = np.concatenate([rng.integers(FIRST_ID, vocab_size, size=400), np.tile([3, 4, 5], 30)])
    model = KneserNey.fit(ids, vocab_size, order, discount=None)
    assert model.discounts.shape == (order - 1, 4) and (model.discounts[:, 0] == 0).all()
    assert not np.allclose(model.discounts[:, 1:], 0.75)  # estimated, not the fallback
    contexts = [ids[i : i + order - 1] for i in range(len(ids) - order + 2)]
    contexts += [list(c) for c in itertools.product(range(FIRST_ID, vocab_size), repeat=min(order - 1, 2))]
    for context in contexts:
        probs = model.next_word_probs(context)
        assert probs.sum(dtype=np.float64) == pytest.approx(1.0, abs=1e-6) and (probs >= 0).all()


def test_chen_goodman_discounts():
    # counts of counts n1..n4 = 10, 5, 3, 2: Y = 10 / 20 = 0.5, D1 = 1 - 2 * 0.5 * 5 / 10 = 0.5,
    # D2 = 2 - 3 * 0.5 * 3 / 5 = 1.1, D3+ = 3 - 4 * 0.5 * 2 / 3 = 1.6667
    vals = np.array([1.0] * 10 + [2.0] * 5 + [3.0] * 3 + [4.0] * 2 + [9.0])
    assert _chen_goodman(vals) == pytest.approx((0.5, 1.1, 3 - 4 / 3))
    assert _chen_goodman(np.array([1.0, 1.0, 2.0])) == (0.75, 0.75, 0.75)  # no count of 3 or 4: the fallback


def test_discounts_that_do_not_fit_the_order_are_refused(ours):
    arrays = ours.to_arrays()
    arrays["discounts"] = np.zeros((5, 4))
    with pytest.raises(ValueError, match="discounts"):
        KneserNey.from_arrays(arrays)


def test_modified_kneser_ney_against_a_hand_computed_example():
    """Order 2, worked by hand. Stream a b a b a b a b a c a c a c a d a d a e (ids 3-7): bigram counts
    ab 4, ba 4, ac 3, ca 3, ad 2, da 2, ae 1, so n1..n4 = 1, 2, 2, 2 and Y = 1 / (1 + 2 * 2) = 0.2:
    D1 = 1 - 2 Y n2/n1 = 0.2, D2 = 2 - 3 Y n3/n2 = 1.4, D3+ = 3 - 4 Y n4/n3 = 2.2.
    Continuation unigram (bigram types ending in each word, of 7): a 3/7, b c d e 1/7 each.
    After "a" (10 bigrams; discounts 2.2 + 2.2 + 1.4 + 0.2 = 6 go to the unigram, gamma 0.6):
    p(b) = (4 - 2.2)/10 + 0.6/7, p(c) = (3 - 2.2)/10 + 0.6/7, p(d) = (2 - 1.4)/10 + 0.6/7,
    p(e) = (1 - 0.2)/10 + 0.6/7, p(a) = 0.6 * 3/7. After "b" (ba 4): p(a) = 1.8/4 + 0.55 * 3/7, others
    0.55/7. After "e" (never followed): the unigram."""
    a, b, c, d, e = 3, 4, 5, 6, 7
    stream = [a, b] * 4 + [a, c] * 3 + [a, d] * 2 + [a, e]
    model = KneserNey.fit(np.array(stream), 8, order=2, discount=None)
    np.testing.assert_allclose(model.discounts, [[0.0, 0.2, 1.4, 2.2]], atol=1e-12)
    unigram = [0, 0, 0, 3 / 7, 1 / 7, 1 / 7, 1 / 7, 1 / 7]
    after_a = [0, 0, 0, 0.6 * 3 / 7, 0.18 + 0.6 / 7, 0.08 + 0.6 / 7, 0.06 + 0.6 / 7, 0.08 + 0.6 / 7]
    after_b = [0, 0, 0, 0.45 + 0.55 * 3 / 7, 0.55 / 7, 0.55 / 7, 0.55 / 7, 0.55 / 7]
    np.testing.assert_allclose(model.next_word_probs([a]), after_a, atol=1e-6)
    np.testing.assert_allclose(model.next_word_probs([b]), after_b, atol=1e-6)
    np.testing.assert_allclose(model.next_word_probs([e]), unigram, atol=1e-6)
    np.testing.assert_allclose(model.next_word_probs([]), unigram, atol=1e-6)
