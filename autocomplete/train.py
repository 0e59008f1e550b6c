"""Training: corpus -> vocabulary -> sliding windows -> Keras LSTM (+ Kneser-Ney mix) -> a saved model folder.

The only module (with model.py) that imports TensorFlow, and only inside `train`. It reports through
a `Reporter` and never prints: the CLI supplies the one that draws a rich progress bar.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import signal
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from autocomplete import metrics, store
from autocomplete.config import TrainConfig
from autocomplete.corpus import CorpusFile, check_file, read_tokens
from autocomplete.errors import CorpusError, Interrupted
from autocomplete.inference import LstmWeights, Predictor, lstm_probs
from autocomplete.ngram import MAX_ORDER, KneserNey
from autocomplete.text import BOUNDARY
from autocomplete.vocab import Vocabulary


class Reporter(Protocol):
    def phase(self, text: str) -> None: ...
    def start(self, epochs: int, steps: int) -> None: ...
    def batch(self, epoch: int, step: int, loss: float) -> None: ...
    def epoch(self, epoch: int, loss: float, val_loss: float | None, improved: bool) -> None: ...


class SilentReporter:
    def phase(self, text: str) -> None: ...
    def start(self, epochs: int, steps: int) -> None: ...
    def batch(self, epoch: int, step: int, loss: float) -> None: ...
    def epoch(self, epoch: int, loss: float, val_loss: float | None, improved: bool) -> None: ...


@dataclass(frozen=True)
class TrainResult:
    name: str
    path: Path
    files: list[CorpusFile]
    words: int  # word tokens in the corpus (boundaries not counted)
    vocab_size: int
    parameters: int
    epochs_run: int
    best_epoch: int
    interrupted: bool
    lstm_weight: float  # the mixing weight of the LSTM against the n-gram (1.0 = LSTM alone)
    validation: metrics.NextWordScores | None  # of the predictor that ships
    validation_lstm: metrics.NextWordScores | None  # of the LSTM alone, for comparison
    seconds: float


@dataclass(frozen=True)
class PreparedCorpus:
    files: list[CorpusFile]
    vocab: Vocabulary
    ids: np.ndarray  # (T,) the token stream, starting with a boundary
    words: int


def prepare(paths: list[Path], config: TrainConfig) -> PreparedCorpus:
    """Read the files twice (count, then encode) so that a large corpus is never held as strings."""
    files = [check_file(Path(p)) for p in paths]
    counts = Counter(read_tokens(files))
    words = counts.total() - counts[BOUNDARY]
    if words < config.context + 1:
        names = ", ".join(f.name for f in files)
        raise CorpusError(
            f"{names} has {words} word{'s' * (words != 1)}: a context of {config.context} needs at least "
            f"{config.context + 1}; give a longer text"
        )
    vocab = Vocabulary.build(counts, config.max_vocab, config.min_count)
    ids = vocab.encode(itertools.chain([BOUNDARY], read_tokens(files)))
    return PreparedCorpus(files, vocab, ids, words)


def train(
    paths: list[Path],
    config: TrainConfig,
    name: str | None = None,
    force: bool = False,
    reporter: Reporter | None = None,
) -> TrainResult:
    """Train a model on the corpus files and save it in the store under `name` (default: the first file's stem)."""
    reporter = reporter or SilentReporter()
    config = config.validated()
    if not paths:
        raise CorpusError("no corpus file given")
    name = store.check_name(name or store.name_from_path(Path(paths[0])))
    started = time.monotonic()
    with _sigterm_as_interrupt(), store.training_lock(name, force):
        reporter.phase("Reading the corpus")
        corpus = prepare(paths, config)
        contexts, targets = metrics.windows(corpus.ids, config.context)
        n_val = _validation_size(len(targets), config.val_split)
        n_train = len(targets) - n_val
        reporter.phase("Loading TensorFlow")
        model, tracker, interrupted = _fit(corpus.vocab, config, contexts, targets, n_train, reporter)
        model.set_weights(tracker.best_weights)
        from autocomplete.model import export_weights

        lstm = export_weights(model)
        reporter.phase("Mixing in the n-gram model")
        predictor, validation, validation_lstm = _mix(corpus, config, lstm, contexts, targets, n_train)
        reporter.phase("Saving")
        path = _save(name, force, corpus, config, model, predictor, tracker, validation)
    return TrainResult(
        name=name, path=path, files=corpus.files, words=corpus.words, vocab_size=len(corpus.vocab),
        parameters=model.count_params(), epochs_run=tracker.epochs_run, best_epoch=tracker.best_epoch,
        interrupted=interrupted, lstm_weight=predictor.lstm_weight, validation=validation,
        validation_lstm=validation_lstm, seconds=time.monotonic() - started,
    )  # fmt: skip


def _validation_size(windows: int, split: float) -> int:
    """A contiguous tail of the windows, so validation measures text the model has not seen."""
    if windows < 2:
        return 0
    return min(max(1, round(windows * split)), windows - 1)


def _fit(vocab, config, contexts, targets, n_train, reporter):
    from autocomplete.model import build_model, import_keras

    keras = import_keras()

    keras.utils.set_random_seed(config.seed)
    model = build_model(len(vocab), config)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=config.learning_rate),
        loss="sparse_categorical_crossentropy",
    )
    tracker = _tracker(keras, config.patience, reporter)
    validation = (contexts[n_train:], targets[n_train:]) if n_train < len(targets) else None
    reporter.start(config.epochs, math.ceil(n_train / config.batch_size))
    interrupted = False
    try:
        model.fit(
            contexts[:n_train], targets[:n_train], batch_size=config.batch_size, epochs=config.epochs,
            validation_data=validation, shuffle=True, verbose=0, callbacks=[tracker],
        )  # fmt: skip
    except KeyboardInterrupt:
        interrupted = True
    if tracker.best_weights is None:
        raise Interrupted("training was interrupted before the first epoch finished: nothing was saved")
    return model, tracker, interrupted


