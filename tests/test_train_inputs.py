"""Training input that is accepted today but cannot make a model: refused before training starts (before
TensorFlow is even loaded), with one line that says why and what to do."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from conftest import CLI_ENV, CORPUS_TEXT, leftovers
from typer.testing import CliRunner

from autocomplete import store
from autocomplete.cli import app
from autocomplete.errors import ExitStatus
from autocomplete.text import BOUNDARY, tokenize


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
    from autocomplete.dataset import prepare
    from autocomplete.text import MARKERS

    assert prepare([corpus_file], TrainConfig(min_count=105)).vocab.words == (*MARKERS, "the")


# --- a file given twice ---------------------------------------------------------------------------


def test_a_file_given_twice_is_read_once(corpus_file, tmp_path):
    from autocomplete.corpus import distinct

    other = tmp_path / "other.txt"
    other.write_text("words")
    link = tmp_path / "link.txt"
    link.symlink_to(corpus_file)
    missing = tmp_path / "missing.txt"
    paths = [corpus_file, other, corpus_file, link, missing, tmp_path / "." / "corpus.txt"]
    assert distinct(paths) == ([corpus_file, other, missing], [f"{corpus_file} given 4 times: read once"])
    assert distinct([other, other]) == ([other], [f"{other} given twice: read once"])


def test_train_warns_about_a_file_given_twice(corpus_file, store_home):
    result = run("train", str(corpus_file), str(corpus_file), "--name", "../x")  # stops at the name check
    (warning, error) = result.stderr.splitlines()
    assert warning == f"warning: {corpus_file} given twice: read once"
    assert error.startswith("error: invalid model name ../x") and result.exit_code == ExitStatus.USAGE


@pytest.mark.slow
def test_training_on_a_file_given_twice_reads_it_once(corpus_file, store_home):
    result = run("train", str(corpus_file), str(corpus_file), "--preset", "tiny", "--epochs", "1")
    assert result.exit_code == ExitStatus.SUCCESS, result.output
    assert result.stderr == f"warning: {corpus_file} given twice: read once\n"
    assert store.find("corpus").meta["words"] == len([t for t in tokenize(CORPUS_TEXT) if t != BOUNDARY])
    assert [f["name"] for f in store.find("corpus").meta["corpus"]] == ["corpus.txt"]


def test_a_copy_of_a_file_is_read_once(corpus_file, tmp_path):
    from autocomplete.config import TrainConfig
    from autocomplete.dataset import prepare

    copy = tmp_path / "copy.txt"
    copy.write_bytes(corpus_file.read_bytes())
    once = prepare([corpus_file], TrainConfig())
    both = prepare([corpus_file, copy], TrainConfig())
    assert both.notes == (f"{copy} has the same text as {corpus_file}: read once",)
    assert [f.path for f in both.files] == [corpus_file]
    assert (both.words, both.vocab, both.ids.tolist()) == (once.words, once.vocab, once.ids.tolist())


# --- pipes, FIFOs, devices: refused up front, never waited on ---------------------------------------

NOT_REGULAR = "is not a regular file (a pipe, a device or a socket): training reads its corpus twice"


def train_process(args: list[str], home, **kwargs) -> subprocess.CompletedProcess:
    env = {**os.environ, **CLI_ENV, "AUTOCOMPLETE_HOME": str(home)}
    command = [sys.executable, "-m", "autocomplete", "train", *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=60, **kwargs)


def test_a_fifo_with_no_writer_is_refused_at_once(tmp_path, store_home):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    result = train_process([str(fifo)], store_home)  # opening it would wait for ever: the timeout says so
    assert result.returncode == ExitStatus.ERROR and "Traceback" not in result.stderr
    assert result.stderr.startswith(f"error: {fifo} {NOT_REGULAR}")


def test_a_fifo_with_a_writer_is_refused(tmp_path, store_home):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    writer = subprocess.Popen(["sh", "-c", f"printf '{CORPUS_TEXT[:200]}' > {fifo}"])
    try:
        result = train_process([str(fifo)], store_home)
    finally:
        reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # never waits: lets a waiting writer finish
        writer.wait(timeout=10)
        os.close(reader)
    assert result.returncode == ExitStatus.ERROR
    assert result.stderr.startswith(f"error: {fifo} {NOT_REGULAR}")


def test_a_pipe_on_stdin_is_refused(corpus_file, store_home):
    """`head -300 f | autocomplete train /dev/stdin`, and a process substitution (/dev/fd/N), alike."""
    head = subprocess.Popen(["head", "-300", str(corpus_file)], stdout=subprocess.PIPE)
    result = train_process(["/dev/stdin"], store_home, stdin=head.stdout)
    head.stdout.close()
    head.wait(timeout=10)
    assert result.returncode == ExitStatus.ERROR
    assert result.stderr.startswith(f"error: /dev/stdin {NOT_REGULAR}")
    assert leftovers(store_home) == []
