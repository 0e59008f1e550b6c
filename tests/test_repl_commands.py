"""The REPL's `:` commands and its start-up (which model it opens, or what it says when there is none)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from types import SimpleNamespace

import pytest
from conftest import CLI_ENV, write_model
from fakes import FakeModel
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rich.console import Console
from typer.testing import CliRunner

from autocomplete.cli import app
from autocomplete.config import TrainConfig
from autocomplete.errors import StoreError
from autocomplete.repl import startup
from autocomplete.repl.commands import command_completions, execute
from autocomplete.repl.state import ReplState


@pytest.fixture
def state():
    return ReplState("fake", FakeModel(), 5)


def run(line: str, state: ReplState) -> tuple[bool, str]:
    console = Console(file=io.StringIO(), width=100, color_system=None)
    keep_going = execute(line, state, console)
    return keep_going, console.file.getvalue()


def test_help_lists_keys_and_commands(state):
    keep_going, out = run(":help", state)
    assert keep_going
    for needle in ["Tab", "Alt-N", "F2", "Ctrl-D", ":model NAME", ":top N", ":quit"]:
        assert needle in out, needle


def test_help_lists_every_alias(state):
    from autocomplete.repl.commands import ALIASES

    out = run(":help", state)[1]
    for alias, command in ALIASES.items():
        row = next(line for line in out.splitlines() if line.lstrip().startswith(command + " "))
        assert alias in row, (alias, row)


@pytest.mark.parametrize("line", [":HELP", ":Help", ":H"])
def test_commands_are_case_insensitive(state, line):
    assert run(line, state)[1] == run(":help", state)[1]


@pytest.mark.parametrize("line", [":Quit", ":QUIT", ":Q", ":EXIT"])
def test_quit_in_any_case(state, line):
    assert run(line, state) == (False, "")


def test_top_in_capitals(state):
    assert run(":TOP 3", state)[0] and state.top_k == 3


@pytest.mark.parametrize("line", [":quit", ":q", "  :exit  "])
def test_quit(state, line):
    assert run(line, state) == (False, "")


@pytest.mark.parametrize("line", [":foo", ":", ":topp 3"])
def test_unknown_command_is_a_one_line_hint(state, line):
    keep_going, out = run(line, state)
    assert keep_going
    assert len(out.strip().splitlines()) == 1 and "unknown command" in out and ":help" in out


def test_top_changes_k_and_renews_the_answers(state):
    before = state.answers
    keep_going, out = run(":top 3", state)
    assert keep_going and "top 3" in out
    assert state.top_k == 3 and state.answers is not before and state.answers.k == 3
    assert len(state.answers("the ").items) == 3


@pytest.mark.parametrize("arg", ["0", "x", "-2", "100000"])
def test_top_refuses_bad_numbers(state, arg):
    keep_going, out = run(f":top {arg}", state)
    assert keep_going and state.top_k == 5
    assert len(out.strip().splitlines()) == 1 and "1 to 1000" in out


def test_model_switches_live(store_home, state):
    write_model("other", words="alpha beta gamma delta".split())
    before = state.answers
    keep_going, out = run(":model other", state)
    assert keep_going and "now using other" in out
    assert state.model_name == "other" and state.answers is not before
    assert {s.word for s in state.answers("").items} <= {"alpha", "beta", "gamma", "delta"}


def test_model_that_does_not_exist_is_a_hint(store_home, state):
    write_model("other")
    keep_going, out = run(":model nope", state)
    assert keep_going and state.model_name == "fake"
    assert len(out.strip().splitlines()) == 1 and "no model named 'nope'" in out


def test_model_without_a_name_tells_the_current_one(state):
    assert "model: fake" in run(":model", state)[1]


def test_models_lists_the_store(store_home, state):
    write_model("one")
    out = run(":models", state)[1]
    assert "one" in out and "in use: fake" in out


def test_model_names_complete_after_model(store_home):
    write_model("alpha")
    write_model("beta")
    assert [c.text for c in command_completions(":model a")] == ["alpha"]
    assert {c.text for c in command_completions(":model ")} == {"alpha", "beta"}
    assert list(command_completions(":top ")) == []


# --- start-up ------------------------------------------------------------------------------------


def quiet() -> Console:
    return Console(file=io.StringIO(), width=100, color_system=None)


def test_opens_the_most_recent_model(store_home):
    write_model("old", created="2024-01-01T00:00:00")
    write_model("new", created="2025-01-01T00:00:00")
    info, predictor = startup.open_model(None, False, quiet(), ask=pytest.fail)
    assert info.name == "new" and len(predictor.vocab) > 3


def test_no_model_says_how_to_train_one(store_home):
    with pytest.raises(StoreError, match="--train-default"):
        startup.open_model(None, False, quiet(), ask=lambda console: False)


def test_a_missing_named_model_is_not_answered_by_training(store_home):
    with pytest.raises(StoreError, match="no model named 'nope'"):
        startup.open_model("nope", True, quiet(), ask=pytest.fail)


def test_train_default_trains_the_bundled_corpus(store_home, monkeypatch):
    import autocomplete.train

    trained = []

    def fake_train(paths, config, name=None, force=False, reporter=None):
        trained.append((paths[0].name, config, reporter))
        write_model("notebook")
        return SimpleNamespace(name="notebook", seconds=1.0, interrupted=False)

    monkeypatch.setattr(autocomplete.train, "train", fake_train)
    info, _ = startup.open_model(None, True, quiet(), ask=pytest.fail)
    assert info.name == "notebook"
    ((corpus, config, reporter),) = trained
    assert corpus == "notebook.txt" and config == TrainConfig() and reporter is not None


def test_yes_at_the_question_trains_too(store_home, monkeypatch):
    import autocomplete.train

    monkeypatch.setattr(
        autocomplete.train,
        "train",
        lambda *a, **k: (
            write_model("notebook"),
            SimpleNamespace(name="notebook", seconds=1, interrupted=False),
        )[1],
    )
    info, _ = startup.open_model(None, False, quiet(), ask=lambda console: True)
    assert info.name == "notebook"


def test_cli_repl_without_a_model_is_one_line_and_exit_1(store_home):
    from prompt_toolkit.application import create_app_session
    from prompt_toolkit.input import create_pipe_input
    from prompt_toolkit.output import DummyOutput

    with create_pipe_input() as keys, create_app_session(input=keys, output=DummyOutput()):
        result = CliRunner().invoke(app, ["repl"], env=CLI_ENV)  # keys from a pipe input, not stdin
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert (
        len(lines) == 1
        and lines[0].startswith("error: no trained model yet")
        and "--train-default" in lines[0]
    )


@pytest.mark.slow
def test_train_default_interrupted_does_not_open_the_repl(
    store_home, corpus_file, monkeypatch, ctrl_c_after_epoch
):
    from prompt_toolkit.application import create_app_session
    from prompt_toolkit.input import create_pipe_input
    from prompt_toolkit.output import DummyOutput

    from autocomplete import bundled, store

    monkeypatch.setattr(bundled, "default_corpus", lambda: corpus_file)  # seconds, not half a minute
    with create_pipe_input() as keys, create_app_session(input=keys, output=DummyOutput()):
        keys.send_text("\x04")  # were the REPL opened, this Ctrl-D would end it with exit 0
        result = CliRunner().invoke(app, ["repl", "--train-default"], env=CLI_ENV)
    assert result.exit_code == 130, result.output
    assert "Trained" not in result.stdout
    assert result.stderr.splitlines() == [
        "error: training was interrupted during epochs: the best of 1 epoch (epoch 1) was saved as corpus; "
        "the REPL was not opened on it: `autocomplete train --force` trains it again, `autocomplete repl` "
        "opens it as it is"
    ]
    assert store.load("corpus")[0].meta["epochs_run"] == 1


def test_cli_repl_checks_top_k(store_home):
    result = CliRunner().invoke(app, ["repl", "--top-k", "0"], env=CLI_ENV)
    assert result.exit_code == 2 and "--top-k" in result.stderr


def test_repl_never_imports_tensorflow(store_home):
    """The whole `autocomplete repl` path, command line to accepted line to Ctrl-D, in a fresh process."""
    write_model("m")
    script = (
        "import sys, threading, time\n"
        "from prompt_toolkit.application import create_app_session\n"
        "from prompt_toolkit.input import create_pipe_input\n"
        "from prompt_toolkit.output import DummyOutput\n"
        "from autocomplete.cli import app\n"
        "with create_pipe_input() as pipe, create_app_session(input=pipe, output=DummyOutput()):\n"
        "    def keys():\n"
        "        for chunk in ['the c', '\\t', '\\t', '\\r', '\\r', '\\x04']:\n"
        "            time.sleep(0.3)\n"
        "            pipe.send_text(chunk)\n"
        "    threading.Thread(target=keys, daemon=True).start()\n"
        "    try:\n"
        "        app(['repl', '--model', 'm'])\n"
        "    except SystemExit as e:\n"
        "        assert not e.code, e.code\n"
        "print('HEAVY', sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras')))\n"
    )
    env = {**os.environ, "AUTOCOMPLETE_HOME": str(store_home)}
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60
    )
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    assert lines[-1] == "HEAVY []"
    assert len(lines) == 2 and lines[0].startswith("the c")  # the accepted line, printed
    assert (store_home / "history").read_text().count("\n+the c") == 1


@pytest.mark.parametrize("env, expected", [({}, "True"), ({"OPENBLAS_NUM_THREADS": "2"}, "False")])
def test_one_blas_thread_unless_the_user_chose(env, expected):
    """In a fresh process: it changes the whole process's BLAS threads."""
    script = (
        "import numpy\n"
        "from autocomplete.blas import use_one_blas_thread\n"
        "print(use_one_blas_thread())\n"
        "numpy.ones((64, 20000), numpy.float32).T @ numpy.ones(64, numpy.float32)  # still works\n"
    )
    clean = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")}
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env={**clean, **env}
    )
    assert result.returncode == 0, result.stderr
    if expected == "True" and result.stdout.strip() == "False" and not sys.platform.startswith("linux"):
        pytest.skip("no OpenBLAS found through /proc on this system")
    assert result.stdout.strip() == expected


