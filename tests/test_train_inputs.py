"""Training input that is accepted today but cannot make a model: refused before training starts (before
TensorFlow is even loaded), with one line that says why and what to do."""

from __future__ import annotations

from conftest import CLI_ENV, leftovers
from typer.testing import CliRunner

from autocomplete.cli import app
from autocomplete.errors import ExitStatus


def run(*args: str):
    return CliRunner().invoke(app, list(args), env=CLI_ENV)


def refused(result, status: ExitStatus) -> str:
    """The one error line of a training refused before TensorFlow was loaded."""
    assert result.exit_code == status, result.output
    assert "Loading TensorFlow" not in result.stdout and "Traceback" not in result.output
    (line,) = result.stderr.splitlines()
    return line


def test_a_min_count_no_word_reaches_is_refused(corpus_file, store_home):
    line = refused(run("train", str(corpus_file), "--min-count", "1000000"), ExitStatus.USAGE)
    assert line == (
        "error: no word of corpus.txt occurs 1,000,000 times (the most frequent, 'the', occurs 105): "
        "lower --min-count"
    )
    assert leftovers(store_home) == [] and not (store_home / "models" / "corpus").exists()


def test_words_that_never_recur_are_refused(tmp_path, store_home):
    path = tmp_path / "long.txt"
    path.write_text(" ".join(letter * 200_000 for letter in "abc"), encoding="utf-8")
    line = refused(run("train", str(path)), ExitStatus.ERROR)
    assert line == (
        "error: every word of long.txt occurs once: a model learns from words that recur; give a longer text "
        "(a few hundred words at least)"
    )


def test_a_min_count_the_top_word_reaches_keeps_just_that_word(corpus_file):
    from autocomplete.config import TrainConfig
    from autocomplete.text import MARKERS
    from autocomplete.train import prepare

    assert prepare([corpus_file], TrainConfig(min_count=105)).vocab.words == (*MARKERS, "the")
