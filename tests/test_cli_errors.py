"""The CLI's error path: each error names its exit status, and user text in a message (model names, file
names, typed text) is shown as it is, never read as rich markup."""

from __future__ import annotations

import io
import json
import re
import shutil
from pathlib import Path

import pytest
import typer
from conftest import CLI_ENV, write_model
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console
from typer.testing import CliRunner

from autocomplete import modelfile, render
from autocomplete.cli import app, friendly_errors
from autocomplete.corpus import CorpusFile
from autocomplete.errors import CorpusError, ExitStatus, Interrupted, StoreError, UsageError


def test_the_exit_statuses_are_the_readme_list():
    assert {s.name: int(s) for s in ExitStatus} == {"SUCCESS": 0, "ERROR": 1, "USAGE": 2, "INTERRUPTED": 130}


@pytest.mark.parametrize(
    ("raised", "status"),
    [
        (CorpusError("x"), ExitStatus.ERROR),
        (StoreError("x"), ExitStatus.ERROR),
        (UsageError("x"), ExitStatus.USAGE),
        (Interrupted("x"), ExitStatus.INTERRUPTED),
        (KeyboardInterrupt(), ExitStatus.INTERRUPTED),
    ],
)
def test_each_error_exits_with_its_status(raised, status, capsys):
    @friendly_errors
    def command():
        raise raised

    with pytest.raises(typer.Exit) as exit_:
        command()
    assert exit_.value.exit_code == status
    assert capsys.readouterr().out == ""


# --- user text is never markup -------------------------------------------------------------------

# Names, file names and typed text as a user might give them: brackets (rich's markup), backslashes
# (its escape), any script, control characters.
USER_TEXT = st.one_of(
    st.text(min_size=1, max_size=30),
    st.sampled_from(["[/x]", "[/]", "[bold]", "notes [draft]", "\\[/x]", "a\\", "[link=x]y[/link]", "ÿ[/é]"]),
)
MODEL_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")  # store.check_name's rule, restated


def is_model_name(name: str) -> bool:
    return bool(MODEL_NAME.fullmatch(name)) and ".." not in name


def one_line_error(result, status: ExitStatus) -> str:
    """The one stderr line of a refused command (exit `status`, no traceback), without its "error: "."""
    assert result.exit_code == status, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0].removeprefix("error: ")


def shows(line: str, text: str) -> bool:
    """`text` is in the message as typed: verbatim, or with its unprintable characters written as escapes."""
    return (text if text.isprintable() else render.one_line(text)) in line


def shows_name(line: str, name: str) -> bool:
    """store.check_name's message shows an unprintable name as its repr."""
    return (name if name.isprintable() else repr(name)) in line


