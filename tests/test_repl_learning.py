"""The REPL adapts and learns (issue 15): its suggestions come from the adapted predictor (the session's
lines in the recency cache, the model's memory loaded), every accepted line is learned into the memory,
and nothing is learned or kept in the history file while learning is off (`:incognito`, `--no-learn`,
AUTOCOMPLETE_NO_LEARN), nor any secret. Driven through prompt_toolkit's harness (pipe input, DummyOutput)
as test_repl_app.py does, with the tiny FakeModel and a real memory in the test's store."""

from __future__ import annotations

import io
import os
import textwrap
import threading

import pytest
from conftest import run_at_once, write_model
from fakes import FakeModel
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prompt_toolkit.application import create_app_session
from prompt_toolkit.history import FileHistory
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput
from rich.console import Console
from terminal import Terminal
from test_repl_app import CTRL_D, ENTER, UP, Typist, run_loop
from test_repl_terminal import finish
from test_secrets import SECRETS, _words

from autocomplete import adapted, memory, store
from autocomplete.repl.app import Repl
from autocomplete.repl.commands import help_table
from autocomplete.repl.state import Learner, ReplState, learning_off
from autocomplete.suggest import suggest
from autocomplete.text import tokenize_line

NAME = "fake"
TWICE = ["I met Zorblax at the gate.", "Later Zorblax sat on the mat."]


def make_state(model=None, adapt: bool = True, off: str = "") -> ReplState:
    """The state `autocomplete repl` builds: the model's adaptation (its memory loaded) and a Learner."""
    model = model or FakeModel()
    adaptation = adapted.adaptation_for(NAME, {}, model) if adapt else None
    return ReplState(NAME, model, 5, adaptation=adaptation, learning_off=off, learner=Learner())


@pytest.fixture
def repl_session(store_home, tmp_path):
    """make(state) -> (repl, typist, console output, history file), in a pipe-input app session."""
    made = []
    history_file = tmp_path / "history"

    with create_pipe_input() as pipe, create_app_session(input=pipe, output=DummyOutput()):

        def make(state: ReplState):
            out = io.StringIO()
            console = Console(file=out, width=200, color_system=None)
            repl = Repl(state, console, True, FileHistory(str(history_file)))
            made.append(repl)
            return repl, Typist(pipe, repl), out, history_file

        yield make
    for repl in made:
        repl.live.close()


def memory_text() -> str:
    path = memory.memory_dir(NAME) / memory.MEMORY_FILE
    return path.read_text(encoding="utf-8") if path.exists() else ""


def history_lines(path) -> list[str]:
    return [line for line in path.read_text().splitlines() if line.startswith("+")] if path.exists() else []


def status(repl: Repl) -> str:
    return repl.live.toolbar().value.splitlines()[-1]


def enter(t: Typist, line: str) -> None:
    t.type(line)
    t.send(ENTER)
    t.new_prompt()


def shown(repl: Repl, t: Typist, text: str) -> list[str]:
    """Type `text` at a new prompt; the words the panel shows for it (its frame, computed off the UI)."""
    t.type(text)
    t.wait_for(lambda: repl.live.frame.text == text, f"the panel for {text!r}")
    return [s.word for s in repl.live.frame.answer.items]


def test_an_accepted_line_is_learned_and_kept_in_the_history(repl_session):
    repl, typist, _, history_file = repl_session(make_state())

    def script(t: Typist):
        enter(t, TWICE[0])
        enter(t, ":top 3")  # a command is not text: never learned
        t.send(CTRL_D)

    run_loop(repl, typist, script)
    assert memory_text() == TWICE[0] + "\n"
    assert history_lines(history_file) == [f"+{TWICE[0]}", "+:top 3"]
    assert "incognito" not in status(repl)


def test_incognito_learns_nothing_and_keeps_nothing_in_the_history_file(repl_session):
    repl, typist, out, history_file = repl_session(make_state())

    def script(t: Typist):
        enter(t, "first line")
        enter(t, ":incognito")
        t.wait_for(lambda: "incognito" in status(repl), "the status line")
        enter(t, "nobody sees this")
        t.send(UP)  # the session's own history still has it
        t.wait_for(lambda: t.buffer.text == "nobody sees this", "the line from the history")
        t.send("\x03")  # Ctrl-C: clear
        enter(t, ":incognito")
        t.wait_for(lambda: "incognito" not in status(repl), "the status line")
        enter(t, "back again")
        t.send(CTRL_D)

    run_loop(repl, typist, script)
    assert memory_text() == "first line\nback again\n"
    assert history_lines(history_file) == ["+first line", "+:incognito", "+back again"]
    assert "incognito: nothing you type is learned" in out.getvalue()


