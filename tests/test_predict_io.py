"""`predict` as scripts and editors drive it: real processes, raw bytes in, valid UTF-8 JSON out; CRLF
lines; a reader that stops early (BrokenPipe); and any text at all through the CLI (hypothesis)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from conftest import CLI_ENV, WORDS, write_model
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from autocomplete.cli import app
from autocomplete.errors import ExitStatus
from autocomplete.text import split_typed, tokenize

COMMAND = [sys.executable, "-m", "autocomplete", "predict"]


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """A store holding one model made from random weights (no Keras)."""
    home = tmp_path_factory.mktemp("predict-io")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AUTOCOMPLETE_HOME", str(home))
        write_model("m")
    return home


def predict_process(home, args: list, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, **CLI_ENV, "AUTOCOMPLETE_HOME": str(home)}
    return subprocess.run([*COMMAND, *args], input=stdin, capture_output=True, env=env, timeout=60)


def json_lines(result: subprocess.CompletedProcess) -> list[dict]:
    """stdout as strict UTF-8, one JSON object per line; the command succeeded and said nothing on stderr."""
    assert result.returncode == ExitStatus.SUCCESS and result.stderr == b"", result.stderr.decode(
        errors="replace"
    )
    return [json.loads(line) for line in result.stdout.decode("utf-8").splitlines()]


def test_undecodable_bytes_on_stdin_become_replacement_characters(home):
    (answer,) = json_lines(predict_process(home, ["--stdin", "--json"], b"the \xff\n"))
    assert answer["text"] == "the \ufffd" and answer["prefix"] == ""


def test_undecodable_bytes_in_the_argument_become_replacement_characters(home):
    (answer,) = json_lines(predict_process(home, [b"the ca\xff", "--json"]))
    assert answer["text"] == "the ca\ufffd"


def test_crlf_lines_on_stdin_lose_their_carriage_return(home):
    answers = json_lines(predict_process(home, ["--stdin", "--json"], b"the ca\r\nthe \r\n"))
    assert [(a["text"], a["prefix"]) for a in answers] == [("the ca", "ca"), ("the ", "")]
    assert answers[0]["suggestions"][0]["word"] == "cat"  # "cat" is the one word starting with "ca"


def test_a_reader_that_stops_early_ends_predict_quietly(home, tmp_path):
    """`autocomplete predict --stdin | head -1`: predict exits 0 with nothing on stderr."""
    lines = tmp_path / "lines.txt"
    lines.write_text("the \n" * 20000)
    env = {**os.environ, **CLI_ENV, "AUTOCOMPLETE_HOME": str(home)}
    with lines.open("rb") as source:
        predict = subprocess.Popen(
            [*COMMAND, "--stdin"], stdin=source, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
        )
        head = subprocess.Popen(["head", "-1"], stdin=predict.stdout, stdout=subprocess.PIPE)
        predict.stdout.close()  # head alone reads it, so predict sees the pipe break when head exits
        first, _ = head.communicate(timeout=60)
        _, errors = predict.communicate(timeout=60)
    assert len(first.decode().split("\t")) == 5
    assert errors == b"" and predict.returncode == ExitStatus.SUCCESS


# Any text: every script, brackets (rich markup), backslashes, control characters, lone surrogates (what
# Python makes of undecodable bytes in argv).
ANY_TEXT = st.text(st.characters(exclude_categories=()), max_size=40) | st.sampled_from(
    ["[/x]", "the [bold]ca", "\\", "the \x1b[31mca", "my lo\r", "\udcff", "the\x00ca"]
)


def run(home, *args: str, input: str | None = None):
    return CliRunner().invoke(app, list(args), input=input, env={**CLI_ENV, "AUTOCOMPLETE_HOME": str(home)})


@settings(max_examples=150, deadline=None)
@given(text=ANY_TEXT)
def test_predict_answers_any_text(home, text):
    result = run(home, "predict", "--json", "--", text)  # "--": a text may start with "-"
    assert result.exit_code == ExitStatus.SUCCESS, result.output
    answer = json.loads(result.stdout)
    assert set(answer) == {"text", "context", "unknown", "prefix", "suggestions", "model", "adapted"}
    words = [s["word"] for s in answer["suggestions"]]
    cleaned = "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in text)
    known = set(WORDS) | set(tokenize(cleaned))  # the recency cache may offer a word of the text itself
    assert {w.lower() for w in words} <= known and len(words) == len(set(words))
    assert all(0.0 <= s["probability"] <= 1.0 for s in answer["suggestions"])
    assert all(w.lower().startswith(answer["prefix"]) for w in words)
    assert answer["text"] == cleaned and answer["prefix"] == split_typed(cleaned)[1]
    table = run(home, "predict", "--", text)
    assert table.exit_code == ExitStatus.SUCCESS and "model: m (most recent)" in table.stdout, table.output


LINE_TEXT = st.text(st.characters(exclude_characters="\n\r", exclude_categories=("Cs",)))


@settings(max_examples=50, deadline=None)
@given(lines=st.lists(LINE_TEXT, min_size=1, max_size=5))
def test_predict_stdin_answers_any_lines(home, lines):
    """(Undecodable input on a real stdin: the tests above; CliRunner's input cannot hold it.)"""
    result = run(home, "predict", "--stdin", "--json", input="".join(line + "\n" for line in lines))
    assert result.exit_code == ExitStatus.SUCCESS, result.output
    answers = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(answers) == len(lines)
    for line, a in zip(lines, answers, strict=True):  # each line's cache holds that line's words alone
        assert {s["word"].lower() for s in a["suggestions"]} <= set(WORDS) | set(tokenize(line)), (line, a)


def test_json_answers_stay_one_line_when_the_text_holds_unicode_line_breaks(home):
    """NEL, LINE SEPARATOR and PARAGRAPH SEPARATOR are escaped: a reader splitting on any line break (as
    Python's splitlines does) still gets one object per answer."""
    lines = ["the \x85", "a\u2028b", "c\u2029"]
    result = run(home, "predict", "--stdin", "--json", input="".join(line + "\n" for line in lines))
    assert result.exit_code == ExitStatus.SUCCESS, result.output
    answers = [json.loads(line) for line in result.stdout.splitlines()]
    assert [a["text"] for a in answers] == lines
