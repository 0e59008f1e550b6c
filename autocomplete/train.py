"""Training: corpus -> vocabulary -> sliding windows -> Keras LSTM (+ Kneser-Ney mix) -> a saved model folder.

The orchestration: dataset.py builds the data, trainer.py runs Keras (imported there, inside functions),
validation.py chooses the epoch and the weight, modelfile.py writes the folder. It reports through a
`Reporter` and never prints: the CLI supplies the one that draws a rich progress bar. Once an epoch has
finished, a Ctrl-C or SIGTERM at any later step still saves the best model so far (interrupts.py), and the
result says which step was interrupted.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from autocomplete import dataset, devices, heap, interrupts, metrics, modelfile, store, trainer
from autocomplete.config import TrainConfig
from autocomplete.corpus import CorpusFile
from autocomplete.errors import CorpusError, Interrupted
from autocomplete.inference import LstmWeights, Predictor
from autocomplete.ngram import KneserNey
from autocomplete.validation import EpochTracker, Validation
from autocomplete.vocab import Vocabulary

MAX_TUNING_TOKENS = 20_000  # the validation tail's last tokens the adaptation is tuned on: a few seconds
# --prune auto: above this many tokens the n-gram drops its top order's n-grams seen once, so that the
# saved n-gram of a 1 GB corpus stays a few hundred MB (benchmarks/results/ngram_scale.md); below, none.
PRUNE_ABOVE_TOKENS = 25_000_000

# The steps of a training, as TrainResult.interrupted_during names them.
READING, EPOCHS, MIXING, NGRAM, REFIT, SAVING = "reading", "epochs", "mixing", "n-gram", "refit", "saving"


class Reporter(Protocol):
    def phase(self, text: str) -> None: ...
    def reading(self, step: str, done: int, total: int) -> None: ...  # bytes of the corpus read in a pass
    def start(self, epochs: int, steps: int, words: int) -> None: ...  # words: trained on per epoch
    def batch(self, epoch: int, step: int, loss: float) -> None: ...
    def epoch(self, epoch: int, loss: float, val_perplexity: float | None, improved: bool) -> None: ...


class SilentReporter:
    def phase(self, text: str) -> None: ...
    def reading(self, step: str, done: int, total: int) -> None: ...
    def start(self, epochs: int, steps: int, words: int) -> None: ...
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
    lstm_vocab_size: int  # the first ids, which the LSTM predicts itself; rarer words share its "other word"
    interrupted: bool  # a Ctrl-C or SIGTERM came: the best model so far was saved, whole
    interrupted_during: str | None  # the step it came in (EPOCHS, MIXING, NGRAM, REFIT or SAVING)
    refit_skipped: bool  # the refit was asked for but interrupted or not started: the first network kept
    lstm_weight: float  # the mixing weight of the LSTM against the n-gram (1.0 = LSTM alone)
    validation: metrics.NextWordScores | None  # of the predictor that ships
    validation_lstm: metrics.NextWordScores | None  # of the LSTM alone, for comparison
    seconds: float
    saved: bool = True  # False on a worker of a cluster other than the chief: the chief saves the model
    replicas: int = 1  # model copies trained in step (devices × workers); the batch and rate scale with it
    sampled: int | None = None  # the first training's epochs each trained on this many random words of
    # the training part (config.epoch_words, when it has more); None: every epoch on all of it


@dataclass
class _TrainingData:
    corpus: dataset.PreparedCorpus
    lstm_vocab_size: int
    n_train: int  # the first n_train windows of corpus.ids train; the rest (a tail) validate
    held_out: KneserNey | None  # the n-gram of the training part, for validation
    val_x: np.ndarray  # (n - n_train, N) the validation windows, as the n-gram sees them
    val_y: np.ndarray  # (n - n_train,) their targets; words the training part never shows as unknown
    validation: Validation | None


def train(
    paths: list[Path],
    config: TrainConfig,
    name: str | None = None,
    force: bool = False,
    reporter: Reporter | None = None,
) -> TrainResult:
    """Train a model on the corpus files and save it in the store under `name` (default: the first file's
    stem). Raises Interrupted if a Ctrl-C or SIGTERM comes before the first epoch has finished."""
    reporter = reporter or SilentReporter()
    config = config.validated()
    if not paths:
        raise CorpusError("no corpus file given")
    name = store.check_name(name or store.name_from_path(Path(paths[0])))
    saves = devices.is_chief(config.strategy)  # a bad TF_CONFIG fails here, before the corpus is read
    started = time.monotonic()
    lock = store.training_lock(name, force) if saves else contextlib.nullcontext()
    # `ids` keeps the corpus's token ids on disk for the whole training, and removes them whatever happens.
    with interrupts.signals_as_interrupt() as signals, lock, contextlib.ExitStack() as ids:
        try:
            signals.phase = READING
            reporter.phase("Reading the corpus")
            corpus = ids.enter_context(dataset.streamed(paths, config, progress=reporter.reading))
            if config.ngram:  # a minute or two at 1 GB: say what runs
                reporter.phase("Counting the n-grams of the training part")
            data = _training_data(corpus, config)
            for note in data.corpus.notes:
                reporter.phase(f"warning: {note}")
            reporter.phase("Loading TensorFlow")
            signals.phase = EPOCHS
            model, tracker, stopped = trainer.fit(
                data.lstm_vocab_size, config, corpus.ids, data.n_train, data.validation, reporter, signals
            )
        except KeyboardInterrupt:
            raise Interrupted(trainer.NOTHING_SAVED) from None
        signals.keep_best()  # from here on a signal is recorded, and every step below still runs
        return _finish(name, force, config, data, model, tracker, stopped, reporter, signals, started, saves)


def _training_data(corpus: dataset.PreparedCorpus, config: TrainConfig) -> _TrainingData:
    """The split of the windows and what validation needs; the training windows stay in corpus.ids (the
    pipeline reads them from there), only the validation tail's are arrays."""
    windows = max(0, len(corpus.ids) - config.context)
    n_train = windows - dataset.validation_size(windows, config.val_split)
    lstm_vocab_size = dataset.lstm_vocab_size(corpus, config)
    # The n-gram of the training part, for the validation tail; the one that ships counts every line.
    seen = corpus.ids[: n_train + config.context]
    held_out = _ngram(corpus, config, seen)
    val_x, val_y = dataset.windows(corpus.ids[n_train:], config.context)  # windows n_train.. of corpus.ids
    val_x, val_y = np.array(val_x), dataset.unseen_as_unknown(val_y, seen)
    return _TrainingData(
        corpus, lstm_vocab_size, n_train, held_out, val_x, val_y,
        Validation.build(val_x, val_y, lstm_vocab_size, len(corpus.vocab), held_out),
    )  # fmt: skip


