"""Training: corpus -> vocabulary -> sliding windows -> Keras LSTM (+ Kneser-Ney mix) -> a saved model folder.

The only module (with model.py) that imports TensorFlow, and only inside `train`. It reports through
a `Reporter` and never prints: the CLI supplies the one that draws a rich progress bar.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import signal
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from autocomplete import metrics, modelfile, store
from autocomplete.config import TrainConfig
from autocomplete.corpus import CorpusFile, check_file, read_tokens
from autocomplete.errors import CorpusError, Interrupted
from autocomplete.inference import LstmWeights, Predictor, lstm_probs
from autocomplete.ngram import MAX_ORDER, KneserNey
from autocomplete.text import BOUNDARY
from autocomplete.vocab import UNKNOWN_ID, Vocabulary


class Reporter(Protocol):
    def phase(self, text: str) -> None: ...
    def start(self, epochs: int, steps: int) -> None: ...
    def batch(self, epoch: int, step: int, loss: float) -> None: ...
    def epoch(self, epoch: int, loss: float, val_perplexity: float | None, improved: bool) -> None: ...


class SilentReporter:
    def phase(self, text: str) -> None: ...
    def start(self, epochs: int, steps: int) -> None: ...
    def batch(self, epoch: int, step: int, loss: float) -> None: ...
    def epoch(self, epoch: int, loss: float, val_perplexity: float | None, improved: bool) -> None: ...


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
    with _signals_as_interrupt(), store.training_lock(name, force):
        reporter.phase("Reading the corpus")
        corpus = prepare(paths, config)
        contexts, targets = metrics.windows(corpus.ids, config.context)
        n_val = _validation_size(len(targets), config.val_split)
        n_train = len(targets) - n_val
        f = lstm_vocab_size(corpus, config)
        lstm_x, lstm_y = _beyond_as_unknown(contexts, f), _beyond_as_unknown(targets, f)
        # The n-gram of the training part, for the validation tail; the one that ships counts every line.
        held_out = _ngram(corpus, config, corpus.ids[: n_train + config.context])
        val_x = contexts[n_train:]
        val_y = _unseen_as_unknown(targets[n_train:], corpus.ids[: n_train + config.context])
        validation = Validation.build(val_x, val_y, f, len(corpus.vocab), held_out)
        reporter.phase("Loading TensorFlow")
        model, tracker, interrupted = _fit(f, config, lstm_x, lstm_y, n_train, validation, reporter)
        model.set_weights(tracker.best_weights)
        from autocomplete.model import export_weights

        lstm = export_weights(model)
        reporter.phase("Mixing in the n-gram model")
        weight = tracker.best_mix_weight  # ignored without the n-gram: the LSTM alone
        validation_scores, validation_lstm = _scores(corpus.vocab, lstm, held_out, weight, val_x, val_y)
        final = _ngram(corpus, config, corpus.ids)
        predictor = Predictor(corpus.vocab, config.context, lstm, final, weight)
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
        path = _save(name, force, corpus, config, predictor, tracker, validation_scores, refit_epochs)
    return TrainResult(
        name=name, path=path, files=corpus.files, words=corpus.words, vocab_size=len(corpus.vocab),
        parameters=model.count_params(), epochs_run=tracker.epochs_run, best_epoch=tracker.best_epoch,
        refit_epochs=refit_epochs, lstm_words=f,
        interrupted=interrupted, lstm_weight=predictor.lstm_weight, validation=validation_scores,
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


def _fit(f, config, contexts, targets, n_train, validation, reporter):
    from autocomplete.model import build_model, import_keras

    keras = import_keras()
    keras.utils.set_random_seed(config.seed)
    model = build_model(f, config)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=config.learning_rate),
        loss="sparse_categorical_crossentropy",
    )
    tracker = _tracker(keras, config.patience, reporter, validation)
    reporter.start(config.epochs, math.ceil(n_train / config.batch_size))
    interrupted = False
    try:
        model.fit(
            contexts[:n_train], targets[:n_train], batch_size=config.batch_size, epochs=config.epochs,
            shuffle=True, verbose=0, callbacks=[tracker],
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


def _tracker(keras, patience: int, reporter: Reporter, validation: Validation | None = None):
    """Early stopping on the validation perplexity of the predictor that ships (the training loss without a
    validation part) that keeps the best weights in memory, so Ctrl-C can still save them.

    Training goes on while either the mix's validation perplexity or the LSTM's own improves: while the mix
    leaves a young network out, or nearly (weight 0-0.05 on a small corpus), its perplexity is the n-gram's
    whatever the network learns (the bundled corpus stopped after epoch 2 on the mix alone). The best epoch
    is the mix's."""
    from autocomplete.model import export_weights

    class Tracker(keras.callbacks.Callback):
        best_weights, best_score, best_epoch, epochs_run, epoch_now = None, math.inf, 0, 0, 0
        best_mix_weight = 0.5  # the LSTM's share in the mix at the best epoch (no validation: an even mix)
        best_lstm, last_progress = math.inf, 0

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch_now = epoch + 1

        def on_train_batch_end(self, batch, logs=None):
            if _signalled.is_set():  # a Ctrl-C whose KeyboardInterrupt was swallowed on the way
                raise KeyboardInterrupt
            reporter.batch(self.epoch_now, batch + 1, float((logs or {}).get("loss", math.nan)))

        def on_epoch_end(self, epoch, logs=None):
            loss = float((logs or {}).get("loss", math.nan))
            perplexity, mix_weight, alone = None, self.best_mix_weight, math.inf
            if validation is not None:
                mix_weight, perplexity, alone = validation.best_mix(export_weights(self.model))
            watched = perplexity if perplexity is not None else loss
            improved = watched < self.best_score
            self.epochs_run = epoch + 1
            if improved:
                self.best_weights, self.best_score = self.model.get_weights(), watched
                self.best_epoch, self.best_mix_weight = epoch + 1, mix_weight
            if improved or alone < self.best_lstm:
                self.last_progress, self.best_lstm = self.epochs_run, min(alone, self.best_lstm)
            elif self.epochs_run - self.last_progress >= patience:
                self.model.stop_training = True
            reporter.epoch(epoch + 1, loss, perplexity, improved)

    return Tracker()