@pytest.mark.parametrize("off", ["--no-learn", "env"])
def test_with_learning_off_nothing_reaches_the_memory_or_the_history_file(repl_session, monkeypatch, off):
    if off == "env":
        monkeypatch.setenv("AUTOCOMPLETE_NO_LEARN", "1")
    reason = learning_off(off == "--no-learn")
    assert reason == ("--no-learn" if off == "--no-learn" else "AUTOCOMPLETE_NO_LEARN is set")
    repl, typist, out, history_file = repl_session(make_state(off=reason))

    def script(t: Typist):
        t.wait_for(lambda: "incognito" in status(repl), "the status line")
        enter(t, "a private line")
        enter(t, ":incognito")  # cannot turn learning on
        t.send(CTRL_D)

    run_loop(repl, typist, script)
    assert memory_text() == "" and history_lines(history_file) == []
    assert f"learning is off for this session ({reason})" in out.getvalue()
    assert "incognito" in status(repl)


def test_learning_off_reasons(monkeypatch):
    monkeypatch.delenv("AUTOCOMPLETE_NO_LEARN", raising=False)
    assert learning_off(False) == ""
    monkeypatch.setenv("AUTOCOMPLETE_NO_LEARN", "0")
    assert learning_off(False) == ""


def test_help_lists_incognito():
    console = Console(file=io.StringIO(), width=200, color_system=None)
    console.print(help_table())
    assert ":incognito" in console.file.getvalue()


def test_a_name_typed_twice_in_the_session_is_offered_the_third_time(repl_session):
    repl, typist, _, _ = repl_session(make_state(off="--no-learn"))  # the cache alone: no memory

    def script(t: Typist):
        for line in TWICE:
            enter(t, line)
        assert shown(repl, t, "Then Zo") == ["Zorblax"]
        t.ghost("rblax")
        t.send(CTRL_D)

    run_loop(repl, typist, script)


def test_the_current_line_is_in_the_cache_too(repl_session):
    repl, typist, _, _ = repl_session(make_state(off="--no-learn"))

    def script(t: Typist):
        assert shown(repl, t, "Zorblax met Zorblax and Zo") == ["Zorblax"]
        t.send(CTRL_D)

    run_loop(repl, typist, script)


def test_no_adapt_gives_exactly_the_unadapted_suggestions(repl_session):
    memory.learn_line(NAME, "then Zorblax came and the castle fell")
    model = FakeModel()
    repl, typist, _, _ = repl_session(make_state(model, adapt=False))
    texts = ["Then Zo", "the ", "and the c", "Then Zorblax and the "]

    def script(t: Typist):
        for line in TWICE:
            enter(t, line)
        for text in texts:
            shown(repl, t, text)
            assert repl.live.frame.answer == suggest(text, model, 5)
            t.send("\x03")
        t.send(CTRL_D)

    run_loop(repl, typist, script)
    assert memory_text().splitlines() == ["then Zorblax came and the castle fell", *TWICE]  # still learned
    adapting = make_state(model)
    for line in TWICE:
        adapting.accept(line)
    assert [adapting.answers(text) != suggest(text, model, 5) for text in texts] == [True] * 4


def test_the_memory_is_loaded_at_start_and_when_switching_models(repl_session, store_home):
    memory.learn_line(NAME, "we sailed on the Quixotic")
    write_model("other", words="the cat sat on a mat".split())
    memory.learn_line("other", "the Brontosaurus roared")
    repl, typist, _, _ = repl_session(make_state(off="--no-learn"))

    def script(t: Typist):
        assert shown(repl, t, "on the Qu") == ["Quixotic"]
        t.send("\x03")
        enter(t, "I met Zorblax twice, Zorblax")
        enter(t, ":model other")
        t.wait_for(lambda: repl.state.model_name == "other", "the switch")
        assert shown(repl, t, "the Br") == ["Brontosaurus"]  # the new model's memory
        t.send("\x03")
        assert shown(repl, t, "and Zo") == ["Zorblax"]  # the session's lines, in the new model's cache
        t.send("\x03")
        assert shown(repl, t, "on the Qu") == []  # the first model's memory is not the new one's
        t.send(CTRL_D)

    run_loop(repl, typist, script)


def test_a_memory_that_cannot_be_written_is_one_hint(repl_session, store_home):
    store_home.mkdir(parents=True)
    (store_home / "memory").write_text("not a folder")
    repl, typist, out, _ = repl_session(make_state())

    def script(t: Typist):
        enter(t, "one line")
        enter(t, "another line")
        t.send(CTRL_D)

    run_loop(repl, typist, script)
    hints = [line for line in out.getvalue().splitlines() if line.startswith("!")]
    assert len(hints) == 1 and hints[0].startswith("! not learning: cannot use the memory of 'fake' in ")


