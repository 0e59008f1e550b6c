"""`train --prune` (issue 16): KenLM's --prune for the n-gram, checked on the command line, applied alike to
the held-out and the shipped n-gram, and saved in meta.json."""

from __future__ import annotations

import pytest
from conftest import CLI_ENV, CORPUS_TEXT
from hypothesis import given
from hypothesis import strategies as st
from test_cli import assert_one_line_error
from test_streaming import assert_same
from typer.testing import CliRunner

from autocomplete import dataset, store, train
from autocomplete.cli import app
from autocomplete.config import TrainConfig, preset
from autocomplete.errors import ExitStatus, UsageError
from autocomplete.ngram import KneserNey


def run(*args: str):
    return CliRunner().invoke(app, list(args), env=CLI_ENV)


# --- the option's values --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given_", "context", "counts"),
    [("auto", 2, None), ("0", 2, (0, 0)), ("1", 2, (0, 1)), ("2", 1, (2,)), ("1,2", 2, (1, 2)),
     (" 0, 1 ", 2, (0, 1)), ("3", 3, (0, 0, 3)), ("1,1,2", 5, (1, 1, 2))],
)  # fmt: skip
def test_prune_reads_as_one_count_per_order(given_, context, counts):
    assert preset("default", context=context, prune=given_).prune_counts() == counts


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--prune", "-1"], "--prune must be auto, a count of 0 or more, or one count per n-gram order (e.g. "
                            "1 or 0,1; got '-1')"),
        (["--prune", "1.5"], "got '1.5')"),
        (["--prune", "some"], "got 'some')"),
        (["--prune", "1,"], "got '1,')"),
        (["--prune", ""], "got '')"),
        (["--prune", "1,2,3"], "--prune takes one count or 2 (one per order 2..3) for the 3-gram of "
                               "--context 2 (got '1,2,3')"),
        (["--prune", "1,1", "--context", "1"], "--prune takes one count for the 2-gram of --context 1 (got "
                                               "'1,1')"),
    ],
)  # fmt: skip
def test_a_bad_prune_is_one_line_and_exit_2(tmp_path, store_home, args, message):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(CORPUS_TEXT, encoding="utf-8")
    result = run("train", str(corpus), *args)
    assert_one_line_error(result, ExitStatus.USAGE, message)
    assert not (store_home / "models").exists()  # refused before anything was read or made


@given(st.lists(st.integers(0, 10**6), min_size=1, max_size=2), st.sampled_from([",", ", ", " ,"]))
def test_any_counts_written_out_are_read_back(counts, comma):
    config = TrainConfig(prune=comma.join(map(str, counts))).validated()
    assert config.prune_counts() == ((0, *counts) if len(counts) == 1 else tuple(counts))


def _not_counts(text: str) -> bool:
    """Holds a character that is neither a digit, a comma nor a space, and is not auto."""
    return text.strip() != "auto" and any(not (c.isspace() or c in "0123456789,") for c in text)


@given(st.text().filter(_not_counts))
def test_any_other_text_is_refused(text):
    with pytest.raises(UsageError, match="^--prune must be auto, a count of 0 or more"):
        TrainConfig(prune=text).validated()


def test_a_model_saved_before_prune_existed_reads_as_auto():
    old = {k: v for k, v in TrainConfig(context=3).to_json().items() if k != "prune"}
    assert TrainConfig.from_json(old) == TrainConfig(context=3, prune="auto")


# --- the n-gram training fits ---------------------------------------------------------------------


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text(CORPUS_TEXT + "The dog saw the sea in the evening. My lord walked to the gate.\n")
    return dataset.prepare([path], TrainConfig())


@pytest.mark.parametrize(("prune", "fit"), [("0", 0), ("1", 1), ("2", 2), ("1,1", (1, 1)), ("0,2", (0, 2))])
def test_the_held_out_and_the_final_n_gram_take_the_counts_given(corpus, monkeypatch, prune, fit):
    monkeypatch.setattr(train, "PRUNE_ABOVE_TOKENS", len(corpus.ids) - 1)  # auto would prune: it is not asked
    config = TrainConfig(prune=prune)
    for ids in (corpus.ids, corpus.ids[: len(corpus.ids) // 2]):
        expected = KneserNey.fit(ids, len(corpus.vocab), 3, discount=None, prune=fit)
        assert_same(train._ngram(corpus, config, ids), expected)


def test_auto_is_the_size_rule(corpus, monkeypatch):
    unpruned = KneserNey.fit(corpus.ids, len(corpus.vocab), 3, discount=None)
    assert_same(train._ngram(corpus, TrainConfig(), corpus.ids), unpruned)
    monkeypatch.setattr(train, "PRUNE_ABOVE_TOKENS", len(corpus.ids) - 1)
    pruned = KneserNey.fit(corpus.ids, len(corpus.vocab), 3, discount=None, prune=1)
    assert_same(train._ngram(corpus, TrainConfig(), corpus.ids), pruned)


@pytest.mark.slow
def test_training_with_prune_1_saves_fewer_trigrams_than_with_prune_0(tmp_path, store_home):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(CORPUS_TEXT + "The dog saw the sea in the evening. My lord walked to the gate.\n")
    small = ["--units", "8", "--hidden", "8", "--embedding-dim", "8", "--epochs", "1", "--refit-epochs", "0"]
    trigrams = {}
    for prune in ("0", "1"):
        result = run("train", str(corpus), "--name", f"p{prune}", "--prune", prune, *small)
        assert result.exit_code == ExitStatus.SUCCESS, result.output
        info, predictor = store.load(f"p{prune}")
        assert info.meta["config"]["prune"] == prune
        trigrams[prune] = len(predictor.ngram.levels[-1].ids)
    vocab = store.load("p0")[1].vocab
    ids = dataset.prepare([corpus], TrainConfig()).ids
    singletons = KneserNey.fit(ids, len(vocab), 3, discount=None, prune=0).levels[-1].vals == 1
    assert trigrams["1"] == trigrams["0"] - int(singletons.sum()) > 0
