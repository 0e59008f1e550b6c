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
from autocomplete.inference import LstmWeights, Predictor, lstm_probs, widen
from autocomplete.ngram import MAX_ORDER, KneserNey
from autocomplete.text import BOUNDARY
from autocomplete.vocab import UNKNOWN_ID, Vocabulary


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
    refit_epochs: int  # epochs of the second training, on all the text (0: none, the first network kept)
    lstm_words: int  # the first ids the LSTM predicts itself; rarer words share its unknown-marker output
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
    """Train a model on the corpus files and save it in the store under `name` (default: the first file's
    stem)."""
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
        f = lstm_vocab_size(corpus, config)
        lstm_x, lstm_y = _beyond_as_unknown(contexts, f), _beyond_as_unknown(targets, f)
        reporter.phase("Loading TensorFlow")
        model, tracker, interrupted = _fit(f, config, lstm_x, lstm_y, n_train, reporter)
        model.set_weights(tracker.best_weights)
        from autocomplete.model import export_weights

        lstm = export_weights(model)
        reporter.phase("Mixing in the n-gram model")
        predictor, validation, validation_lstm = _mix(corpus, config, lstm, contexts, targets, n_train)
        refit_epochs = 0
        if not interrupted and n_val and config.refit_epochs:
            more = "One more epoch" if config.refit_epochs == 1 else f"{config.refit_epochs} more epochs"
            reporter.phase(f"{more} on all the text, the validation part included")
            if _refit(config, lstm_x, lstm_y, model, reporter) is not None:
                refit_epochs = config.refit_epochs
                lstm = export_weights(model)
                predictor = Predictor(
                    corpus.vocab, config.context, lstm, predictor.ngram, predictor.lstm_weight
                )
        reporter.phase("Saving")
        path = _save(name, force, corpus, config, model, predictor, tracker, validation, refit_epochs)
    return TrainResult(
        name=name, path=path, files=corpus.files, words=corpus.words, vocab_size=len(corpus.vocab),
        parameters=model.count_params(), epochs_run=tracker.epochs_run, best_epoch=tracker.best_epoch,
        refit_epochs=refit_epochs, lstm_words=f,
        interrupted=interrupted, lstm_weight=predictor.lstm_weight, validation=validation,
        validation_lstm=validation_lstm, seconds=time.monotonic() - started,
    )  # fmt: skip


def _validation_size(windows: int, split: float) -> int:
    """A contiguous tail of the windows, so validation measures text the model has not seen."""
    if windows < 2:
        return 0
    return min(max(1, round(windows * split)), windows - 1)


def lstm_vocab_size(corpus: PreparedCorpus, config: TrainConfig) -> int:
    """How many of the first (most frequent) ids get an LSTM output of their own: all of them without the
    n-gram, else the markers and the words seen at least `lstm_min_count` times."""
    if not config.ngram or config.lstm_min_count <= 1:
        return len(corpus.vocab)
    counts = np.bincount(corpus.ids, minlength=len(corpus.vocab))[metrics.FIRST_WORD_ID :]
    return metrics.FIRST_WORD_ID + int((counts >= config.lstm_min_count).sum())  # ids are sorted by count


def _beyond_as_unknown(ids: np.ndarray, f: int) -> np.ndarray:
    """The ids the LSTM sees: words beyond its first f ids become the unknown marker ("some other word")."""
    return np.where(ids < f, ids, UNKNOWN_ID).astype(np.int32)


def _fit(f, config, contexts, targets, n_train, reporter):
    from autocomplete.model import build_model, import_keras

    keras = import_keras()
    keras.utils.set_random_seed(config.seed)
    model = build_model(f, config)
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


def _refit(config: TrainConfig, contexts, targets, model, reporter):
    """`config.refit_epochs` more epochs for the network validation chose, on every window (the validation
    tail included, where some words occur and nowhere else), at a third of the learning rate. (A fresh
    network trained on all the text for the chosen epoch count gained less on held-out text, for more time.)
    Returns the refitted network, or None if interrupted, with the weights put back as validation chose
    them."""
    from autocomplete.model import import_keras

    keras = import_keras()
    keep = model.get_weights()
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=config.learning_rate / 3),
        loss="sparse_categorical_crossentropy",
    )
    reporter.start(config.refit_epochs, math.ceil(len(targets) / config.batch_size))
    try:
        model.fit(
            contexts, targets, batch_size=config.batch_size, epochs=config.refit_epochs, shuffle=True,
            verbose=0, callbacks=[_tracker(keras, config.refit_epochs, reporter)],
        )  # fmt: skip
    except KeyboardInterrupt:
        model.set_weights(keep)
        return None
    return model


def _tracker(keras, patience: int, reporter: Reporter):
    """Early stopping on validation loss that keeps the best weights in memory, so Ctrl-C can still save
    them."""

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
                self.best_weights, self.best_loss = self.model.get_weights(), watched
                self.best_epoch = epoch + 1
            elif self.epochs_run - self.best_epoch >= patience:
                self.model.stop_training = True
            reporter.epoch(epoch + 1, loss, None if val_loss is None else float(val_loss), improved)

    return Tracker()


