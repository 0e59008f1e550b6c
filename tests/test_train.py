"""Training end to end on a tiny corpus: what is saved, what is refused, Ctrl-C at either end of an epoch."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import signal
import time
from collections import Counter

import numpy as np
import pytest
from conftest import CORPUS_TEXT, TINY, leftovers, random_lstm
from hypothesis import given, settings
from hypothesis import strategies as st

import autocomplete
from autocomplete import dataset, metrics, modelfile, store
from autocomplete.config import TrainConfig
from autocomplete.dataset import prepare, validation_size, windows
from autocomplete.errors import CorpusError, Interrupted, UsageError
from autocomplete.inference import Predictor
from autocomplete.ngram import KneserNey
from autocomplete.suggest import suggest
from autocomplete.text import BOUNDARY, MARKERS, tokenize
from autocomplete.train import SilentReporter, train
from autocomplete.validation import EpochTracker, Validation, best_weight
from autocomplete.vocab import BOUNDARY_ID, Vocabulary

# --- the session's real model ---------------------------------------------------------------------


@pytest.mark.slow
def test_the_model_folder_holds_everything(trained_model):
    files = {p.name for p in trained_model.folder.iterdir()}
    assert files == {
        modelfile.KERAS_FILE,
        modelfile.WEIGHTS_FILE,
        modelfile.NGRAM_DIR,
        modelfile.VOCAB_FILE,
        modelfile.META_FILE,
    }
    assert not any(p.name.startswith(".tmp-") for p in (trained_model.home / "models").iterdir())


@pytest.mark.slow
def test_meta_json(trained_model):
    meta = json.loads((trained_model.folder / modelfile.META_FILE).read_text(encoding="utf-8"))
    result = trained_model.result
    assert meta["format_version"] == modelfile.FORMAT_VERSION
    assert meta["package_version"] == autocomplete.__version__
    data = trained_model.corpus.read_bytes()
    assert meta["corpus"] == [
        {
            "name": "tiny.txt",
            "sha256": hashlib.sha256(data).hexdigest(),
            "bytes": len(data),
            "replaced_bytes": 0,
        }
    ]
    assert TrainConfig.from_json(meta["config"]) == trained_model.config
    assert meta["words"] == result.words == len([t for t in tokenize(CORPUS_TEXT) if t != BOUNDARY])
    assert meta["vocab_size"] == result.vocab_size and meta["tokens"] > meta["words"]
    assert meta["epochs_run"] == result.epochs_run == 2 and 1 <= meta["best_epoch"] <= 2
    assert meta["refit_epochs"] == TINY.refit_epochs == 2  # on all the text, validation tail included
    assert 0.0 <= meta["lstm_weight"] <= 1.0
    validation = meta["validation"]
    assert (
        validation["words"] > 0
        and math.isfinite(validation["perplexity"])
        and validation["perplexity"] >= 1.0
    )
    assert 0.0 <= validation["top1"] <= validation["top3"] <= validation["top5"] <= 1.0
    assert meta["created"] and "T" in meta["created"]


@pytest.mark.slow
def test_train_result(trained_model):
    result = trained_model.result
    assert result.name == "tiny" and result.path == trained_model.home / "models" / "tiny"
    assert result.vocab_size == len(Vocabulary.load(trained_model.folder / modelfile.VOCAB_FILE))
    assert not result.interrupted and result.parameters > 0 and result.seconds > 0
    assert result.files[0].sha256 == hashlib.sha256(trained_model.corpus.read_bytes()).hexdigest()


@pytest.mark.slow
def test_train_then_predict(trained_model, model_home):
    info, predictor = store.load()  # the only model: the default
    assert info.name == "tiny"
    vocab_words = set(predictor.vocab.words[len(MARKERS) :])
    answer = suggest("The cat sat on the ", predictor, k=5)
    assert len(answer.items) == 5 and {s.word for s in answer.items} <= vocab_words
    assert answer.context == ("on", "the") and answer.unknown == ()
    probabilities = [s.probability for s in answer.items]
    assert probabilities == sorted(probabilities, reverse=True) and 0 < sum(probabilities) <= 1.0 + 1e-6
    completion = suggest("the ca", predictor, k=3)
    assert completion.items[0].word == "cat"  # the only word starting with "ca"
    assert sum(s.probability for s in completion.items) == pytest.approx(1.0, abs=1e-5)
    assert suggest("to be or not to be. My lo", predictor).items[0].word == "lord"


# --- refused before any training ------------------------------------------------------------------


def test_too_few_words_are_refused(tmp_path, store_home):
    path = tmp_path / "short.txt"
    path.write_text("Hello there.", encoding="utf-8")
    with pytest.raises(CorpusError, match=r"short\.txt has 2 words: a context of 2 needs at least 3"):
        train([path], TINY)
    assert not (store_home / "models" / "short").exists() and leftovers(store_home) == []


def test_only_punctuation_is_refused(tmp_path, store_home):
    path = tmp_path / "dots.txt"
    path.write_text("... !!! ??? --- ,,,\n", encoding="utf-8")
    with pytest.raises(CorpusError, match=r"dots\.txt has 0 words"):
        train([path], TINY)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"epochs": 0}, "--epochs must be at least 1"),
        ({"context": 0}, "--context must be at least 1"),
        ({"val_split": 0.7}, r"--val-split must be in \(0, 0.5\]"),
        ({"units": -3}, "--units must be at least 1"),
        ({"refit_epochs": -1}, "--refit-epochs must be 0 or more"),
        ({"epoch_words": 0}, "--epoch-words must be at least 1"),
        ({"softmax_samples": -1}, r"--softmax-samples must be 0 or more \(got -1\)"),
    ],
)
def test_bad_settings_are_refused(corpus_file, store_home, change, message):
    with pytest.raises(UsageError, match=message):
        train([corpus_file], TrainConfig(**{**TINY.to_json(), **change}))
    assert not (store_home / "models").exists()  # refused before the store is touched


def test_no_files(store_home):
    with pytest.raises(CorpusError, match="no corpus file given"):
        train([], TINY)


def test_prepare(corpus_file):
    corpus = prepare([corpus_file], TINY)
    assert corpus.ids[0] == BOUNDARY_ID and corpus.ids[-1] == BOUNDARY_ID  # starts and ends a sentence
    assert corpus.ids.dtype == np.int32
    assert corpus.words == int((corpus.ids > BOUNDARY_ID).sum())
    assert corpus.vocab.words[3] == "the"  # the most frequent word
    assert corpus.files[0].sha256 == hashlib.sha256(corpus_file.read_bytes()).hexdigest()
    assert BOUNDARY in corpus.vocab.words


@pytest.mark.parametrize(
    ("windows", "split", "size"),
    [(100, 0.1, 10), (1, 0.1, 0), (2, 0.5, 1), (3, 0.01, 1), (10, 0.5, 5), (10**7, 0.05, 50_000)],
)
def test_validation_is_a_tail_of_at_least_one_window(windows, split, size):
    assert validation_size(windows, split) == size


def test_best_weight_prefers_the_better_model():
    v = 8
    ids = np.tile(np.arange(3, v), 40)  # a deterministic cycle: the n-gram learns it exactly
    ngram = KneserNey.fit(ids, v, 3)
    noise = random_lstm(v, 0, e=4, h=2, d=3)
    contexts = np.stack([ids[:-2], ids[1:-1]], axis=1)[:50]
    assert best_weight(noise, ngram, contexts, ids[2:52]) < 0.5


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**16), lstm_vocab_size=st.integers(4, 12), with_ngram=st.booleans())
def test_validation_perplexity_is_the_shipped_predictors(seed, lstm_vocab_size, with_ngram):
    """best_mix reads each target's probability off the LSTM as `widen` would spread it: the perplexity it
    reports at its weight is what the Predictor scores, and no other weight on the grid scores better."""
    rng = np.random.default_rng(seed)
    v = 12
    ids = rng.integers(3, v, size=300).astype(np.int32)
    f = lstm_vocab_size if with_ngram else v  # without the n-gram the LSTM covers every word
    ngram = KneserNey.fit(ids[:200], v, 3) if with_ngram else None
    contexts, targets = windows(ids, 2)
    validation = Validation.build(contexts[200:], targets[200:], f, v, ngram)
    lstm = random_lstm(f, seed, e=4, h=2, d=3)
    weight, perplexity, alone = validation.best_mix(lstm)
    vocab = Vocabulary((*MARKERS, *(f"w{i}" for i in range(3, v))))
    y = targets[200:]
    scored_y = y[(y >= 3) & (ngram.unigram[y] > 0)] if with_ngram else y[y >= 3]

    def perplexity_at(w):
        predictor = Predictor(vocab, 2, lstm, ngram, w)
        return metrics.score(predictor.batch_probs, validation.contexts, scored_y).perplexity

    assert perplexity == pytest.approx(perplexity_at(weight), rel=1e-5)
    assert alone == pytest.approx(perplexity_at(1.0), rel=1e-5)
    if with_ngram:
        assert all(perplexity_at(w) >= perplexity * (1 - 1e-5) for w in np.linspace(0, 1, 21))
    else:
        assert weight == 1.0


# --- an LSTM over the frequent words, refitted on all the text ------------------------------------

RARE = "Quietly the heron considered seventeen umbrellas near Wexford."  # words seen once


@pytest.mark.slow
def test_rare_words_share_one_lstm_output_and_can_still_be_suggested(tmp_path, store_home):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(CORPUS_TEXT + RARE + "\n", encoding="utf-8")
    result = train([corpus], TINY, name="rare")
    info, predictor = store.load("rare")
    counts = Counter(t for t in tokenize(CORPUS_TEXT + RARE) if t != BOUNDARY)
    frequent = sum(c >= TINY.lstm_min_count for c in counts.values())
    assert predictor.lstm.vocab_size == len(MARKERS) + frequent < len(predictor.vocab) == result.vocab_size
    once = tuple(sorted(w for w, c in counts.items() if c == 1))
    assert predictor.vocab.words[predictor.lstm.vocab_size :] == once
    assert suggest("the cat sat on the ", predictor).items
    assert suggest("Quietly the heron considered sev", predictor).items[0].word == "seventeen"
    # the n-gram remembers what followed, and shares the LSTM's "other word" output accordingly
    assert suggest("the heron considered ", predictor, k=20).items[0].word == "seventeen"
    from autocomplete.model import load_keras_model

    keras_model = load_keras_model(info.path / modelfile.KERAS_FILE)
    assert keras_model.output_shape == (None, predictor.lstm.vocab_size)
    # RARE ends the text, so validation meets its words first: scored as unknown, not as probability 0
    for scores in (info.meta["validation"], result.validation_lstm.to_json()):
        assert scores["unknown"] >= len(once) - 1 and scores["perplexity"] < len(predictor.vocab)


def test_the_lstm_vocabulary_is_the_frequent_words_or_all_without_the_ngram(corpus_file):
    corpus = prepare([corpus_file], TINY)
    assert dataset.lstm_vocab_size(corpus, TINY) == len(corpus.vocab)  # CORPUS_TEXT repeats every word
    four = TrainConfig(**{**TINY.to_json(), "lstm_min_count": 4})  # every word occurs 3 or 6+ times
    assert len(MARKERS) < dataset.lstm_vocab_size(corpus, four) < len(corpus.vocab)
    no_ngram = TrainConfig(**{**four.to_json(), "ngram": False})
    assert dataset.lstm_vocab_size(corpus, no_ngram) == len(corpus.vocab)


class InterruptRefit(SilentReporter):
    """Ctrl-C during the second training, on all the text."""

    def __init__(self):
        self.refitting = False

    def phase(self, text):
        self.refitting = self.refitting or "on all the text" in text

    def batch(self, epoch, step, loss):
        if self.refitting:
            raise KeyboardInterrupt


@pytest.mark.slow
def test_ctrl_c_while_training_again_keeps_the_first_network(corpus_file, store_home):
    result = train([corpus_file], TINY, name="cut", reporter=InterruptRefit())
    # the model saved is complete, the one validation chose, and the result says the refit was skipped
    assert (result.interrupted, result.interrupted_during, result.refit_skipped) == (True, "refit", True)
    assert result.refit_epochs == 0 and result.epochs_run == TINY.epochs
    info, predictor = store.load("cut")
    assert info.meta["refit_epochs"] == 0 and suggest("the ", predictor).items
    assert (info.meta["interrupted_during"], info.meta["refit_skipped"]) == ("refit", True)
    assert leftovers(store_home) == []


@pytest.mark.slow
def test_no_refit_when_told_not_to(corpus_file, store_home):
    config = TrainConfig(**{**TINY.to_json(), "refit_epochs": 0, "epochs": 1})
    phases = []

    class Phases(SilentReporter):
        def phase(self, text):
            phases.append(text)

    train([corpus_file], config, name="once", reporter=Phases())
    assert store.load("once")[0].meta["refit_epochs"] == 0
    assert phases == [
        "Reading the corpus", "Counting the n-grams of the training part", "Loading TensorFlow",
        "Mixing in the n-gram model", "Counting the n-grams of all the text", "Saving",
    ]  # fmt: skip


class Epochs(SilentReporter):
    def __init__(self):
        self.seen = []

    def epoch(self, epoch, loss, val_perplexity, improved):
        self.seen.append((val_perplexity, improved))


@pytest.mark.slow
@pytest.mark.parametrize("ngram", [True, False])
def test_early_stopping_follows_the_validation_perplexity_of_what_ships(corpus_file, store_home, ngram):
    config = TrainConfig(**{**TINY.to_json(), "epochs": 12, "patience": 1, "learning_rate": 0.05,
                            "val_split": 0.3, "refit_epochs": 0, "ngram": ngram})  # fmt: skip
    reporter = Epochs()
    result = train([corpus_file], config, name="stops", reporter=reporter)
    perplexities = [p for p, _ in reporter.seen]
    assert len(perplexities) == result.epochs_run and all(p is not None and p > 1 for p in perplexities)
    assert [improved for _, improved in reporter.seen] == [
        p < min(perplexities[:i], default=math.inf) for i, p in enumerate(perplexities)
    ]
    assert result.best_epoch == 1 + int(np.argmin(perplexities))
    assert result.epochs_run >= min(config.epochs, result.best_epoch + config.patience)
    # the best epoch's network and mixing weight are the ones saved
    assert result.validation.perplexity == pytest.approx(min(perplexities), rel=1e-4)


class Scripted:
    """A validation whose (mixing weight, perplexity, LSTM's perplexity) per epoch is given: the stopping
    rule, on its own."""

    def __init__(self, scores):
        self.scores = iter(scores)

    def best_mix(self, lstm):
        return next(self.scores)


@pytest.mark.parametrize(
    ("scores", "stops_after", "best"),
    [
        # (mixing weight, the mix's perplexity, the LSTM's own); patience 1: one epoch without progress
        ([(0.2, 100.0, 500.0), (0.3, 90.0, 450.0), (0.3, 95.0, 460.0), (0.3, 80.0, 400.0)], 3, 2),
        # the mix leaves the young network (nearly) out: its perplexity is flat while the LSTM's falls
        (
            [
                (0.05, 100.0, 900.0),
                (0.0, 100.0, 800.0),
                (0.05, 100.0, 700.0),
                (0.2, 90.0, 600.0),
                (0.2, 95.0, 650.0),
                (0.2, 80.0, 550.0),
            ],
            5,
            4,
        ),
        # the LSTM alone still improving keeps training going after the mix's best
        ([(0.2, 100.0, 500.0), (0.3, 90.0, 450.0), (0.3, 95.0, 440.0), (0.3, 96.0, 445.0)], 4, 2),
    ],
)
def test_stopping_waits_while_the_lstm_still_learns(scores, stops_after, best):
    tracker = EpochTracker(1, Scripted(scores))
    for epoch in range(1, len(scores) + 1):
        tracker.end_epoch(epoch, 1.0, None)
        if tracker.stop:
            break
    assert (epoch, tracker.best_epoch) == (stops_after, best)
    assert tracker.best_mix_weight == scores[best - 1][0]


# --- Ctrl-C ---------------------------------------------------------------------------------------


class InterruptAt(SilentReporter):
    """A reporter that raises KeyboardInterrupt (as Ctrl-C does) from inside Keras' callbacks."""

    def __init__(self, epoch_end: int | None = None, batch: int | None = None):
        self.epoch_end, self.at_batch = epoch_end, batch

    def batch(self, epoch, step, loss):
        if self.at_batch is not None and (epoch, step) >= (1, self.at_batch):
            raise KeyboardInterrupt

    def epoch(self, epoch, loss, val_perplexity, improved):
        if epoch == self.epoch_end:
            raise KeyboardInterrupt


@pytest.mark.slow
def test_ctrl_c_after_an_epoch_saves_the_best_model(corpus_file, store_home):
    config = TrainConfig(**{**TINY.to_json(), "epochs": 5, "ngram": False})
    result = train([corpus_file], config, name="cut", reporter=InterruptAt(epoch_end=1))
    assert result.interrupted and result.epochs_run == 1 and result.best_epoch == 1
    info, predictor = store.load("cut")
    assert info.meta["epochs_run"] == 1 and predictor.lstm is not None
    assert suggest("the ", predictor).items
    assert leftovers(store_home) == []


class SwallowedSignalAt(SilentReporter):
    """A reporter that sends this process a signal at the first batch of an epoch and swallows the
    KeyboardInterrupt it raises, as a library caught in the middle of a step might."""

    def __init__(self, signum: int, epoch: int):
        self.signum, self.at_epoch, self.sent = signum, epoch, False

    def batch(self, epoch, step, loss):
        if epoch == self.at_epoch and not self.sent:
            self.sent = True
            try:
                os.kill(os.getpid(), self.signum)
                time.sleep(0.5)  # the handler runs here, inside the try
            except KeyboardInterrupt:
                pass


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_swallowed_mid_step_still_stops_training(corpus_file, store_home, signum):
    config = TrainConfig(**{**TINY.to_json(), "epochs": 6, "patience": 6, "ngram": False})
    result = train([corpus_file], config, name="cut", reporter=SwallowedSignalAt(signum, epoch=2))
    # One batch per epoch here: the epoch the signal lands in finishes, and no other starts.
    assert result.interrupted and result.epochs_run == 2
    assert store.load("cut")[0].meta["epochs_run"] == 2
    assert leftovers(store_home) == []


@pytest.mark.slow
def test_ctrl_c_before_the_first_epoch_saves_nothing(corpus_file, model_home):
    # Replacing an existing model (--force): the old one must survive, and no temp folder may be left.
    before = (model_home / "models" / "tiny").resolve()
    with pytest.raises(Interrupted, match="before the first epoch finished: nothing was saved"):
        train([corpus_file], TINY, name="tiny", force=True, reporter=InterruptAt(batch=1))
    assert [i.name for i in store.list_models()] == ["tiny"]
    assert (model_home / "models" / "tiny").resolve() == before and store.load("tiny")
    assert leftovers(model_home) == []


# --- what reaches the model: seeds, presets, options ----------------------------------------------


@pytest.mark.slow
def test_same_corpus_same_seed_same_model(corpus_file, store_home):
    config = TrainConfig(**{**TINY.to_json(), "epochs": 1, "refit_epochs": 1, "seed": 5})
    for name in ("first", "second"):
        train([corpus_file], config, name=name)
    other = train([corpus_file], TrainConfig(**{**config.to_json(), "seed": 6}), name="other")

    def arrays(name):
        with np.load((store_home / "models" / name / modelfile.WEIGHTS_FILE), allow_pickle=False) as f:
            return {k: f[k] for k in f.files}

    first, second = arrays("first"), arrays("second")
    assert first.keys() == second.keys() and len(first) == 8
    for key in first:
        np.testing.assert_array_equal(first[key], second[key], err_msg=key)
    assert not np.array_equal(arrays("other")["embedding"], first["embedding"]) and other.epochs_run == 1


def cli_train(corpus, *options):
    from typer.testing import CliRunner

    from autocomplete.cli import app

    result = CliRunner().invoke(app, ["train", str(corpus), *options], env={"COLUMNS": "100"})
    assert result.exit_code == 0, result.output
    return result


@pytest.mark.slow
def test_every_cli_option_reaches_the_saved_config(corpus_file, store_home):
    cli_train(
        corpus_file, "--name", "opts", "--context", "3", "--embedding-dim", "6", "--units", "7", "--hidden",
        "5", "--dropout", "0.1", "--no-tie-embeddings", "--epochs", "1", "--patience", "2", "--batch-size",
        "128", "--learning-rate", "0.01", "--val-split", "0.2", "--max-vocab", "40", "--min-count", "2",
        "--ngram", "--lstm-min-count", "4", "--refit-epochs", "1", "--seed", "9", "--epoch-words", "250",
        "--softmax-samples", "8",
    )  # fmt: skip
    info, predictor = store.load("opts")
    assert modelfile.config_of(info.meta) == TrainConfig(
        context=3, embedding_dim=6, units=7, hidden=5, dropout=0.1, tie_embeddings=False, epochs=1,
        patience=2, batch_size=128, learning_rate=0.01, val_split=0.2, max_vocab=40, min_count=2, ngram=True,
        lstm_min_count=4, refit_epochs=1, seed=9, epoch_words=250, softmax_samples=8,
    )  # fmt: skip
    lstm = predictor.lstm
    assert (lstm.embedding.shape[1], lstm.lstm_recurrent.shape[0], lstm.hidden_kernel.shape[1]) == (6, 7, 5)
    assert predictor.context_size == 3 and len(predictor.vocab) <= len(MARKERS) + 40


class Steps(SilentReporter):
    def __init__(self):
        self.started, self.batches = [], Counter()

    def start(self, epochs, steps, words):
        self.started.append((epochs, steps, words))

    def batch(self, epoch, step, loss):
        self.batches[len(self.started), epoch] += 1


@pytest.mark.slow
def test_an_epoch_trains_on_at_most_epoch_words_random_windows(corpus_file, store_home):
    config = dataclasses.replace(TINY, epochs=2, patience=5, refit_epochs=1, batch_size=32, epoch_words=100)
    reporter = Steps()
    result = train([corpus_file], config, name="sampled", reporter=reporter)
    assert reporter.started == [(2, 4, 100), (1, 4, 100)]  # 100 windows: 3 batches of 32 and one of 4
    assert reporter.batches == {(1, 1): 4, (1, 2): 4, (2, 1): 4}
    assert result.sampled == 100
    summary = cli_train(corpus_file, "--name", "again", "--preset", "tiny", "--epochs", "1", "--epoch-words",
                        "100").output  # fmt: skip
    assert "1 (best: 1) of 100 random words each" in " ".join(summary.split())
    everything = train([corpus_file], dataclasses.replace(config, epoch_words=10**6), name="all", force=True)
    assert everything.sampled is None


@pytest.mark.slow
def test_preset_tiny_is_the_courses_sizes(corpus_file, store_home):
    cli_train(corpus_file, "--name", "course", "--preset", "tiny", "--epochs", "1")
    info, predictor = store.load("course")
    config = modelfile.config_of(info.meta)
    assert (config.embedding_dim, config.units, config.hidden, config.dropout) == (8, 8, 8, 0.0)
    assert (config.tie_embeddings, config.ngram, config.epochs) == (False, False, 1)
    lstm, v = predictor.lstm, len(predictor.vocab)
    assert lstm.embedding.shape == (v, 8) and lstm.lstm_kernel.shape == (8, 32)
    assert lstm.hidden_kernel.shape == (8, 8) and lstm.output_kernel.shape == (8, v)
    assert predictor.ngram is None and predictor.lstm_weight == 1.0
