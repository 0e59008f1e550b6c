"""The tf.data training input: the windows dataset.windows and slicing give, in a seeded order per epoch."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from conftest import TINY
from hypothesis import given, settings
from hypothesis import strategies as st

from autocomplete.dataset import windows
from autocomplete.pipeline import window_range, windows_dataset
from autocomplete.vocab import UNKNOWN_ID

CONTEXT = 2


def stream(n: int = 103, vocab: int = 40, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, vocab, size=n).astype(np.int32)


def expected(ids, context, start, stop, lstm_vocab=None):
    """Today's windows: dataset.windows, sliced by target index, mapped as dataset.beyond_as_unknown does."""
    contexts, targets = windows(ids, context)
    rows = slice(max(start, context) - context, max(0, min(stop, len(ids)) - context))
    x, y = contexts[rows], targets[rows]
    if lstm_vocab is not None:
        x, y = (np.where(a < lstm_vocab, a, UNKNOWN_ID).astype(np.int32) for a in (x, y))
    return x, y


def one_pass(dataset):
    batches = list(dataset.as_numpy_iterator())
    x = np.concatenate([b[0] for b in batches])
    y = np.concatenate([b[1] for b in batches])
    return x, y, [len(b[1]) for b in batches]


def pairs(x, y) -> Counter:
    return Counter(zip(map(tuple, x.tolist()), y.tolist(), strict=True))


@pytest.mark.parametrize(
    ("length", "context", "start", "stop", "expected_range"),
    [
        (10, 2, 0, 10, range(0, 8)),  # targets 2..9: every window
        (10, 2, 2, 7, range(0, 5)),
        (10, 2, 7, 10, range(5, 8)),
        (10, 3, 0, 100, range(0, 7)),  # stop beyond the stream
        (10, 2, 9, 5, range(7, 7)),  # empty
    ],
)
def test_window_range_holds_the_windows_whose_target_is_in_the_span(
    length, context, start, stop, expected_range
):
    assert window_range(length, context, start, stop) == expected_range


