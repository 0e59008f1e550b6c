"""The command line through typer's CliRunner: train, predict (table, --json, --stdin), models, models rm, and
every bad argument answered by one line on stderr and a non-zero exit, never a traceback."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import textwrap

import pytest
from conftest import CLI_ENV, leftovers
from typer.testing import CliRunner

from autocomplete import modelfile, store
from autocomplete.cli import app
from autocomplete.errors import ExitStatus
from autocomplete.text import BOUNDARY


def run(*args: str, input: str | None = None):
    return CliRunner().invoke(app, list(args), input=input, env=CLI_ENV)


def assert_one_line_error(result, code: ExitStatus, message: str) -> None:
    """Exit `code` and one line on stderr that says `message` (stdout holds at most progress lines)."""
    assert result.exit_code == code, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and message in lines[0], lines[0]
    assert "error" not in result.stdout


# --- train ----------------------------------------------------------------------------------------


@pytest.mark.slow
def test_train_then_list_then_predict(corpus_file, store_home):
    result = run(
        "train", str(corpus_file), "--name", "cli", "--preset", "tiny", "--epochs", "1", "--batch-size", "64"
    )
    assert result.exit_code == 0, result.output
    assert "Trained 'cli'" in result.stdout and "saved to" in result.stdout  # paths may wrap: not checked
    assert 'autocomplete predict "the " --model cli' in result.stdout
    assert result.stderr == ""
    assert leftovers(store_home) == []

    listed = run("models")
    assert listed.exit_code == 0 and "cli" in listed.stdout and "corpus.txt" in listed.stdout

    answer = json.loads(run("predict", "the ", "--json").stdout)
    assert answer["model"] == "cli" and len(answer["suggestions"]) == 5


@pytest.mark.slow
def test_train_interrupted_says_what_was_saved_and_exits_130(corpus_file, store_home, ctrl_c_after_epoch):
    ctrl_c_after_epoch(2)
    result = run("train", str(corpus_file), "--name", "cut", "--preset", "tiny", "--epochs", "5",
                 "--patience", "5", "--batch-size", "64")  # fmt: skip
    assert result.exit_code == 130, result.output
    assert "(best: 2) — interrupted during epochs, refit skipped; best epoch saved" in result.stdout
    assert "Try it" not in result.stdout
    assert result.stderr.splitlines() == [
        "error: training was interrupted during epochs: the best of 2 epochs (epoch 2) was saved as cut"
    ]
    assert store.load("cut")[0].meta["epochs_run"] == 2
    assert leftovers(store_home) == []


def test_train_and_repl_help_state_the_interrupt_contract():
    for command in ("train", "repl"):
        result = CliRunner().invoke(app, [command, "--help"], env={**CLI_ENV, "COLUMNS": "200"})
        assert "Ctrl-C" in result.output and "exits with 130" in result.output, command


def bad_corpus(kind: str, folder):
    """A corpus path that `train` must refuse."""
    path = folder / {
        "missing": "missing.txt",
        "empty": "empty.txt",
        "binary": "a.gz",
        "too few words": "short.txt",
    }.get(kind, "")
    if kind == "empty":
        path.write_text("")
    elif kind == "binary":
        path.write_bytes(gzip.compress(b"not a text file " * 100, mtime=0))
    elif kind == "too few words":
        path.write_text("Two words.")
    return path


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("missing", "corpus file not found"),
        ("empty", "empty.txt is empty"),
        ("directory", "in has no text files (it is empty): give files or a folder of UTF-8 text"),
        ("binary", "a.gz is not a text file"),
        ("too few words", "short.txt has 2 words: a context of 2 needs at least 3"),
    ],
)
def test_train_refuses_a_bad_corpus(tmp_path, store_home, kind, message):
    folder = tmp_path / "in"
    folder.mkdir()
    result = run("train", str(bad_corpus(kind, folder)))
    assert_one_line_error(result, ExitStatus.ERROR, message)
    assert leftovers(store_home) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--epochs", "0"], "--epochs must be at least 1 (got 0)"),
        (["--epochs", "-2"], "--epochs must be at least 1 (got -2)"),
        (["--context", "0"], "--context must be at least 1"),
        (["--val-split", "0.9"], "--val-split must be in (0, 0.5]"),
        (["--batch-size", "0"], "--batch-size must be at least 1"),
        (["--hidden", "32"], "--tie-embeddings needs --hidden equal to --embedding-dim (got 32 and 64)"),
        (["--preset", "huge"], "unknown preset 'huge'"),
        (["--name", "../escape"], "invalid model name ../escape"),
        (["--name", "has space"], "invalid model name has space"),
    ],
)
def test_train_refuses_bad_options(corpus_file, store_home, args, message):
    assert_one_line_error(run("train", str(corpus_file), *args), ExitStatus.USAGE, message)


def test_the_try_it_line_starts_from_the_models_most_frequent_word(make_model):
    from autocomplete.cli import _try_it

    make_model("fr", words="le chat est sur le tapis".split())  # write_model keeps this order as ranks
    assert _try_it("fr").plain == 'Try it: autocomplete predict "le " --model fr or autocomplete repl'


def test_train_refuses_an_existing_name_without_force(corpus_file, make_model):
    make_model("corpus")  # the name the corpus file's stem gives
    assert_one_line_error(
        run("train", str(corpus_file)), ExitStatus.ERROR, "a model named 'corpus' exists: pass --force"
    )


# --- predict --------------------------------------------------------------------------------------


@pytest.mark.slow
def test_predict_table(model_home):
    result = run("predict", "the ca")
    assert result.exit_code == 0, result.output
    assert "model: tiny (most recent)" in result.stdout
    assert "cat" in result.stdout and "100.0%" in result.stdout
    assert "words starting with “ca”" in result.stdout
    named = run("predict", "my lord ", "--model", "tiny", "-k", "3")
    assert named.exit_code == 0 and "model: tiny" in named.stdout and "most recent" not in named.stdout
    assert named.stdout.count("%") == 3


@pytest.mark.slow
def test_predict_json(model_home):
    result = run("predict", "The cat sat on the ", "--json", "--top-k", "3")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert {"text", "context", "prefix", "suggestions"} <= set(data)
    assert data["text"] == "The cat sat on the " and data["context"] == ["on", "the"] and data["prefix"] == ""
    assert len(data["suggestions"]) == 3
    for item in data["suggestions"]:
        assert set(item) == {"word", "probability"}
        assert isinstance(item["word"], str) and 0.0 <= item["probability"] <= 1.0
        assert item["word"] not in ("", "<unk>", BOUNDARY)
    assert result.stdout.count("\n") == 1  # one object, one line


@pytest.mark.slow
def test_predict_stdin_json(model_home):
    lines = ["the ca", "the ", "", "to be or", "zebra quagga "]
    result = run("predict", "--stdin", "--json", input="\n".join(lines) + "\n")
    assert result.exit_code == 0, result.output
    answers = [json.loads(line) for line in result.stdout.splitlines()]
    assert [a["text"] for a in answers] == lines  # only the newline is stripped: trailing spaces count
    assert [a["prefix"] for a in answers] == ["ca", "", "", "or", ""]
    assert answers[0]["suggestions"][0]["word"] == "cat"
    assert answers[1]["context"] == [BOUNDARY, "the"] and answers[2]["context"] == [BOUNDARY, BOUNDARY]
    assert answers[4]["unknown"] == ["zebra", "quagga"] and answers[4]["suggestions"]


@pytest.mark.slow
def test_predict_stdin_plain(model_home):
    result = run("predict", "--stdin", "-k", "2", input="the ca\nto be or not to ")
    assert result.exit_code == 0, result.output
    first, second = result.stdout.splitlines()
    assert first.split("\t")[0] == "cat"
    assert len(second.split("\t")) == 2


@pytest.mark.slow
def test_predict_with_a_prefix_that_matches_nothing(model_home):
    data = json.loads(run("predict", "the zzz", "--json").stdout)
    assert data["suggestions"] == [] and data["prefix"] == "zzz"
    assert "no known word starts with that" in run("predict", "the zzz").stdout


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["the", "--model", "nope"], ExitStatus.ERROR, "no model named 'nope'"),
        (["the", "--model", "../up"], ExitStatus.USAGE, "invalid model name ../up"),
        (["the", "--top-k", "0"], ExitStatus.USAGE, "--top-k must be between 1 and 1000 (got 0)"),
        (["the", "--top-k", "-5"], ExitStatus.USAGE, "--top-k must be between 1 and 1000 (got -5)"),
        (["the", "--top-k", "100000"], ExitStatus.USAGE, "--top-k must be between 1 and 1000 (got 100000)"),
        ([], ExitStatus.USAGE, "give either TEXT or --stdin"),
        (["the", "--stdin"], ExitStatus.USAGE, "give either TEXT or --stdin"),
    ],
)
def test_predict_refuses_bad_arguments(make_model, args, code, message):
    make_model("m")
    assert_one_line_error(run("predict", *args), code, message)


def test_predict_top_k_that_is_not_a_number(make_model):
    make_model("m")
    result = run("predict", "the", "--top-k", "many")
    assert result.exit_code == ExitStatus.USAGE and "Traceback" not in result.output
    assert "--top-k" in result.stderr  # typer's own usage error


def test_predict_without_any_model(store_home):
    assert_one_line_error(
        run("predict", "the "), ExitStatus.ERROR, "no trained model yet: run `autocomplete train FILE`"
    )


def test_predict_a_broken_model(make_model, store_home):
    make_model("bad")
    (store_home / "models" / "bad" / modelfile.WEIGHTS_FILE).write_bytes(b"PK\x03\x04 truncated")
    assert_one_line_error(
        run("predict", "the ", "-m", "bad"), ExitStatus.ERROR, "remove it with `autocomplete models rm bad`"
    )


# Run in a fresh process: OpenBLAS's thread count is the whole process's. Before each mode of predict the
# probe sets two threads (as a machine with more cores would start), and prints what predict leaves.
ONE_BLAS_THREAD_PROBE = textwrap.dedent(
    """
    import ctypes, pathlib
    import numpy
    from typer.testing import CliRunner
    from autocomplete.cli import app

    maps = pathlib.Path("/proc/self/maps").read_text().splitlines()
    libraries = sorted({line.split()[-1] for line in maps if "openblas" in line.lower() and "/" in line})
    threads = []  # (get, set) per OpenBLAS numpy loaded
    for library in libraries:
        handle = ctypes.CDLL(library)
        for prefix, suffix in (("scipy_openblas", "64_"), ("openblas", "64_"), ("openblas", "")):
            get = getattr(handle, f"{prefix}_get_num_threads{suffix}", None)
            put = getattr(handle, f"{prefix}_set_num_threads{suffix}", None)
            if get is not None and put is not None:
                put.argtypes = [ctypes.c_int]
                threads.append((get, put))
                break
    print("OPENBLAS", len(threads))
    modes = [["predict", "the c"], ["predict", "the", "--json"], ["predict", "--stdin"]]
    for args in modes:
        for _, put in threads:
            put(2)
        before = [get() for get, _ in threads]
        result = CliRunner().invoke(app, args, input="the c\\n" if "--stdin" in args else None)
        assert result.exit_code == 0, result.output
        print(" ".join(args), before, [get() for get, _ in threads])
    """
)


@pytest.mark.parametrize(
    ("env", "threads"), [({}, 1), ({"OPENBLAS_NUM_THREADS": "2"}, 2)], ids=["default", "user's choice"]
)
def test_predict_uses_one_blas_thread(make_model, env, threads):
    """Every mode of predict asks OpenBLAS for one thread, as the REPL does, unless the user chose a count."""
    if not sys.platform.startswith("linux"):
        pytest.skip("the probe finds OpenBLAS through /proc")
    make_model("m")
    clean = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")}
    result = subprocess.run(
        [sys.executable, "-c", ONE_BLAS_THREAD_PROBE],
        capture_output=True, text=True, env={**clean, **CLI_ENV, **env}, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    found, *modes = result.stdout.splitlines()
    count = int(found.removeprefix("OPENBLAS "))
    if count == 0:
        pytest.skip("this numpy has no OpenBLAS")
    expected = ("predict the c", "predict the --json", "predict --stdin")
    assert modes == [f"{mode} {[2] * count} {[threads] * count}" for mode in expected]


# --- models ---------------------------------------------------------------------------------------


def test_models_lists_healthy_and_broken(make_model, store_home):
    make_model("old", created="2024-01-01T00:00:00+00:00")
    make_model("new", created="2025-01-01T00:00:00+00:00")
    make_model("bad", created="2026-01-01T00:00:00+00:00")
    (store_home / "models" / "bad" / modelfile.META_FILE).write_text("{oops")
    result = run("models")
    assert result.exit_code == 0, result.output
    rows = [line.split("│")[1:3] for line in result.stdout.splitlines() if line.startswith("│")]
    assert [[cell.strip() for cell in row] for row in rows] == [["●", "new"], ["", "old"], ["", "bad"]]
    words = " ".join(result.stdout.split())  # the note may wrap
    assert "✗ broken" in words
    assert "✗ bad: meta.json is unreadable" in words and "remove it with autocomplete models rm bad" in words


def test_models_when_there_are_none(store_home):
    result = run("models")
    assert result.exit_code == 0 and "No models yet" in result.stdout


def test_models_rm(make_model, store_home):
    make_model("a")
    make_model("b")
    result = run("models", "rm", "a")
    assert result.exit_code == 0 and "Removed model a" in result.stdout
    assert [i.name for i in store.list_models()] == ["b"]
    assert leftovers(store_home) == []
    assert_one_line_error(run("models", "rm", "a"), ExitStatus.ERROR, "no model named 'a'")
    assert_one_line_error(run("models", "rm", "../b"), ExitStatus.USAGE, "invalid model name")


def test_help_lists_the_commands():
    result = run("--help")
    assert result.exit_code == 0
    for command in ("train", "predict", "models", "repl"):
        assert command in result.stdout


def test_every_training_setting_is_a_train_option():
    from dataclasses import fields

    from autocomplete.config import TrainConfig

    result = CliRunner().invoke(app, ["train", "--help"], env={**CLI_ENV, "COLUMNS": "200"})
    assert result.exit_code == 0
    for field in fields(TrainConfig):
        option = "--" + field.name.replace("_", "-")
        assert option in result.output, option
