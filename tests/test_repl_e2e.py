"""The installed `autocomplete repl` in a real pseudo-terminal, on a really trained model.

pexpect gives the terminal (tests/terminal.py). The tmux test, where tmux is installed, checks the screen
itself as a user would see it.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time

import pexpect
import pytest
from terminal import COMMAND, CTRL_D, ENTER, RIGHT, TAB, Terminal

from autocomplete import store
from autocomplete.repl.autosuggest import ghost_for
from autocomplete.repl.state import Answers

pytestmark = pytest.mark.slow  # a real Keras model (trained once per session by conftest)


def expected(predictor, text: str) -> tuple[str, str]:
    """(the best completion's word, the ghost text) for `text`, as the REPL must show them."""
    answers = Answers(predictor, 5)
    return answers(text).items[0].word, ghost_for(text, answers).text


def test_repl_in_a_real_terminal(model_home, trained_model):
    _, predictor = store.load(trained_model.name)
    best, _ = expected(predictor, "the c")
    _, ghost = expected(predictor, "my lo")
    term = Terminal(model_home, "repl", "--model", trained_model.name)
    try:
        term.wait_for(rf"{trained_model.name}> ")
        term.wait_for(r"context: ⟨start⟩ ⟨start⟩ · next word")  # the panel, under the prompt
        first = Answers(predictor, 5)("").items[0]
        term.wait_for(rf"1 {re.escape(first.word)} +{first.probability:.1%}")

        term.type("the c")
        term.wait_for(r"words starting with “c”")
        term.settle()
        term.type(TAB)  # opens the menu
        term.settle()
        term.type(TAB)  # picks the best word
        term.settle()
        term.type(ENTER)  # closes the menu
        term.settle()
        term.type(ENTER)  # accepts the line: printed on a line of its own
        term.wait_for(rf"\nthe {re.escape(best)} \n")

        term.type("my lo")
        term.settle()
        term.type(RIGHT)  # takes the ghost
        term.settle()
        term.type(ENTER)
        term.wait_for(rf"\nmy lo{re.escape(ghost)}\n")

        term.type(CTRL_D)
        term.child.expect(pexpect.EOF, timeout=10)
        term.child.close()
        assert term.child.exitstatus == 0
    finally:
        term.close()
    lines = [line for line in (model_home / "history").read_text().splitlines() if line.startswith("+")]
    assert lines == [f"+the {best} ", f"+my lo{ghost}"]


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_repl_screen_in_tmux(model_home, trained_model, tmp_path):
    """The screen as a user sees it: the prompt, the ghost after the cursor, the panel of suggestions."""
    _, predictor = store.load(trained_model.name)
    best, ghost = expected(predictor, "the c")
    tmux = ["tmux", "-S", str(tmp_path / "tmux.sock")]  # a private server, its socket gone with tmp_path
    env = f"AUTOCOMPLETE_HOME={model_home} TERM=xterm-256color"
    subprocess.run([*tmux, "new-session", "-d", "-x", "100", "-y", "24", "-s", "repl",
                    f"env {env} {COMMAND} repl --model {trained_model.name}"], check=True)  # fmt: skip

    def screen() -> str:
        return subprocess.run(
            [*tmux, "capture-pane", "-p", "-t", "repl"], capture_output=True, text=True
        ).stdout

    def wait_for(needle: str) -> str:
        deadline = time.monotonic() + 10
        while needle not in (shown := screen()):
            assert time.monotonic() < deadline, f"{needle!r} not on screen:\n{shown}"
            time.sleep(0.05)
        return shown

    try:
        wait_for("next word")
        subprocess.run([*tmux, "send-keys", "-t", "repl", "the c"], check=True)
        shown = wait_for(f"{trained_model.name}> the c{ghost}")  # the ghost text, right after the cursor
        rows = [line.split() for line in shown.splitlines()]
        assert ["1", best] == rows[[i for i, r in enumerate(rows) if r[:1] == ["1"]][0]][:2]
        assert "context: ⟨start⟩ the · words starting with “c”" in shown
        subprocess.run([*tmux, "send-keys", "-t", "repl", "Right"], check=True)
        wait_for(f"{trained_model.name}> the c{ghost}")
        subprocess.run([*tmux, "send-keys", "-t", "repl", "Enter"], check=True)
        shown = wait_for(f"\nthe c{ghost}\n")  # the accepted line, printed on its own
        assert f"{trained_model.name}> the c{ghost}\n" in shown  # the ghost is not left on the accepted line
        subprocess.run([*tmux, "send-keys", "-t", "repl", "C-d"], check=True)
        deadline = time.monotonic() + 10
        while subprocess.run([*tmux, "has-session", "-t", "repl"], capture_output=True).returncode == 0:
            assert time.monotonic() < deadline, "Ctrl-D did not end the REPL"
            time.sleep(0.05)
    finally:
        subprocess.run([*tmux, "kill-server"], capture_output=True)