_SECRET_LINES = st.tuples(st.lists(_words, min_size=1, max_size=4), SECRETS, st.lists(_words, max_size=3))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(parts=_SECRET_LINES)
def test_secrets_typed_in_the_repl_are_never_stored_nor_suggested(store_home, tmp_path, parts):
    before, secret, after = parts
    line = " ".join([*before, secret, *after])
    model = FakeModel()
    secret_tokens = {t for t in tokenize_line(secret) if not model.vocab.knows(t)} - set(before) - set(after)
    history_file = tmp_path / "history"
    history_file.unlink(missing_ok=True)
    memory.forget_all(NAME)
    state = make_state(model)
    with create_pipe_input() as pipe, create_app_session(input=pipe, output=DummyOutput()):
        console = Console(file=io.StringIO(), color_system=None)
        repl = Repl(state, console, True, FileHistory(str(history_file)))
        typed: dict[str, list[str]] = {}

        def script(t: Typist):
            for _ in range(2):  # twice: a cache would offer it the third time
                t.send(line)
                t.wait_for(lambda: t.buffer.text == line, "the line")
                t.send(ENTER)
                t.new_prompt()
            for token in sorted(secret_tokens):
                text = f"{before[0]} {token[:2]}"
                typed[text] = shown(repl, t, text)
                t.send("\x03")
            t.send(CTRL_D)

        try:
            run_loop(repl, Typist(pipe, repl), script)
        finally:
            repl.live.close()
    stored = memory_text() + (history_file.read_text() if history_file.exists() else "")
    assert secret not in stored
    assert secret_tokens.isdisjoint(tokenize_line(stored))
    for token in secret_tokens:
        assert all(token not in [w.lower() for w in words] for words in typed.values())
        for j in range(1, len(token) + 1):  # every prefix, through the answers the panel, menu and ghost use
            assert token not in {s.word.lower() for s in state.answers(f"{line} {token[:j]}").items}


def learning_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "autocomplete-learn"]


def test_the_learning_thread_starts_with_the_first_line_learned(store_home):
    before = learning_threads()
    state = make_state()
    assert learning_threads() == before  # nothing to write before the prompt
    assert state.close() == []  # a session that learned nothing has nothing to wait for
    state = make_state()
    state.accept("the first line")
    assert len(learning_threads()) == len(before) + 1
    assert state.close() == []
    assert memory_text() == "the first line\n"


def test_two_repl_sessions_learning_at_once_keep_both_users_lines(store_home):
    """Two processes, each the REPL's learning path (ReplState.accept and its Learner thread)."""
    script = textwrap.dedent(
        """
        import sys
        from fakes import FakeModel
        from test_repl_learning import make_state
        who = sys.argv[1]
        state = make_state(FakeModel())
        sys.stdin.readline()  # both start together
        for i in range(200):
            state.accept(f"line {i} from {who}")
        assert state.close() == []
        """
    )
    tests = os.path.dirname(__file__)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([tests, os.environ.get("PYTHONPATH", "")])}
    run_at_once(script, ["alice", "bob"], env)
    lines = memory_text().splitlines()
    for who in ("alice", "bob"):  # every line of each, in its own order
        assert [line for line in lines if line.endswith(f"from {who}")] == [
            f"line {i} from {who}" for i in range(200)
        ]
    assert len(lines) == 400


@pytest.mark.parametrize("how", ["default", "--no-learn", "AUTOCOMPLETE_NO_LEARN=1", "--no-adapt"])
def test_the_installed_repl_adapts_and_learns_unless_told_not_to(store_home, monkeypatch, how):
    """`autocomplete repl` in a real pseudo-terminal: the options and the variable reach the session. On
    TERM=dumb each line entered is answered in plain text, which a test can read reliably."""
    write_model("m")
    if how.startswith("AUTOCOMPLETE"):
        monkeypatch.setenv("AUTOCOMPLETE_NO_LEARN", "1")
    args = ["repl", "--model", "m", *([how] if how.startswith("--") else [])]
    term = Terminal(store_home, *args, term="dumb")
    line = "Zorblax yelled Zo"  # no word of the model starts with z: only the cache can complete it
    try:
        term.wait_for(r"m> ")
        term.type(line + ENTER)
        answer = "no suggestion" if how == "--no-adapt" else "Zorblax 100.0%"
        term.wait_for(f"suggestions for “{line}”: {answer}\n")
        term.settle()
        finish(term)
    finally:
        term.close()
    learned = memory.memory_dir("m") / memory.MEMORY_FILE
    history = store.history_path().read_text() if store.history_path().exists() else ""
    if how in ("default", "--no-adapt"):  # --no-adapt changes the suggestions, not the learning
        assert learned.read_text() == line + "\n" and f"\n+{line}\n" in history
    else:
        assert not learned.exists() and "Zorblax" not in history
