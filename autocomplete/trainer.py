"""The Keras side of training: the first fit with early stopping, the refit on all the text, and the callback
between Keras' loop and the rest (progress, the stopping rule, signals).

Imports Keras (inside functions): training only.
"""

from __future__ import annotations

import contextlib
import math

from autocomplete.config import TrainConfig
from autocomplete.dataset import beyond_as_unknown, windows
from autocomplete.errors import ClusterError, Interrupted
from autocomplete.interrupts import Signals
from autocomplete.validation import EpochTracker, Validation

NOTHING_SAVED = "training was interrupted before the first epoch finished: nothing was saved"


def fit(lstm_vocab_size: int, config: TrainConfig, ids, n_train: int, validation: Validation | None,
        reporter, signals: Signals | None = None):  # fmt: skip
    """Train a new network on the first n_train windows of the id stream `ids` (T,) (read as `_epochs` says),
    with early stopping, on the devices `config.strategy` names. Returns (the Keras model holding
    the best epoch's weights, its EpochTracker, whether a Ctrl-C stopped it); raises Interrupted if no epoch
    finished."""
    from autocomplete import devices
    from autocomplete.model import build_model, import_keras

    keras = import_keras()
    where = _placement(config, reporter)
    keras.utils.set_random_seed(config.seed)
    with where.strategy.scope():
        model = build_model(lstm_vocab_size, config)
        model.compile(
            optimizer=keras.optimizers.Adam(learning_rate=where.learning_rate),
            loss="sparse_categorical_crossentropy",
        )
    devices.fit_under(model, config.context)
    tracker = EpochTracker(config.patience, validation)
    callback = epoch_callback(keras, tracker, reporter, signals, devices.chief_decides(where))
    words = min(n_train, config.epoch_words)
    reporter.start(config.epochs, math.ceil(words / where.batch_size), words)
    stopped = False
    try:
        _epochs(model, where, config, callback, config.epochs, ids, n_train + config.context)
    except KeyboardInterrupt:
        stopped = True
    if callback.best_weights is None:
        raise Interrupted(NOTHING_SAVED)
    model.set_weights(callback.best_weights)
    return model, tracker, stopped


def refit(config: TrainConfig, ids, model, reporter, signals: Signals | None = None) -> bool:
    """`config.refit_epochs` more epochs for the network validation chose, on every window of `ids` (the
    validation tail included, where some words occur and nowhere else), at a third of the learning rate,
    over the full softmax even when the first training sampled it. False if interrupted, with the weights
    put back as validation chose them."""
    from autocomplete import devices
    from autocomplete.model import full_softmax, import_keras

    keras = import_keras()
    strategy = model.distribute_strategy  # the refit trains on the devices the first training chose
    where = devices.placed(strategy, config.strategy, config.batch_size, config.learning_rate)
    with where.strategy.scope():
        model = full_softmax(model)
        model.compile(
            optimizer=keras.optimizers.Adam(learning_rate=where.learning_rate / 3),
            loss="sparse_categorical_crossentropy",
        )
    keep = model.get_weights()
    words = min(len(ids) - config.context, config.epoch_words)
    reporter.start(config.refit_epochs, math.ceil(words / where.batch_size), words)
    callback = epoch_callback(keras, EpochTracker(config.refit_epochs), reporter, signals)
    try:
        order = config.seed + 1  # the pipeline's epochs in orders of their own, not the first training's
        _epochs(model, where, config, callback, config.refit_epochs, ids, len(ids), order)
    except KeyboardInterrupt:
        model.set_weights(keep)
        return False
    return True


def _placement(config: TrainConfig, reporter):
    """The strategy for config.strategy, made before any other TensorFlow call, as a multi-worker one must."""
    from autocomplete import devices

    if devices.cluster_for(config.strategy) is not None:
        reporter.phase("Waiting for every worker of TF_CONFIG")
    return devices.placement(config.strategy, config.batch_size, config.learning_rate, config.cluster_timeout)


def _epochs(model, where, config: TrainConfig, callback, epochs: int, ids, stop: int,
            seed: int | None = None) -> None:  # fmt: skip
    """`epochs` of model.fit over the windows of `ids` (T,) whose target index is below `stop`. On one device,
    when they are no more than `config.epoch_words`, as in-memory arrays (at most 12 bytes a window),
    shuffled by Keras; else, and under a distribution strategy, read from `ids` (a memmap) by the tf.data
    pipeline a batch at a time, shuffled per epoch by it, at most `config.epoch_words` an epoch. (One device
    keeps the arrays: the pipeline's order scored worse on Sherlock, benchmarks/results/pipeline_check.md.)"""
    from autocomplete.pipeline import distributed_windows

    lstm_vocab = model.output_shape[-1]
    if not where.distributed and stop - config.context <= config.epoch_words:
        contexts, targets = windows(ids[:stop], config.context)
        x, y = beyond_as_unknown(contexts, lstm_vocab), beyond_as_unknown(targets, lstm_vocab)
        model.fit(x, y, batch_size=config.batch_size, epochs=epochs, shuffle=True, verbose=0,
                  callbacks=[callback])  # fmt: skip
        return
    seed = config.seed if seed is None else seed
    data = distributed_windows(where.strategy, ids, config.context, 0, stop, where.batch_size, seed,
                               lstm_vocab=lstm_vocab, per_pass=config.epoch_words)  # fmt: skip
    with _cluster_failures(config):
        model.fit(data, epochs=epochs, verbose=0, shuffle=False, callbacks=[callback])


@contextlib.contextmanager
def _cluster_failures(config: TrainConfig):
    """A worker that dies or stops answering mid-training (TensorFlow then aborts every collective op of the
    cluster, after its heartbeat timeout): ClusterError, one line, instead of TensorFlow's traceback."""
    import tensorflow as tf

    from autocomplete import devices

    lost = (tf.errors.UnavailableError, tf.errors.DeadlineExceededError, tf.errors.AbortedError)
    try:
        yield
    except lost as error:
        cluster = devices.cluster_for(config.strategy)
        if cluster is None:
            raise
        raise ClusterError(devices.lost_worker(error, cluster)) from None


def epoch_callback(keras, tracker: EpochTracker, reporter, signals: Signals | None = None, decide=None):
    """A Keras callback that reports progress, applies the tracker's stopping rule and keeps the best epoch's
    weights in memory (`best_weights`), so a Ctrl-C can still save them; a signal stops Keras' loop at the
    next batch. `decide` (improved, stop) -> (improved, stop), given on several workers, makes every worker
    act on the chief's decision (devices.chief_decides)."""
    from autocomplete.model import export_weights

    class EpochCallback(keras.callbacks.Callback):
        best_weights, epoch_now = None, 0

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch_now = epoch + 1

        def on_train_batch_end(self, batch, logs=None):
            if signals is not None:
                signals.check()
            reporter.batch(self.epoch_now, batch + 1, float((logs or {}).get("loss", math.nan)))

        def on_epoch_end(self, epoch, logs=None):
            loss = float((logs or {}).get("loss", math.nan))
            lstm = export_weights(self.model) if tracker.validation is not None else None
            improved = tracker.end_epoch(epoch + 1, loss, lstm)
            stop = tracker.stop
            if decide is not None:
                improved, stop = decide(improved, stop)
            if improved:
                self.best_weights = self.model.get_weights()
                if signals is not None:
                    signals.keep_best()  # something to save: a signal from now on stops, and saves
            if stop:
                self.model.stop_training = True
            reporter.epoch(epoch + 1, loss, tracker.perplexity, improved)
            if signals is not None:
                signals.check()

    return EpochCallback()