# Set by a Ctrl-C or SIGTERM while training; the tracker raises KeyboardInterrupt at every batch once it is.
_signalled = threading.Event()


@contextlib.contextmanager
def _signals_as_interrupt():
    """Ctrl-C and SIGTERM while training stop it: keep the best epoch so far, leave nothing half-written.

    The handler raises KeyboardInterrupt, as Python's own Ctrl-C handler does, and also records the signal,
    so the tracker raises it again at the next batch: an interrupt that lands inside code that swallows it
    (a library caught mid-step) still stops training."""

    def handler(signum, frame):
        _signalled.set()
        raise KeyboardInterrupt

    _signalled.clear()
    try:
        previous = {signum: signal.signal(signum, handler) for signum in (signal.SIGINT, signal.SIGTERM)}
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


def _ngram(corpus: PreparedCorpus, config: TrainConfig, ids: np.ndarray) -> KneserNey | None:
    """The n-gram mixed in (None with --no-ngram): modified Kneser-Ney, three discounts per order."""
    if not config.ngram:
        return None
    return KneserNey.fit(ids, len(corpus.vocab), min(config.context, MAX_ORDER - 1) + 1, discount=None)


def _scores(vocab: Vocabulary, lstm: LstmWeights, held_out: KneserNey | None, weight: float, val_x, val_y):
    """The validation scores of the predictor chosen (mixed with the training part's n-gram) and of its LSTM
    alone, as the training summary shows them; (None, None) without a validation part."""
    if not len(val_y):
        return None, None
    n = val_x.shape[1]
    lstm_only = metrics.score(Predictor(vocab, n, lstm).batch_probs, val_x, val_y)
    if held_out is None:
        return lstm_only, lstm_only
    return metrics.score(Predictor(vocab, n, lstm, held_out, weight).batch_probs, val_x, val_y), lstm_only


def _unseen_as_unknown(targets: np.ndarray, seen_ids: np.ndarray) -> np.ndarray:
    """Validation targets that the training part never shows become the unknown marker, which scoring counts
    but does not score: a model fitted on the training part cannot know them (the n-gram gives them 0, and so
    does the LSTM's share of "other word"), while the final model, fitted on every line, does."""
    seen = np.bincount(seen_ids, minlength=int(targets.max(initial=0)) + 1) > 0
    known = (targets < metrics.FIRST_WORD_ID) | seen[targets]
    return np.where(known, targets, UNKNOWN_ID).astype(targets.dtype)


