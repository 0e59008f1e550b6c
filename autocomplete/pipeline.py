"""Training windows through `tf.data`: gathered per batch from the token-id stream (a memmap or an array),
never an in-memory array of every window.

Imports TensorFlow inside functions only: training only.

Window w of an id stream is (ids[w : w + context], ids[w + context]), the same as row w of
`dataset.windows(ids, context)`; its target index is w + context.
"""

from __future__ import annotations

import math

import numpy as np

from autocomplete.vocab import UNKNOWN_ID


def window_range(length: int, context: int, start: int, stop: int) -> range:
    """The window indices w whose target index w + context lies in [start, stop) of a stream of `length`
    ids. Targets before index `context` have no full context, so there is no window for them."""
    first = max(start, context) - context
    last = min(stop, length) - context
    return range(first, max(first, last))


def windows_dataset(
    ids: np.ndarray,
    context: int,
    start: int,
    stop: int,
    batch_size: int,
    seed: int,
    shuffle: bool = True,
    lstm_vocab: int | None = None,
    shard: tuple[int, int] = (1, 0),
    per_pass: int | None = None,
):
    """A `tf.data.Dataset` of (contexts (batch, context) int32, targets (batch,) int32): every window whose
    target index is in [start, stop), once per pass, the last batch short.

    shuffle=True: a fresh pseudo-random permutation of the windows on every pass (each `model.fit` epoch),
    the same sequence of permutations for the same seed. per_pass: a pass is only the first `per_pass`
    windows of its permutation, a fresh random sample of the windows (without repeats) each pass; None or
    at least the window count: all of them. The permutation is computed per index
    (`tf.random.experimental.index_shuffle`), so memory is O(batch) whatever the corpus size; the windows of
    each batch are read from `ids` with one numpy gather, so a memmap is read only where the batch touches.
    shuffle=False: the windows in order (validation).
    lstm_vocab: ids at or beyond it become the unknown marker in contexts and targets (the LSTM's outputs
    cover only the first `lstm_vocab` ids); None keeps them.
    shard=(count, index): only the positions index, index + count, ... of each pass's order below
    count * (drawn // count) (drawn: the pass's windows), so `count` input pipelines with the same seed
    share out the windows once each, all in the same number of batches of the same sizes (the workers'
    collective steps must pair up; a pass leaves out at most count - 1 windows, different ones each
    shuffled pass).

    The dataset's cardinality is known (ceil(its windows / batch_size)), so `model.fit` knows its steps."""
    import tensorflow as tf

    windows = window_range(len(ids), context, start, stop)
    n, first = len(windows), windows.start
    count, index = shard
    drawn = n if per_pass is None else min(n, per_pass)
    if n == 0:
        raise ValueError(f"no window has its target in [{start}, {stop}) of {len(ids)} ids")
    if drawn < n and not shuffle:
        raise ValueError("a pass of fewer windows than there are is a random sample: it needs shuffle")
    if drawn < count:
        raise ValueError(f"{drawn} windows cannot be shared out among {count} input pipelines")
    offsets = np.arange(context + 1, dtype=np.int64)

    def gather(starts: np.ndarray) -> np.ndarray:  # (b,) window indices -> (b, context + 1) ids
        return np.asarray(ids[(starts + first)[:, None] + offsets], dtype=np.int32)

    shared = range(index, count * (drawn // count), count)
    positions = tf.data.Dataset.range(shared.start, shared.stop, count).batch(batch_size)
    if shuffle:
        positions = _shuffled(tf, positions, n, seed)
    batches = math.ceil(len(shared) / batch_size)
    plain = tf.autograph.experimental.do_not_convert  # autograph would write each function to $TMPDIR
    rows = positions.map(plain(lambda p: tf.numpy_function(gather, [p], tf.int32, stateful=False)))
    rows = rows.apply(tf.data.experimental.assert_cardinality(batches))

    def split(block):
        block = tf.ensure_shape(block, [None, context + 1])
        if lstm_vocab is not None:
            block = tf.where(block < lstm_vocab, block, tf.constant(UNKNOWN_ID, tf.int32))
        return block[:, :context], block[:, context]

    return rows.map(plain(split), num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


def _shuffled(tf, positions, n: int, seed: int):
    """Each batch of positions p mapped through the pass's permutation of [0, n): the pass's keys come from
    a seeded random dataset that draws anew on every iteration, so epochs differ and runs repeat.

    The permutation is two index_shuffles with keys of their own: one alone leaves structure that grows
    with n (at 3M windows, neighbouring positions' windows correlate at 0.2 and a quarter-pass sample is
    uneven over the text; tests/test_pipeline.py), two in a row measure as a random permutation."""
    keys = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2).take(1)
    seed = tf.constant(seed, tf.int64)
    last = tf.constant(n - 1, tf.int64)
    plain = tf.autograph.experimental.do_not_convert
    shuffle = tf.random.experimental.index_shuffle

    def permuted(key):
        first, second = tf.stack([seed, key[0]]), tf.stack([seed, key[1]])
        return positions.map(plain(lambda p: shuffle(shuffle(p, first, last), second, last)))

    return keys.flat_map(plain(permuted))


def distributed_windows(strategy, ids: np.ndarray, context: int, start: int, stop: int, global_batch: int,
                        seed: int, shuffle: bool = True, lstm_vocab: int | None = None,
                        per_pass: int | None = None):  # fmt: skip
    """`windows_dataset` for `model.fit` under a `tf.distribute` strategy (the default one too). On one
    host: the dataset in global batches, which Keras splits among the local replicas. On several: one
    input pipeline per worker, each reading only its share of every pass's windows (tf.data's automatic
    sharding would have every worker read them all and drop the rest), in batches of global_batch /
    replicas for each of its replicas, the same count of batches on every worker; its cardinality is
    unknown, so Keras counts the steps in the first epoch."""
    import tensorflow as tf

    several = isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
    if not several or strategy.num_replicas_in_sync == len(strategy.extended.worker_devices):  # one host
        return windows_dataset(ids, context, start, stop, global_batch, seed, shuffle, lstm_vocab,
                               per_pass=per_pass)  # fmt: skip

    def pipeline(input_context):
        return windows_dataset(
            ids, context, start, stop, input_context.get_per_replica_batch_size(global_batch), seed, shuffle,
            lstm_vocab, shard=(input_context.num_input_pipelines, input_context.input_pipeline_id),
            per_pass=per_pass,
        )  # fmt: skip

    return strategy.distribute_datasets_from_function(pipeline)