def _finish(name, force, config, data: _TrainingData, model, tracker: EpochTracker, stopped: bool,
            reporter: Reporter, signals: interrupts.Signals, started: float,
            saves: bool) -> TrainResult:  # fmt: skip
    """Mix, count the final n-gram, refit (unless interrupted), save (if `saves`): with signals recorded,
    not raised."""
    from autocomplete.model import export_weights

    corpus, stopped_in = data.corpus, EPOCHS if stopped else None
    signals.phase = MIXING
    reporter.phase("Mixing in the n-gram model")
    lstm = export_weights(model)
    weight = tracker.best_mix_weight  # ignored without the n-gram: the LSTM alone
    validation, validation_lstm = _scores(corpus.vocab, lstm, data.held_out, weight, data.val_x, data.val_y)
    adaptation = _adaptation(data, config, lstm, weight)
    data.held_out = None  # its memory goes before the final n-gram is counted
    heap.give_back()
    signals.phase = NGRAM
    if config.ngram:
        reporter.phase("Counting the n-grams of all the text")
    predictor = Predictor(corpus.vocab, config.context, lstm, _ngram(corpus, config, corpus.ids), weight)
    refit_wanted = bool(len(data.val_y) and config.refit_epochs)
    refit_epochs = 0
    if refit_wanted and not (stopped or signals.interrupted):
        signals.phase = REFIT
        more = "One more epoch" if config.refit_epochs == 1 else f"{config.refit_epochs} more epochs"
        reporter.phase(f"{more} on all the text, the validation part included")
        if trainer.refit(config, corpus.ids, model, reporter, signals):
            refit_epochs = config.refit_epochs
            lstm = export_weights(model)
            predictor = Predictor(corpus.vocab, config.context, lstm, predictor.ngram, predictor.lstm_weight)
        else:
            stopped_in = REFIT
    signals.phase = SAVING
    reporter.phase("Saving" if saves else "Not saving here: the chief of TF_CONFIG's cluster saves the model")
    interrupted_during = signals.received_during or stopped_in
    outcome = {"interrupted_during": interrupted_during, "refit_skipped": refit_wanted and not refit_epochs}
    outcome["adaptation"] = adaptation
    outcome["replicas"] = int(model.distribute_strategy.num_replicas_in_sync)  # devices × workers
    path = store.models_dir() / name
    if saves:
        path = _save(name, force, corpus, config, predictor, tracker, validation, refit_epochs, outcome)
    interrupted_during = signals.received_during or stopped_in  # a signal may have come while saving
    return TrainResult(
        name=name, path=path, files=corpus.files, words=corpus.words, vocab_size=len(corpus.vocab),
        parameters=model.count_params(), epochs_run=tracker.epochs_run, best_epoch=tracker.best_epoch,
        refit_epochs=refit_epochs, lstm_vocab_size=data.lstm_vocab_size,
        interrupted=interrupted_during is not None, interrupted_during=interrupted_during,
        refit_skipped=outcome["refit_skipped"], lstm_weight=predictor.lstm_weight, validation=validation,
        validation_lstm=validation_lstm, seconds=time.monotonic() - started, saved=saves,
        replicas=outcome["replicas"], sampled=_sampled(config, data.n_train),
    )  # fmt: skip