@pytest.mark.parametrize("batch_size", [1, 7, 16, 200])
@pytest.mark.slow
def test_in_order_it_gives_exactly_todays_windows(batch_size):
    ids = stream()
    x, y, sizes = one_pass(windows_dataset(ids, CONTEXT, 0, 90, batch_size, seed=0, shuffle=False))
    want_x, want_y = expected(ids, CONTEXT, 0, 90)
    assert x.dtype == np.int32 and y.dtype == np.int32 and x.shape == (88, CONTEXT)
    np.testing.assert_array_equal(x, want_x)
    np.testing.assert_array_equal(y, want_y)
    assert sizes == [batch_size] * (88 // batch_size) + ([88 % batch_size] if 88 % batch_size else [])


@pytest.mark.slow
def test_validation_tail_in_order_with_the_lstm_mapping():
    ids = stream(vocab=40)
    dataset = windows_dataset(ids, 3, 90, len(ids), 8, seed=0, shuffle=False, lstm_vocab=20)
    x, y, _ = one_pass(dataset)
    want_x, want_y = expected(ids, 3, 90, len(ids), lstm_vocab=20)
    np.testing.assert_array_equal(x, want_x)
    np.testing.assert_array_equal(y, want_y)
    assert (x < 20).all() and (y < 20).all() and (y == UNKNOWN_ID).any()


@pytest.mark.slow
@settings(max_examples=15, deadline=None)
@given(
    length=st.integers(4, 300),
    context=st.integers(1, 4),
    start=st.integers(0, 300),
    span=st.integers(1, 300),
    batch_size=st.integers(1, 64),
    seed=st.integers(0, 2**31 - 1),
)
def test_each_shuffled_epoch_is_a_permutation_of_todays_windows(
    length, context, start, span, batch_size, seed
):
    ids = stream(length, seed=seed % 1000)
    stop = start + span
    if not len(window_range(length, context, start, stop)):
        with pytest.raises(ValueError, match="no window"):
            windows_dataset(ids, context, start, stop, batch_size, seed)
        return
    dataset = windows_dataset(ids, context, start, stop, batch_size, seed, lstm_vocab=25)
    want = pairs(*expected(ids, context, start, stop, lstm_vocab=25))
    for _ in range(2):
        x, y, sizes = one_pass(dataset)
        assert pairs(x, y) == want
        assert max(sizes) <= batch_size and len(sizes) == dataset.cardinality().numpy()


@pytest.mark.slow
def test_epochs_differ_and_a_seed_repeats_them():
    ids = np.arange(500, dtype=np.int32)  # every window distinct: its first id says which it is
    dataset = windows_dataset(ids, CONTEXT, 0, len(ids), 64, seed=3)
    first, second = (one_pass(dataset)[0][:, 0] for _ in range(2))
    again = windows_dataset(ids, CONTEXT, 0, len(ids), 64, seed=3)
    other = windows_dataset(ids, CONTEXT, 0, len(ids), 64, seed=4)
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(one_pass(again)[0][:, 0], first)
    np.testing.assert_array_equal(one_pass(again)[0][:, 0], second)
    assert not np.array_equal(one_pass(other)[0][:, 0], first)
    assert sorted(first.tolist()) == list(range(498))


@pytest.mark.slow
def test_a_pass_of_per_pass_windows_is_a_fresh_sample_without_repeats():
    ids = np.arange(1000, dtype=np.int32)  # window w starts with id w
    dataset = windows_dataset(ids, CONTEXT, 0, len(ids), 64, seed=2, per_pass=300)
    passes = [one_pass(dataset) for _ in range(3)]
    for x, y, sizes in passes:
        assert sizes == [64] * 4 + [44] and dataset.cardinality().numpy() == 5
        assert len(set(x[:, 0].tolist())) == 300 and set(x[:, 0].tolist()) <= set(range(998))
        np.testing.assert_array_equal(y, x[:, 0] + CONTEXT)  # whole windows, their own targets
    first, second = (set(p[0][:, 0].tolist()) for p in passes[:2])
    assert first != second
    again = one_pass(windows_dataset(ids, CONTEXT, 0, len(ids), 64, seed=2, per_pass=300))[0]
    np.testing.assert_array_equal(again, passes[0][0])


@pytest.mark.slow
def test_per_pass_beyond_the_windows_is_every_window_and_in_order_it_is_refused():
    ids = stream(50)
    x, y, _ = one_pass(windows_dataset(ids, CONTEXT, 0, len(ids), 8, seed=0, per_pass=10_000))
    assert pairs(x, y) == pairs(*expected(ids, CONTEXT, 0, len(ids)))
    with pytest.raises(ValueError, match="random sample: it needs shuffle"):
        windows_dataset(ids, CONTEXT, 0, len(ids), 8, seed=0, shuffle=False, per_pass=10)


@pytest.mark.slow
def test_the_order_is_well_mixed():
    # A weak shuffle keeps windows near their place: the rank correlation of place and position stays ~0.
    n = 20000
    order = one_pass(windows_dataset(np.arange(n, dtype=np.int32), 1, 0, n, 512, seed=0))[0][:, 0]
    correlation = np.corrcoef(order, np.arange(n - 1))[0, 1]
    assert abs(correlation) < 0.05
    assert np.abs(np.diff(order)).mean() > n / 4  # neighbours in a batch come from far apart


@pytest.fixture(scope="module")
def sampled_pass() -> tuple[int, np.ndarray]:
    """One pass of a quarter of 3M windows (the whole git log's regime) of context 1, each window's first id
    its index: (the window count, the pass's window indices in order)."""
    n = 3_000_000
    ids = np.arange(n + 1, dtype=np.int32)
    return n, one_pass(windows_dataset(ids, 1, 0, n + 1, 4096, seed=0, per_pass=n // 4))[0][:, 0]


@pytest.mark.slow
def test_neighbouring_positions_take_unrelated_windows(sampled_pass):
    _, order = sampled_pass  # one index_shuffle alone: 0.18-0.20 (seeds 0, 1), and 0.09 at 600,000 windows
    assert abs(np.corrcoef(order[:-1], order[1:])[0, 1]) < 0.02


@pytest.mark.slow
def test_a_sampled_pass_is_even_over_the_text(sampled_pass):
    # Counts per fiftieth of the text, as a chi-square scaled for sampling without repeats, stay near their
    # 49 degrees of freedom (one index_shuffle alone: 185).
    n, order = sampled_pass
    parts, m = 50, len(order)
    counts = np.bincount(order * parts // n, minlength=parts)
    chi2 = ((counts - m / parts) ** 2 / (m / parts)).sum() / (1 - m / n)
    assert chi2 < 100  # P(chi2 > 100 | 49 dof) < 1e-4


@pytest.mark.slow
def test_a_memmapped_stream_gives_the_same_windows(tmp_path):
    ids = stream(1000)
    np.save(tmp_path / "ids.npy", ids)
    mapped = np.load(tmp_path / "ids.npy", mmap_mode="r")
    x, y, _ = one_pass(windows_dataset(mapped, CONTEXT, 0, 1000, 100, seed=1))
    assert pairs(x, y) == pairs(*expected(ids, CONTEXT, 0, 1000))


@pytest.mark.slow
def test_the_project_model_fits_epochs_on_it_each_in_its_own_order():
    import tensorflow as tf

    from autocomplete.inference import lstm_probs
    from autocomplete.model import build_model, export_weights, import_keras

    keras = import_keras()
    keras.utils.set_random_seed(0)
    ids = stream(2000, vocab=60)
    model = build_model(40, TINY)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=TINY.learning_rate),
                  loss="sparse_categorical_crossentropy")  # fmt: skip
    seen: list[np.ndarray] = []  # the targets of every batch fit() drew, in order

    def record(y):
        seen.append(y.copy())
        return y

    dataset = windows_dataset(ids, TINY.context, 0, 1800, 64, seed=0, lstm_vocab=40)
    dataset = dataset.map(lambda x, y: (x, tf.ensure_shape(tf.numpy_function(record, [y], tf.int32), [None])))
    history = model.fit(dataset, epochs=2, verbose=0, shuffle=False)
    assert len(history.history["loss"]) == 2 and np.isfinite(history.history["loss"]).all()
    steps = int(dataset.cardinality())
    assert len(seen) == 2 * steps
    first, second = np.concatenate(seen[:steps]), np.concatenate(seen[steps:])
    want = expected(ids, TINY.context, 0, 1800, 40)[1]
    assert sorted(first) == sorted(second) == sorted(want) and not np.array_equal(first, second)
    val = windows_dataset(ids, TINY.context, 1800, len(ids), 64, seed=0, shuffle=False, lstm_vocab=40)
    assert np.isfinite(model.evaluate(val, verbose=0))
    probs = lstm_probs(export_weights(model), expected(ids, TINY.context, 1800, 2000, 40)[0])
    assert np.isfinite(probs).all()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)


@pytest.mark.slow
def test_shards_share_out_the_windows_once_in_equal_batches():
    ids = np.arange(300, dtype=np.int32)  # 298 windows: 99 for each of 3 shards, one left out per pass
    shards = [windows_dataset(ids, CONTEXT, 0, 300, 16, seed=5, shard=(3, i)) for i in range(3)]
    passes = []
    for _ in range(2):
        firsts, sizes = zip(*[(x[:, 0], s) for x, _, s in map(one_pass, shards)], strict=True)
        every = np.concatenate(firsts).tolist()
        assert len(set(every)) == len(every) == 297 and set(every) <= set(range(298))
        assert list(sizes) == [[16] * 6 + [3]] * 3  # collective steps pair up across the workers
        passes.append(set(range(298)) - set(every))
    assert passes[0] != passes[1]  # a different window left out each pass


@pytest.mark.slow
@settings(max_examples=20, deadline=None)
@given(windows=st.integers(1, 200), count=st.integers(1, 4), batch_size=st.integers(1, 40))
def test_every_shard_gives_the_same_batch_sizes(windows, count, batch_size):
    ids = np.arange(windows + CONTEXT, dtype=np.int32)
    if windows < count:
        with pytest.raises(ValueError, match=f"^{windows} windows cannot be shared out among {count} input"):
            windows_dataset(ids, CONTEXT, 0, len(ids), batch_size, seed=1, shard=(count, 0))
        return
    sizes = [
        one_pass(windows_dataset(ids, CONTEXT, 0, len(ids), batch_size, seed=1, shard=(count, i)))[2]
        for i in range(count)
    ]
    assert sizes == [sizes[0]] * count and sum(sizes[0]) == windows // count
