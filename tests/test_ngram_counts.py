"""The n-gram counts at scale: counted in chunks with the same result as over the whole stream at once,
from a memory map as from an array; and pruning, which keeps every distribution summing to one."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import CORPUS_TEXT
from hypothesis import given, settings
from hypothesis import strategies as st

from autocomplete import ngram, ngram_counts
from autocomplete.config import TrainConfig
from autocomplete.dataset import prepare
from autocomplete.ngram import KneserNey, count_grams

FIRST_ID = 3
# Written once after the thrice-repeated CORPUS_TEXT: n-grams seen once, twice and more, for pruning.
ONCE = "The dog sat on the gate. The bird saw the king. My lord walked to the sea in the evening.\n"


def whole_stream_grams(ids: np.ndarray, n: int, vocab_size: int) -> tuple[np.ndarray, np.ndarray]:
    """The counting that fit did before chunks: every n-gram of the stream in one np.unique."""
    windows = np.lib.stride_tricks.sliding_window_view(np.asarray(ids, dtype=np.int64), n)
    codes = np.zeros(len(windows), dtype=np.int64)
    for j in range(n):
        codes = codes * vocab_size + windows[:, j]
    return np.unique(codes, return_counts=True)


@pytest.fixture(scope="module")
def corpus_ids(tmp_path_factory):
    path = tmp_path_factory.mktemp("corpus") / "corpus.txt"
    path.write_text(CORPUS_TEXT + ONCE, encoding="utf-8")
    corpus = prepare([path], TrainConfig())
    return corpus.ids, len(corpus.vocab)


def assert_same_arrays(model: KneserNey, expected: KneserNey) -> None:
    arrays, reference = model.to_arrays(), expected.to_arrays()
    assert arrays.keys() == reference.keys()
    for name, array in arrays.items():
        assert array.dtype == reference[name].dtype, name
        np.testing.assert_array_equal(array, reference[name], err_msg=name)


@pytest.mark.parametrize("order", [2, 3, 4])
@pytest.mark.parametrize("chunk", [1, 2, 3, 5, 37])
def test_chunked_counts_are_the_whole_streams(corpus_ids, order, chunk):
    ids, vocab_size = corpus_ids
    assert len(ids) > 10 * chunk  # many n-grams straddle a chunk boundary
    grams = count_grams(ids, order, vocab_size, chunk)
    assert len(grams) == order
    for n, (codes, counts) in enumerate(grams, start=1):
        expected_codes, expected_counts = whole_stream_grams(ids, n, vocab_size)
        np.testing.assert_array_equal(codes, expected_codes)
        np.testing.assert_array_equal(counts, expected_counts)
        assert codes.dtype == counts.dtype == np.int64 and counts.sum() == len(ids) - n + 1


@pytest.mark.parametrize("order", [2, 3, 4])
@pytest.mark.parametrize("discount", [0.75, None])
def test_the_model_is_the_same_whatever_the_chunk(corpus_ids, order, discount):
    ids, vocab_size = corpus_ids
    expected = KneserNey.fit(ids, vocab_size, order, discount, chunk=len(ids))  # one chunk: the whole stream
    for chunk in (1, 2, 7):
        model = KneserNey.fit(ids, vocab_size, order, discount, chunk=chunk)
        assert_same_arrays(model, expected)
        for context in ([], ids[:1], ids[10:13], [FIRST_ID, FIRST_ID + 1]):
            np.testing.assert_array_equal(model.next_word_probs(context), expected.next_word_probs(context))


@pytest.mark.parametrize("chunk", [3, 5, 37])
def test_counts_merged_in_place_a_few_codes_at_a_time(corpus_ids, monkeypatch, chunk):
    ids, vocab_size = corpus_ids
    monkeypatch.setattr(ngram_counts, "MOVE_BLOCK", 2)  # the merged codes move to their places two at a time
    for n, (codes, counts) in enumerate(count_grams(ids, 4, vocab_size, chunk), start=1):
        expected_codes, expected_counts = whole_stream_grams(ids, n, vocab_size)
        np.testing.assert_array_equal(codes, expected_codes)
        np.testing.assert_array_equal(counts, expected_counts)


@pytest.mark.parametrize("prune", [0, (1, 1)])
def test_the_model_is_the_same_whatever_the_block_of_pairs(corpus_ids, monkeypatch, prune):
    ids, vocab_size = corpus_ids
    expected = KneserNey.fit(ids, vocab_size, 3, None, prune=prune)
    monkeypatch.setattr(ngram, "_PAIRS", 3)  # the continuation counts and each context's left mass in blocks
    model = KneserNey.fit(ids, vocab_size, 3, None, prune=prune)
    assert_same_arrays(model, expected)
    for left, reference in zip(model._left, expected._left, strict=True):
        np.testing.assert_array_equal(left, reference)
    for context in ([], ids[:1], ids[10:13], [FIRST_ID, FIRST_ID + 1]):
        np.testing.assert_array_equal(model.next_word_probs(context), expected.next_word_probs(context))


def test_a_memory_map_is_counted_like_an_array(corpus_ids, tmp_path):
    ids, vocab_size = corpus_ids
    np.save(tmp_path / "ids.npy", ids)
    mapped = np.load(tmp_path / "ids.npy", mmap_mode="r")
    expected = KneserNey.fit(ids, vocab_size, 3, None)
    assert_same_arrays(KneserNey.fit(mapped, vocab_size, 3, None, chunk=5), expected)


@settings(max_examples=150, deadline=None)
@given(
    vocab_size=st.integers(FIRST_ID + 1, 12),
    length=st.integers(0, 120),
    order=st.integers(2, 4),
    chunk=st.integers(1, 40),
    seed=st.integers(0, 2**32 - 1),
)
def test_chunked_counts_on_random_streams(vocab_size, length, order, chunk, seed):
    ids = np.random.default_rng(seed).integers(FIRST_ID, vocab_size, size=length).astype(np.int32)
    for n, (codes, counts) in enumerate(count_grams(ids, order, vocab_size, chunk), start=1):
        if length >= n:
            expected_codes, expected_counts = whole_stream_grams(ids, n, vocab_size)
        else:
            expected_codes = expected_counts = np.zeros(0, np.int64)
        np.testing.assert_array_equal(codes, expected_codes)
        np.testing.assert_array_equal(counts, expected_counts)


def test_a_chunk_of_no_ids_is_refused():
    with pytest.raises(ValueError, match="chunk must be at least 1"):
        count_grams(np.arange(5), 3, 8, chunk=0)


# Pruning


def top_pairs(model: KneserNey) -> int:
    return len(model.levels[-1].ids)


def test_prune_zero_is_no_pruning(corpus_ids):
    ids, vocab_size = corpus_ids
    unpruned = KneserNey.fit(ids, vocab_size, 3, None)
    assert_same_arrays(KneserNey.fit(ids, vocab_size, 3, None, prune=0), unpruned)
    assert_same_arrays(KneserNey.fit(ids, vocab_size, 3, None, prune=(0, 0)), unpruned)


@pytest.mark.parametrize(("prune", "kept"), [(1, (1, 2)), (2, (1, 3)), ((1, 1), (2, 2)), ((1, 2), (2, 3))])
def test_pruning_drops_the_ngrams_seen_at_most_that_often(corpus_ids, prune, kept):
    ids, vocab_size = corpus_ids
    model = KneserNey.fit(ids, vocab_size, 3, None, prune=prune)
    for level, n, least in zip(model.levels, (2, 3), kept, strict=True):
        codes, counts = whole_stream_grams(ids, n, vocab_size)
        expected = codes[counts >= least]
        contexts = np.repeat(level.keys, np.diff(level.starts))
        got = contexts * vocab_size + level.ids
        np.testing.assert_array_equal(got, expected)
    assert top_pairs(model) < top_pairs(KneserNey.fit(ids, vocab_size, 3, None))


def test_pruning_keeps_the_discounts_of_the_unpruned_counts(corpus_ids):
    ids, vocab_size = corpus_ids
    np.testing.assert_array_equal(
        KneserNey.fit(ids, vocab_size, 3, None, prune=(1, 2)).discounts,
        KneserNey.fit(ids, vocab_size, 3, None).discounts,
    )


def test_a_pruned_followers_mass_goes_to_the_shorter_context():
    # "a b c" once, "a b d" twice: pruning singleton trigrams leaves c to what the context "b" says of it.
    ids = np.array([3, 4, 5, 3, 4, 6, 3, 4, 6, 7])
    vocab_size = 8
    pruned = KneserNey.fit(ids, vocab_size, 3, discount=0.75, prune=1)
    shorter = KneserNey.fit(ids, vocab_size, 3, discount=0.75).next_word_probs([4])
    np.testing.assert_array_equal(pruned.next_word_probs([4]), shorter)  # the bigram level is not pruned
    total, kept = 3.0, 2 - 0.75  # c(a b) = 3; "a b d" keeps 2 - 0.75, the rest backs off
    expected = (total - kept) / total * shorter
    expected[6] += kept / total
    np.testing.assert_allclose(pruned.next_word_probs([3, 4]), expected, rtol=1e-6)


@settings(max_examples=100, deadline=None)
@given(
    vocab_size=st.integers(FIRST_ID + 2, 10),
    length=st.integers(2, 200),
    order=st.integers(2, 4),
    prune=st.lists(st.integers(0, 4), min_size=3, max_size=3),
    discount=st.sampled_from([0.75, None]),
    seed=st.integers(0, 2**32 - 1),
)
def test_pruned_distributions_sum_to_one(vocab_size, length, order, prune, discount, seed):
    rng = np.random.default_rng(seed)
    ids = rng.integers(FIRST_ID, vocab_size, size=length)
    model = KneserNey.fit(ids, vocab_size, order, discount, prune=tuple(prune[: order - 1]), chunk=7)
    contexts = [ids[i : i + order - 1] for i in range(0, length - order + 2, 5)]
    contexts += [rng.integers(FIRST_ID, vocab_size, size=order - 1) for _ in range(10)]
    for context in contexts:
        probs = model.next_word_probs(context)
        assert probs.sum(dtype=np.float64) == pytest.approx(1.0, abs=1e-6) and (probs >= 0).all()


@pytest.mark.parametrize("prune", [(1,), (1, 2, 3), -1, (0, -1)])
def test_bad_prune_values(prune):
    with pytest.raises(ValueError, match=r"prune takes 2 counts of 0 or more, one per order 2\.\.3"):
        KneserNey.fit(np.arange(3, 10), 10, 3, prune=prune)


def test_a_stream_shorter_than_the_order():
    # No trigram at all: the continuation counts of the bigrams are all 0 (this raised IndexError before).
    model = KneserNey.fit(np.array([3, 4]), 6, 3)
    assert len(model.levels[1].keys) == 0 and (model.levels[0].vals == 0).all()
    assert model.next_word_probs([3, 4]).sum(dtype=np.float64) == pytest.approx(1.0)


def test_codes_already_merged_are_counted_at_once_and_never_wait():
    merged = ngram_counts._Merged()
    merged.add(np.arange(0, 200, 2, dtype=np.int64), np.ones(100, dtype=np.int64))  # merged at once
    merged.add(np.array([4, 10, 198], dtype=np.int64), np.array([2, 3, 4], dtype=np.int64))
    assert merged.waiting == [] and merged.size == 0  # a repeated text's chunks hold nothing more
    merged.add(np.array([5, 10], dtype=np.int64), np.array([1, 1], dtype=np.int64))
    assert [codes.tolist() for codes, _ in merged.waiting] == [[5]] and merged.size == 1
    codes, counts = merged.result()
    np.testing.assert_array_equal(codes, np.concatenate([np.arange(0, 6, 2), [5], np.arange(6, 200, 2)]))
    expected = np.ones(101, dtype=np.int64)
    expected[[2, 6, 100]] = [3, 5, 5]  # 4, 10 (twice more) and 198
    np.testing.assert_array_equal(counts, expected)