def _sampled(config: TrainConfig, n_train: int) -> int | None:
    return config.epoch_words if n_train > config.epoch_words else None


def _ngram(corpus: dataset.PreparedCorpus, config: TrainConfig, ids: np.ndarray) -> KneserNey | None:
    """The n-gram mixed in (None with --no-ngram): modified Kneser-Ney, three discounts per order, pruned by
    --prune; the held-out and the final one alike (with auto, the whole corpus's size decides for both)."""
    if not config.ngram:
        return None
    prune = config.prune_counts()
    if prune is None:
        prune = 1 if len(corpus.ids) > PRUNE_ABOVE_TOKENS else 0
    return KneserNey.fit(ids, len(corpus.vocab), config.ngram_order, discount=None, prune=prune)


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


def _adaptation(data: _TrainingData, config: TrainConfig, lstm: LstmWeights, weight: float) -> dict | None:
    """The adaptation rule (meta.json's "adaptation") chosen by typing the validation tail in order, over the
    validated predictor's probabilities (the training part's n-gram: the shipped one has read the tail);
    None without a validation part, and then the loader uses adapt.DEFAULT_PARAMS."""
    if not len(data.val_y):
        return None
    from autocomplete.adapt_tune import target_probs, tune

    ids, vocab = data.corpus.ids, data.corpus.vocab
    start = max(data.n_train + config.context, len(ids) - MAX_TUNING_TOKENS)
    predictor = Predictor(vocab, config.context, lstm, data.held_out, weight)
    model_p = target_probs(predictor.batch_probs, ids, start, config.context)
    return tune([vocab.words[i] for i in ids[start:]], model_p, vocab).params.to_json()


def _save(name, force, corpus, config, predictor, tracker, validation, refit_epochs, outcome) -> Path:
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
            validation=validation.to_json() if validation else None, **outcome,
        )  # fmt: skip
    return store.models_dir() / name