# --- user text is never markup ---------------------------------------------------------------------

ARGUMENT_COMMANDS = [":model", ":top"]  # the commands that read an argument
PLAIN_COMMANDS = [":help", ":models", ":quit", ":h", ":?", ":q", ":exit"]  # these take none


@pytest.mark.parametrize(
    "line, shown",
    [(":top [/x]", "[/x]"), (":model [/x]", "[/x]"), (":foo[/x]", ":foo[/x]"), (":top [bold]9", "[bold]9")],
)
def test_markup_in_a_command_is_shown_as_typed(store_home, state, line, shown):
    keep_going, out = run(line, state)
    assert keep_going and state.model_name == "fake" and state.top_k == 5
    assert len(out.strip().splitlines()) == 1 and shown in out


@pytest.mark.parametrize("command", PLAIN_COMMANDS)
def test_a_command_that_takes_no_argument_refuses_one(state, command):
    keep_going, out = run(f"{command} [/x] now", state)
    assert keep_going  # even :quit: a line that is not exactly a command does nothing
    assert out.strip().splitlines() == [f"! {command} takes no argument (got “[/x] now”)"]


# Any printable text, brackets and quotes included (what is not printable is shown escaped, not verbatim).
USER_TEXT = st.text(st.characters().filter(str.isprintable), max_size=40).map(str.strip)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(command=st.sampled_from(ARGUMENT_COMMANDS + PLAIN_COMMANDS), text=USER_TEXT.filter(bool))
def test_any_text_after_any_command_is_printed_verbatim(store_home, command, text):
    state = ReplState("fake", FakeModel(), 5)
    keep_going, out = run(f"{command} {text}", state)
    assert keep_going
    if not (command == ":top" and text.isascii() and text.isdigit() and 1 <= int(text) <= 1000):
        assert text in out.replace("\n", "")


@settings(max_examples=150, deadline=None)
@given(name=USER_TEXT.filter(lambda t: t and not any(c.isspace() for c in t)))
def test_any_unknown_command_is_printed_verbatim(name):
    state = ReplState("fake", FakeModel(), 5)
    line = f":{name}"
    if line.lower() in (*ARGUMENT_COMMANDS, *PLAIN_COMMANDS, ":m"):
        return
    keep_going, out = run(line, state)
    assert keep_going and len(out.strip().splitlines()) == 1 and line in out