def _tracker(keras, patience: int, reporter: Reporter):
    """Early stopping on validation loss that keeps the best weights in memory, so Ctrl-C can still save them."""

    class Tracker(keras.callbacks.Callback):
        best_weights, best_loss, best_epoch, epochs_run, epoch_now = None, math.inf, 0, 0, 0

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch_now = epoch + 1

        def on_train_batch_end(self, batch, logs=None):
            reporter.batch(self.epoch_now, batch + 1, float((logs or {}).get("loss", math.nan)))

        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            loss, val_loss = float(logs.get("loss", math.nan)), logs.get("val_loss")
            watched = float(val_loss) if val_loss is not None else loss
            improved = watched < self.best_loss
            self.epochs_run = epoch + 1
            if improved:
                self.best_weights, self.best_loss, self.best_epoch = self.model.get_weights(), watched, epoch + 1
            elif self.epochs_run - self.best_epoch >= patience:
                self.model.stop_training = True
            reporter.epoch(epoch + 1, loss, None if val_loss is None else float(val_loss), improved)

    return Tracker()


@contextlib.contextmanager
def _sigterm_as_interrupt():
    """SIGTERM while training is handled like Ctrl-C: stop, keep the best epoch so far, leave nothing half-written."""

    def handler(signum, frame):
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _mix(corpus: PreparedCorpus, config: TrainConfig, lstm: LstmWeights, contexts, targets, n_train):
    """Fit the n-gram on the training part, choose the mixing weight on validation, then refit it on everything."""
    vocab, n = corpus.vocab, config.context
    val_x, val_y = contexts[n_train:], targets[n_train:]
    lstm_only = Predictor(vocab, n, lstm)
    validation_lstm = metrics.score(lstm_only.batch_probs, val_x, val_y) if len(val_y) else None
    if not config.ngram:
        return lstm_only, validation_lstm, validation_lstm
    order = min(n, MAX_ORDER - 1) + 1
    held_out = KneserNey.fit(corpus.ids[: n_train + n], len(vocab), order)
    weight = _best_weight(lstm, held_out, val_x, val_y) if len(val_y) else 0.5
    validation = metrics.score(Predictor(vocab, n, lstm, held_out, weight).batch_probs, val_x, val_y) if len(val_y) else None
    final = KneserNey.fit(corpus.ids, len(vocab), order)
    return Predictor(vocab, n, lstm, final, weight), validation, validation_lstm


def _best_weight(lstm: LstmWeights, ngram: KneserNey, contexts, targets) -> float:
    """The LSTM's share (0..1, steps of 0.05) that minimises validation perplexity over real words."""
    keep = targets >= metrics.FIRST_WORD_ID
    contexts, targets = contexts[keep], targets[keep]
    if not len(targets):
        return 0.5
    rows = np.arange(len(targets))
    p_lstm = np.concatenate([lstm_probs(lstm, contexts[i : i + 512])[rows[: len(contexts[i : i + 512])], targets[i : i + 512]]
                             for i in range(0, len(targets), 512)])  # fmt: skip
    p_ngram = np.array([ngram.next_word_probs(c)[t] for c, t in zip(contexts, targets)])
    grid = np.linspace(0.0, 1.0, 21)
    losses = [-np.log(np.maximum(w * p_lstm + (1 - w) * p_ngram, 1e-300)).mean() for w in grid]
    return float(grid[int(np.argmin(losses))])


def _save(name, force, corpus, config, model, predictor, tracker, validation) -> Path:
    from autocomplete.model import build_model

    with store.writing(name, force) as folder:
        corpus.vocab.save(folder / store.VOCAB_FILE)
        np.savez(folder / store.WEIGHTS_FILE, **predictor.lstm.to_arrays())
        if predictor.ngram is not None:
            np.savez(folder / store.NGRAM_FILE, **predictor.ngram.to_arrays())
        clean = build_model(len(corpus.vocab), config)  # no optimizer state: a third of the size
        clean.set_weights(model.get_weights())
        clean.save(folder / store.KERAS_FILE)
        meta = store.new_meta(
            corpus=[{"name": f.name, "sha256": f.sha256, "bytes": f.size, "replaced_bytes": f.replaced} for f in corpus.files],
            words=corpus.words,
            tokens=int(len(corpus.ids)),
            vocab_size=len(corpus.vocab),
            config=config.to_json(),
            lstm_weight=predictor.lstm_weight,
            epochs_run=tracker.epochs_run,
            best_epoch=tracker.best_epoch,
            validation=validation.to_json() if validation else None,
        )
        store.write_json(folder / store.META_FILE, meta)
    return store.models_dir() / name
