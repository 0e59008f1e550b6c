"""The REPL's PromptSession driven by prompt_toolkit's own harness: keys through a pipe, DummyOutput.

Completions and ghost text arrive asynchronously, so keys are sent from a thread, one chunk at a time,
each after the state it needs is there (`Typist.wait_for`), never in one racing burst.
"""

from __future__ import annotations

import gc
import io
import threading
import time
from collections.abc import Callable

import pytest
from fakes import FakeModel
from prompt_toolkit.application import create_app_session
from prompt_toolkit.application.current import set_app
from prompt_toolkit.history import FileHistory, InMemoryHistory
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.key_binding.key_processor import KeyPress
from prompt_toolkit.keys import Keys
from prompt_toolkit.output import DummyOutput
from rich.console import Console

from autocomplete.repl.app import Repl, style
from autocomplete.repl.autosuggest import Ghost
from autocomplete.repl.state import ReplState

TAB, ENTER, RIGHT, CTRL_C, CTRL_D, CTRL_F = "\t", "\r", "\x1b[C", "\x03", "\x04", "\x06"
ALT_N, ALT_P, ALT_F, F2, BACKSPACE, UP, CTRL_R = "\x1bn", "\x1bp", "\x1bf", "\x1bOQ", "\x7f", "\x1b[A", "\x12"