@pytest.fixture(scope="module")
def home_with_a_model(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("store")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AUTOCOMPLETE_HOME", str(home))
        write_model("m")
    return home


def invoke(home: Path, *args: str):
    return CliRunner().invoke(app, list(args), env={**CLI_ENV, "AUTOCOMPLETE_HOME": str(home)})


@settings(max_examples=60, deadline=None)
@given(name=USER_TEXT.filter(lambda n: n != "m"))  # "m" is the model the store holds
def test_a_model_name_is_shown_as_given(home_with_a_model, name):
    for args in (["predict", "the ", f"--model={name}"], ["evaluate", "x.txt", f"--model={name}"],
                 ["models", "rm", "--", name]):  # fmt: skip
        if is_model_name(name):
            line = one_line_error(invoke(home_with_a_model, *args), ExitStatus.ERROR)
            assert line.startswith(f"no model named {name!r}"), line
        else:
            line = one_line_error(invoke(home_with_a_model, *args), ExitStatus.USAGE)
            assert line.startswith("invalid model name ") and shows_name(line, name), line


FILE_NAME = USER_TEXT.filter(lambda s: "/" not in s and "\x00" not in s and s.strip(".") and len(s) < 60)


@settings(max_examples=40, deadline=None)
@given(name=FILE_NAME)
def test_a_file_name_is_shown_as_given(home_with_a_model, tmp_path_factory, name):
    folder = tmp_path_factory.mktemp("files")
    empty, missing = folder / ("empty " + name), folder / ("missing " + name)
    empty.write_bytes(b"")
    line = one_line_error(invoke(home_with_a_model, "train", str(empty)), ExitStatus.ERROR)
    assert line.endswith(" is empty: give a text file with some words in it") and shows(line, str(empty))
    line = one_line_error(invoke(home_with_a_model, "evaluate", str(missing)), ExitStatus.ERROR)
    assert line.startswith("corpus file not found: ") and shows(line, str(missing)), line


@settings(max_examples=40, deadline=None)
@given(name=USER_TEXT.filter(lambda n: n != "m"))  # "m" is the model the store holds
def test_a_training_name_is_shown_as_given(home_with_a_model, tmp_path_factory, name):
    missing = tmp_path_factory.mktemp("train") / "missing.txt"
    result = invoke(home_with_a_model, "train", str(missing), f"--name={name}")
    if is_model_name(name):
        line = one_line_error(result, ExitStatus.ERROR)
        assert line == f"corpus file not found: {missing}", line
    else:
        line = one_line_error(result, ExitStatus.USAGE)
        assert line.startswith("invalid model name ") and shows_name(line, name), line


def test_the_issue_examples(home_with_a_model, tmp_path):
    """The commands the issue lists, each one line naming the user's string."""
    (tmp_path / "[").mkdir()
    empty = str(tmp_path / "[/x].txt")
    (tmp_path / "[/x].txt").write_text("")
    for args, status, message in [
        (["predict", "the ", "--model", "[/x]"], ExitStatus.USAGE, "invalid model name [/x]: "),
        (["train", empty], ExitStatus.ERROR, f"{tmp_path}/[/x].txt is empty"),
        (["train", empty, "--name", "[/x]"], ExitStatus.USAGE, "invalid model name [/x]"),
        (["models", "rm", "[/x]"], ExitStatus.USAGE, "invalid model name [/x]: "),
        (["evaluate", "[/]"], ExitStatus.ERROR, "corpus file not found: [/]"),
    ]:
        assert message in one_line_error(invoke(home_with_a_model, *args), status)


def test_a_file_name_with_brackets_in_the_evaluate_footer(home_with_a_model, tmp_path):
    path = tmp_path / "notes [draft].txt"
    path.write_text("The cat sat on a mat. The dog ran to the red barn.\n", encoding="utf-8")
    result = invoke(home_with_a_model, "evaluate", str(path))
    assert result.exit_code == ExitStatus.SUCCESS, result.output
    # The caption wraps where the temporary folder's path is long: compare with the line breaks undone.
    assert "notes [draft].txt · 13 words" in " ".join(result.stdout.split())


def test_a_file_name_with_brackets_in_the_training_summary(tmp_path):
    from autocomplete.train import TrainResult

    files = [CorpusFile(Path("notes [draft].txt"), 10, "utf-8"), CorpusFile(Path("[/x].txt"), 10, "utf-8")]
    result = TrainResult(
        name="notes", path=tmp_path / "[b]", files=files, words=10, vocab_size=8, parameters=100,
        epochs_run=1, best_epoch=1, refit_epochs=0, lstm_vocab_size=8, interrupted=False,
        interrupted_during=None, refit_skipped=False, lstm_weight=1.0, validation=None, validation_lstm=None,
        seconds=1.0,
    )  # fmt: skip
    console = Console(file=io.StringIO(), width=100, color_system=None)
    console.print(render.training_summary(result))
    out = console.file.getvalue()
    assert "corpus     │ notes [draft].txt" in out and "│ [/x].txt" in out and f"{tmp_path}/[b]" in out


def test_a_corpus_name_with_brackets_in_the_models_table(home_with_a_model, tmp_path):
    home = tmp_path / "home"
    shutil.copytree(home_with_a_model, home, symlinks=True)
    meta_path = home / "models" / "m" / modelfile.META_FILE
    meta = json.loads(meta_path.read_text())
    meta_path.write_text(json.dumps({**meta, "corpus": [{"name": "notes [draft].txt", "sha256": "0"}]}))
    result = invoke(home, "models")
    assert result.exit_code == ExitStatus.SUCCESS, result.output
    assert "notes [draft].txt" in result.stdout