@dataclass(frozen=True)
class Validation:
    """The validation perplexity of the predictor that ships, for any LSTM weights, and the mixing weight that
    gets it. Early stopping watches it rather than the LSTM's own loss: on the Shakespeare train split the
    mix kept improving for 3 epochs after the LSTM's validation loss had turned (results/tuning.md).

    Scored over the real words the training part has shown: a word first met in the validation tail has n-gram
    probability 0 there, which would pull the weight towards the LSTM, while the n-gram that ships, counted on
    every line, knows all of them. The n-gram's part is computed once; each call runs only the LSTM."""

    contexts: np.ndarray  # (n, N) the windows scored
    column: np.ndarray  # (n,) the LSTM output holding each target's probability: its own, or "other word"
    share: np.ndarray  # (n,) the target's share of that output, as `widen` gives it (1 for the LSTM's words)
    ngram_p: np.ndarray | None  # (n,) the n-gram's probability of each target; None: the LSTM alone

    @classmethod
    def build(cls, contexts, targets, f: int, vocab_size: int, ngram: KneserNey | None) -> Validation | None:
        """None when the tail has no word to score."""
        keep = targets >= metrics.FIRST_WORD_ID
        if ngram is not None:
            keep &= ngram.unigram[targets] > 0
        contexts, targets = contexts[keep], targets[keep]
        if not len(targets):
            return None
        share = np.where(targets < f, 1.0, 1.0 / (vocab_size - f + 1))  # widen's even share, without n-gram
        ngram_p = None
        if ngram is not None:
            ngram_p = np.empty(len(targets))
            for i in range(0, len(targets), 512):
                y = targets[i : i + 512]
                p = np.array([ngram.next_word_probs(c) for c in contexts[i : i + 512]])
                ngram_p[i : i + 512] = p[np.arange(len(y)), y]
                other = p[:, f:].sum(axis=1, dtype=np.float64) + p[:, UNKNOWN_ID]  # as in widen
                rare = (y >= f) & (other > 0)
                share[i : i + 512][rare] = ngram_p[i : i + 512][rare] / other[rare]
        column = np.where(targets < f, targets, UNKNOWN_ID)
        return cls(contexts, column, share, ngram_p)

    def best_mix(self, lstm: LstmWeights) -> tuple[float, float, float]:
        """(the LSTM's share in the mix, 0..1 in steps of 0.05; the validation perplexity at that share; the
        LSTM's own)."""
        p_lstm = np.empty(len(self.column))
        for i in range(0, len(self.column), 512):
            column = self.column[i : i + 512]
            p_lstm[i : i + 512] = lstm_probs(lstm, self.contexts[i : i + 512])[np.arange(len(column)), column]
        p_lstm *= self.share
        if self.ngram_p is None:
            alone = float(np.exp(-np.log(np.maximum(p_lstm, 1e-300)).mean()))
            return 1.0, alone, alone
        grid = np.linspace(0.0, 1.0, 21)
        mixed = grid[:, None] * p_lstm + (1 - grid[:, None]) * self.ngram_p
        losses = -np.log(np.maximum(mixed, 1e-300)).mean(axis=1)
        best = int(np.argmin(losses))
        return float(grid[best]), float(np.exp(losses[best])), float(np.exp(losses[-1]))


def _best_weight(lstm: LstmWeights, ngram: KneserNey, contexts, targets) -> float:
    """The LSTM's share in the mix that minimises validation perplexity (0.5 with no word to score)."""
    validation = Validation.build(contexts, targets, lstm.vocab_size, ngram.vocab_size, ngram)
    return validation.best_mix(lstm)[0] if validation is not None else 0.5


def _save(name, force, corpus, config, predictor, tracker, validation, refit_epochs) -> Path:
    from autocomplete.model import save_keras

    with store.writing(name, force) as folder:
        modelfile.save(
            folder, predictor, config, write_keras=lambda path: save_keras(predictor.lstm, config, path),
            corpus=[
                {"name": f.name, "sha256": f.sha256, "bytes": f.size, "replaced_bytes": f.replaced}
                for f in corpus.files
            ],
            words=corpus.words, tokens=int(len(corpus.ids)), epochs_run=tracker.epochs_run,
            best_epoch=tracker.best_epoch, refit_epochs=refit_epochs,
            validation=validation.to_json() if validation else None,
        )  # fmt: skip
    return store.models_dir() / name