@contextlib.contextmanager
def _sigterm_as_interrupt():
    """SIGTERM while training is handled like Ctrl-C: stop, keep the best epoch so far, leave nothing
    half-written."""

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
    """Fit the n-gram on the training part, choose the mixing weight on validation, then refit it on
    everything. The n-gram is modified Kneser-Ney (three discounts per order)."""
    vocab, n = corpus.vocab, config.context
    val_x, val_y = contexts[n_train:], _unseen_as_unknown(targets[n_train:], corpus.ids[: n_train + n])
    lstm_only = Predictor(vocab, n, lstm)
    validation_lstm = metrics.score(lstm_only.batch_probs, val_x, val_y) if len(val_y) else None
    if not config.ngram:
        return lstm_only, validation_lstm, validation_lstm
    order = min(n, MAX_ORDER - 1) + 1
    held_out = KneserNey.fit(corpus.ids[: n_train + n], len(vocab), order, discount=None)
    weight = _best_weight(lstm, held_out, val_x, val_y) if len(val_y) else 0.5
    validation = None
    if len(val_y):
        validation = metrics.score(Predictor(vocab, n, lstm, held_out, weight).batch_probs, val_x, val_y)
    final = KneserNey.fit(corpus.ids, len(vocab), order, discount=None)
    return Predictor(vocab, n, lstm, final, weight), validation, validation_lstm


def _unseen_as_unknown(targets: np.ndarray, seen_ids: np.ndarray) -> np.ndarray:
    """Validation targets that the training part never shows become the unknown marker, which scoring counts
    but does not score: a model fitted on the training part cannot know them (the n-gram gives them 0, and so
    does the LSTM's share of "other word"), while the final model, fitted on every line, does."""
    seen = np.bincount(seen_ids, minlength=int(targets.max(initial=0)) + 1) > 0
    known = (targets < metrics.FIRST_WORD_ID) | seen[targets]
    return np.where(known, targets, UNKNOWN_ID).astype(targets.dtype)


def _best_weight(lstm: LstmWeights, ngram: KneserNey, contexts, targets) -> float:
    """The LSTM's share (0..1, steps of 0.05) that minimises validation perplexity over the real words the
    n-gram has seen. A word first met in the validation tail has n-gram probability 0 there, which would pull
    the weight towards the LSTM; the final n-gram, counted on every line, knows all of them."""
    keep = (targets >= metrics.FIRST_WORD_ID) & (ngram.unigram[targets] > 0)
    contexts, targets = contexts[keep], targets[keep]
    if not len(targets):
        return 0.5
    p_lstm, p_ngram = [], []
    for i in range(0, len(targets), 512):
        x, y = contexts[i : i + 512], targets[i : i + 512]
        ngram_p = np.array([ngram.next_word_probs(c) for c in x])
        rows = np.arange(len(y))
        p_lstm.append(widen(lstm_probs(lstm, x), ngram.vocab_size, ngram_p)[rows, y])
        p_ngram.append(ngram_p[rows, y])
    p_lstm, p_ngram = np.concatenate(p_lstm).astype(np.float64), np.concatenate(p_ngram).astype(np.float64)
    grid = np.linspace(0.0, 1.0, 21)
    losses = [-np.log(np.maximum(w * p_lstm + (1 - w) * p_ngram, 1e-300)).mean() for w in grid]
    return float(grid[int(np.argmin(losses))])


def _save(name, force, corpus, config, model, predictor, tracker, validation, refit_epochs) -> Path:
    from autocomplete.model import build_model

    with store.writing(name, force) as folder:
        corpus.vocab.save(folder / store.VOCAB_FILE)
        np.savez(folder / store.WEIGHTS_FILE, **predictor.lstm.to_arrays())
        if predictor.ngram is not None:
            np.savez(folder / store.NGRAM_FILE, **predictor.ngram.to_arrays())
        clean = build_model(predictor.lstm.vocab_size, config)  # no optimizer state: a third of the size
        clean.set_weights(model.get_weights())
        clean.save(folder / store.KERAS_FILE)
        meta = store.new_meta(
            corpus=[
                {"name": f.name, "sha256": f.sha256, "bytes": f.size, "replaced_bytes": f.replaced}
                for f in corpus.files
            ],
            words=corpus.words,
            tokens=int(len(corpus.ids)),
            vocab_size=len(corpus.vocab),
            config=config.to_json(),
            lstm_weight=predictor.lstm_weight,
            epochs_run=tracker.epochs_run,
            best_epoch=tracker.best_epoch,
            refit_epochs=refit_epochs,
            validation=validation.to_json() if validation else None,
        )
        store.write_json(folder / store.META_FILE, meta)
    return store.models_dir() / name