class Typist:
    """Sends keys to the REPL from a thread while the test's thread runs the prompt."""

    def __init__(self, pipe, repl: Repl):
        self.pipe, self.repl = pipe, repl
        self.buffer = repl.session.default_buffer
        self.errors: list[BaseException] = []

    def wait_for(self, condition: Callable[[], bool], what: str, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; buffer={self.buffer.text!r}")
            time.sleep(0.005)

    def running(self) -> bool:
        return self.repl.session.app.is_running

    def send(self, keys: str, pause: float = 0.03) -> None:
        self.pipe.send_text(keys)
        time.sleep(pause)

    def type(self, text: str) -> None:
        """Type `text` one key at a time, each after the previous one reached the buffer."""
        for ch in text:
            before = self.buffer.text
            self.send(ch, 0)
            self.wait_for(lambda before=before: self.buffer.text != before, f"{ch!r} to arrive")

    def type_into_search(self, text: str) -> None:
        for ch in text:
            self.send(ch)

    def ghost(self, text: str) -> None:
        self.wait_for(
            lambda: self.buffer.suggestion is not None and self.buffer.suggestion.text == text,
            f"ghost {text!r}",
        )

    def menu(self) -> None:
        # The threaded completer opens the menu empty, then fills it as the completions come.
        self.wait_for(
            lambda: self.buffer.complete_state and self.buffer.complete_state.completions, "the menu"
        )

    def tab_twice(self, text: str, picked: str) -> None:
        """Type `text`, open the menu with Tab, pick its first entry with a second Tab."""
        self.type(text)
        self.send(TAB)
        self.menu()
        self.send(TAB)
        self.wait_for(lambda: self.buffer.text == picked, "the pick")

    def menu_closed(self) -> None:
        self.wait_for(lambda: self.buffer.complete_state is None, "the menu to close")

    def new_prompt(self) -> None:
        self.wait_for(lambda: self.buffer.text == "" and self.running(), "a new prompt")

    def abort(self) -> None:
        """End the prompt whatever state it is in, so the test fails with the reason instead of hanging."""
        app = self.repl.session.app
        if app.is_running and app.loop is not None:
            app.loop.call_soon_threadsafe(lambda: app.is_running and app.exit(exception=EOFError))

    def start(self, script: Callable[[Typist], None]) -> threading.Thread:
        def run():
            try:
                self.wait_for(self.running, "the prompt")
                script(self)
            except BaseException as error:  # noqa: BLE001 - re-raised in the test's thread
                self.errors.append(error)
                self.abort()

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        return thread


@pytest.fixture
def session(tmp_path):
    """make(model=..., **state) -> (repl, typist, console output), in a pipe-input app session."""
    made = []

    def make(model=None, history=None, color=True, **settings):
        pipe = made_pipe()
        state = ReplState("fake", model or FakeModel(), **{"top_k": 5, **settings})
        out = io.StringIO()
        repl = Repl(
            state, Console(file=out, width=100, color_system=None), color, history or InMemoryHistory()
        )
        made.append(repl)
        return repl, Typist(pipe, repl), out

    with create_pipe_input() as pipe, create_app_session(input=pipe, output=DummyOutput()):

        def made_pipe():
            return pipe

        yield make
    for repl in made:
        repl.live.close()


def read_line(repl: Repl, typist: Typist, script: Callable[[Typist], None]) -> str:
    thread = typist.start(script)
    try:
        line = repl.read()
    except EOFError:
        line = None
    thread.join(5)
    if typist.errors:
        raise typist.errors[0]
    return line


def run_loop(repl: Repl, typist: Typist, script: Callable[[Typist], None]) -> None:
    """Repl.loop() (lines printed, commands run) while `script` types."""
    thread = typist.start(script)
    repl.loop()
    thread.join(5)
    assert not typist.errors, typist.errors


def test_tab_twice_picks_the_best_word_and_adds_a_space(session):
    repl, typist, _ = session()

    def script(t: Typist):
        t.tab_twice("the c", "the cat ")
        t.send(ENTER)  # closes the menu, keeps the pick
        t.menu_closed()
        t.send(ENTER)

    assert read_line(repl, typist, script) == "the cat "


def test_escape_closes_the_menu_and_keeps_the_line(session):
    repl, typist, _ = session()

    def script(t: Typist):
        t.tab_twice("the c", "the cat ")
        t.send("\x1b")  # alone: read as Escape once the Meta timeout (0.5 s) has passed
        t.menu_closed()
        t.send(ENTER)  # the menu is closed: Enter accepts the line at once

    assert read_line(repl, typist, script) == "the cat "


def test_an_escape_that_came_alone_closes_the_menu_without_waiting(session):
    """Not after the 1 s prompt_toolkit waits for a second key of Alt-N or Alt-P: none came with it."""
    repl, typist, _ = session()
    app, closed = repl.session.app, []

    def press_escape() -> None:  # on the UI thread: the key alone, processed as a terminal read would be
        with set_app(app):  # a callback from another thread runs outside the app's context
            app.key_processor.feed(KeyPress(Keys.Escape))
            app.key_processor.process_keys()
        closed.append(typist.buffer.complete_state is None)

    def script(t: Typist):
        t.tab_twice("the c", "the cat ")
        app.loop.call_soon_threadsafe(press_escape)
        t.wait_for(lambda: closed, "the Escape")
        t.send(ENTER)

    assert read_line(repl, typist, script) == "the cat "
    assert closed == [True]


def test_right_arrow_takes_the_ghost(session):
    repl, typist, _ = session()

    def script(t: Typist):
        t.type("my lo")
        t.ghost("rd")
        t.send(RIGHT)
        t.wait_for(lambda: t.buffer.text == "my lord", "the ghost taken")
        t.ghost(" is")  # a finished word: the ghost moves on to the next word
        t.send(CTRL_F)
        t.wait_for(lambda: t.buffer.text == "my lord is", "the next word taken")
        t.send(ENTER)

    assert read_line(repl, typist, script) == "my lord is"


def test_ghost_is_kept_while_typing_matches_it(session):
    repl, typist, _ = session(model=FakeModel(delay=0.05))

    def script(t: Typist):
        t.type("the c")
        t.ghost("at")
        t.send("a", 0)
        t.wait_for(lambda: t.buffer.text == "the ca", "the a")
        # Right after the keystroke, long before the slow model could answer: the ghost is still there.
        assert isinstance(t.buffer.suggestion, Ghost) and t.buffer.suggestion.text == "t"
        t.send(ENTER)

    assert read_line(repl, typist, script) == "the ca"


def test_alt_n_and_alt_p_cycle_the_ghost(session):
    repl, typist, _ = session()

    def script(t: Typist):
        t.type("the c")
        t.ghost("at")
        t.send(ALT_N)
        t.ghost("ow")
        t.send(ALT_N)
        t.ghost("astle")
        t.send(ALT_P)
        t.ghost("ow")
        t.send(RIGHT)
        t.wait_for(lambda: t.buffer.text == "the cow", "the cow")
        t.send(ENTER)

    assert read_line(repl, typist, script) == "the cow"


def test_alt_f_takes_one_word(session):
    repl, typist, _ = session()

    def script(t: Typist):
        t.type("my l")
        t.ghost("ord")
        t.send(BACKSPACE)  # "my " + the kept target "my lord"
        t.wait_for(lambda: t.buffer.text == "my ", "the backspace")
        t.ghost("lord")
        t.send(ALT_F)
        t.wait_for(lambda: t.buffer.text == "my lord", "one word")
        t.send(ENTER)

    assert read_line(repl, typist, script) == "my lord"


def test_ctrl_c_clears_the_line_and_ctrl_d_quits(session):
    repl, typist, _ = session()

    def script(t: Typist):
        t.type("scrap this")
        t.send(CTRL_C)
        t.wait_for(lambda: t.buffer.text == "", "the clear")
        t.ghost("the")  # the empty line's ghost comes back from the worker
        t.type("to")
        t.send(ENTER)

    assert read_line(repl, typist, script) == "to"
    assert read_line(repl, typist, lambda t: t.send(CTRL_D)) is None


def test_ctrl_d_inside_a_line_deletes_forward(session):
    repl, typist, _ = session()

    def script(t: Typist):
        t.type("abc")
        t.send("\x01")  # Ctrl-A: to the start
        t.wait_for(lambda: t.buffer.cursor_position == 0, "the cursor")
        t.send(CTRL_D)
        t.wait_for(lambda: t.buffer.text == "bc", "the deletion")
        t.send(ENTER)

    assert read_line(repl, typist, script) == "bc"


def test_f2_pops_the_menu_up_while_typing(session):
    repl, typist, _ = session()

    def script(t: Typist):
        t.send(F2)
        t.wait_for(lambda: repl.state.complete_while_typing, "F2")
        t.type("my l")
        t.menu()  # no Tab pressed
        t.send(TAB)  # with the menu already up, one Tab picks
        t.wait_for(lambda: t.buffer.text == "my lord ", "the pick")
        t.send(ENTER)
        t.send(ENTER)

    assert read_line(repl, typist, script) == "my lord "
    assert repl.state.complete_while_typing


def test_loop_prints_lines_keeps_history_and_runs_commands(session, tmp_path, capsys):
    history_file = tmp_path / "history"
    repl, typist, out = session(history=FileHistory(str(history_file)))

    def script(t: Typist):
        t.type("first line")
        t.send(ENTER)
        # Each accepted line is in the file before the next prompt is used.
        t.wait_for(lambda: "+first line" in history_file.read_text(), "the history file")
        t.new_prompt()
        t.type(":top 2")
        t.send(ENTER)
        t.wait_for(lambda: repl.state.top_k == 2 and t.running(), "the command")
        t.send(UP)
        t.wait_for(lambda: t.buffer.text == ":top 2", "the history")
        t.send(CTRL_C)
        t.type(":bogus")
        t.send(ENTER)
        t.wait_for(lambda: "unknown command" in out.getvalue() and t.running(), "the hint")
        t.type(":quit")
        t.send(ENTER)

    run_loop(repl, typist, script)
    assert capsys.readouterr().out == "first line\n"
    assert "showing the top 2" in out.getvalue()
    assert [line for line in history_file.read_text().splitlines() if line.startswith("+")] == [
        "+first line", "+:top 2", "+:bogus", "+:quit",
    ]  # fmt: skip


def test_a_slow_model_never_blocks_typing(session):
    """Each answer takes 0.3 s; the keys still land at once and the panel always shows something."""
    model = FakeModel(delay=0.3)
    repl, typist, _ = session(model=model)
    toolbars = []

    def script(t: Typist):
        started = time.monotonic()
        for ch in "the cat sat":
            t.send(ch, 0.01)
            toolbars.append(repl.live.toolbar())
        t.wait_for(lambda: t.buffer.text == "the cat sat", "the keys", timeout=2)
        assert time.monotonic() - started < 1.0  # eleven keys, eleven slow answers: not waited for
        t.send(ENTER)

    assert read_line(repl, typist, script) == "the cat sat"
    assert all(bar.value.strip() for bar in toolbars)


def test_model_switch_is_live(session, store_home, capsys):
    from conftest import write_model

    write_model("other", words="alpha beta gamma".split())
    repl, typist, out = session()

    def script(t: Typist):
        t.type(":model other")
        t.send(ENTER)
        t.wait_for(lambda: repl.state.model_name == "other" and t.running(), "the switch")
        t.type("al")
        t.ghost("pha")  # a word only the new model knows
        t.send(RIGHT)
        t.wait_for(lambda: t.buffer.text == "alpha", "the ghost taken")
        t.send(ENTER)
        t.new_prompt()
        t.send(CTRL_D)

    run_loop(repl, typist, script)
    assert "now using other" in out.getvalue() and capsys.readouterr().out == "alpha\n"
    assert repl.message() == [("class:model", "other"), ("", "> ")]


def test_a_history_that_cannot_be_written_is_kept_in_memory(session, store_home):
    from autocomplete import store
    from autocomplete.repl.app import history

    store.history_path().mkdir(parents=True)  # a folder where the file should be
    warned = io.StringIO()
    kept = history(Console(file=warned, width=300, color_system=None))
    assert warned.getvalue() == (
        f"! history will not be saved: cannot write {store.history_path()} (Is a directory)\n"
    )
    repl, typist, _ = session(history=kept)

    def script(t: Typist):
        t.type("kept here")
        t.send(ENTER)
        t.new_prompt()
        t.send(UP)
        t.wait_for(lambda: t.buffer.text == "kept here", "the line from the history")
        t.send(ENTER)
        t.new_prompt()
        t.send(CTRL_D)

    run_loop(repl, typist, script)
    assert list(kept.load_history_strings()) == ["kept here"]  # a repeated line is kept once


def test_the_adapters_follow_the_state_answers(session):
    """`:model` and `:top` replace the state's answers; the session's completer and ghost follow."""
    from prompt_toolkit.completion import CompleteEvent
    from prompt_toolkit.document import Document

    repl, _, _ = session()
    completer, auto_suggest = repl.adapters.completer(), repl.adapters.auto_suggest()
    assert repl.adapters.completer() is completer  # built once per answers, not per keystroke
    repl.state.set_top_k(2)
    assert repl.adapters.completer() is not completer
    assert repl.adapters.auto_suggest() is not auto_suggest
    words = [c.text for c in repl.adapters.completer().get_completions(Document("the "), CompleteEvent())]
    assert words == ["cat ", "dog "]


def test_vi_mode_takes_the_ghost_with_right(session):
    repl, typist, _ = session(vi=True)

    def script(t: Typist):
        t.type("the c")
        t.ghost("at")
        t.send(RIGHT)
        t.wait_for(lambda: t.buffer.text == "the cat", "the ghost")
        t.send(ENTER)

    assert read_line(repl, typist, script) == "the cat"
    assert repl.session.app.editing_mode.value == "VI"


def test_vi_mode_shows_its_mode_in_the_status_line(session):
    repl, typist, _ = session(vi=True)
    status = lambda: repl.live.toolbar().value.splitlines()[-1]  # noqa: E731

    def script(t: Typist):
        t.wait_for(lambda: "vi insert" in status(), "insert mode shown")
        t.send("\x1b")  # Escape: normal mode
        t.wait_for(lambda: "vi normal" in status(), "normal mode shown")
        t.send("i")
        t.wait_for(lambda: "vi insert" in status(), "insert mode again")
        t.type("to")
        t.send(ENTER)

    assert read_line(repl, typist, script) == "to"


def test_no_color_panel_and_ghost(session):
    repl, _, _ = session(color=False)
    assert "\x1b[36m" not in repl.live.toolbar().value
    assert style(False).get_attrs_for_style_str("class:auto-suggestion").dim
    assert not style(True).get_attrs_for_style_str("class:bottom-toolbar").reverse


def test_ctrl_r_searches_the_history(session):
    history = InMemoryHistory()
    for line in ["the cat sat", "my lord is", "to be"]:
        history.append_string(line)
    repl, typist, _ = session(history=history)
    searching = lambda: repl.session.app.layout.current_buffer is not typist.buffer  # noqa: E731

    def script(t: Typist):
        t.send(CTRL_R)
        t.wait_for(searching, "the search")
        t.type_into_search("lord")
        t.send(CTRL_C)  # during a search Ctrl-C ends the search, not the line
        t.wait_for(lambda: not searching(), "the search to end")
        t.send(CTRL_R)
        t.wait_for(searching, "the search")
        t.type_into_search("cat")
        t.send(ENTER)  # takes the match
        t.wait_for(lambda: t.buffer.text == "the cat sat", "the match")
        t.send(ENTER)

    assert read_line(repl, typist, script) == "the cat sat"


def test_the_collector_resumes_once_the_prompt_is_drawn(session):
    gc.disable()  # as `autocomplete repl` starts (autocomplete/gcpause.py)
    try:
        repl, typist, _ = session()
        assert not gc.isenabled()  # building the session collected nothing
        seen = {}

        def script(t: Typist):
            t.wait_for(gc.isenabled, "the collector to resume")
            seen["frozen"] = gc.get_freeze_count()
            t.send(CTRL_D)

        assert read_line(repl, typist, script) is None
        assert seen["frozen"] > 0  # what start-up made is out of later collections
    finally:
        gc.unfreeze()
        gc.enable()
