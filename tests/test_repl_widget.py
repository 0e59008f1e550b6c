"""`autocomplete repl` as a text-entry widget, in a real pseudo-terminal: drawn on the terminal while its
standard output is a file or a pipe, `--once`, `--output`, `--multiline`, no terminal at all, and the Tab
menu against the panel. The pexpect child's pty is its controlling terminal, so /dev/tty works there."""

from __future__ import annotations

import os
import re
import subprocess
import time

import pexpect
import pytest
from conftest import write_model
from terminal import COMMAND, CTRL_D, ENTER, TAB, Terminal

from autocomplete import store
from autocomplete.suggest import suggest

CTRL_C, ESCAPE, ALT_ENTER, BACKSPACE = "\x03", "\x1b", "\x1b\r", "\x7f"
NO_TERMINAL = (
    "error: no terminal to type in: the REPL reads keys as you type them; for piped text use "
    "`autocomplete predict --stdin`"
)
MENU_ROW = re.compile(r"^ {2,}\S+ +\d+\.\d%$")  # "      barn   18.0%": the pop-up menu, not a panel row


@pytest.fixture
def m(store_home):
    write_model("m")
    return store.load("m")[1]


def shell(home, command: str) -> Terminal:
    """`sh -c command` in the pty (the shell's redirections decide what standard output is)."""
    return Terminal(home, "-c", command, program="/bin/sh")


def exit_line(term: Terminal) -> int:
    """The status the command printed with `; echo exit=$?`, once the shell has ended."""
    status = int(term.wait_for(r"exit=(\d+)").group(1))
    term.child.expect(pexpect.EOF, timeout=10)
    term.child.close()
    return status


def until(condition, what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_with_stdout_and_stderr_files_it_types_on_the_terminal_and_writes_lines(store_home, m, tmp_path):
    out, err = tmp_path / "journal.md", tmp_path / "err.txt"
    term = shell(store_home, f"{COMMAND} repl --model m > {out} 2> {err}; echo exit=$?")
    try:
        term.wait_for(r"m> ")
        term.wait_for(r"context: ⟨start⟩ ⟨start⟩ · next word")  # the panel is on the terminal
        term.type("first line")
        term.type(ENTER)
        until(lambda: out.read_text() == "first line\n", "the first line, flushed")
        term.type(":top 3")
        term.type(ENTER)
        term.wait_for(r"showing the top 3")  # a command's answer: on the terminal, not in the file
        term.type("second")
        term.type(ENTER)
        term.settle()
        term.type(CTRL_D)
        assert exit_line(term) == 0
    finally:
        term.close()
    assert out.read_text() == "first line\nsecond\n"
    assert err.read_text() == ""


def test_piped_stdin_with_a_terminal_reads_the_keys_from_the_terminal(store_home, m):
    """`echo text | autocomplete repl`: as fzf, the keys come from /dev/tty; the piped text is not read."""
    term = shell(store_home, f"echo 'the w' | {COMMAND} repl --model m; echo exit=$?")
    try:
        term.wait_for(r"m> ")
        term.type("typed here")
        term.type(ENTER)
        term.wait_for(r"\ntyped here\n")  # standard output is the terminal: the line is printed
        term.settle()
        term.type(CTRL_D)
        assert exit_line(term) == 0
    finally:
        term.close()


@pytest.mark.parametrize(
    "key, status, written",
    [(ENTER, 0, "fix the bug\n"), (CTRL_C, 130, ""), (CTRL_D, 1, "")],
    ids=["enter", "ctrl-c", "ctrl-d"],
)
def test_once_accepts_one_line_or_gives_up(store_home, m, tmp_path, key, status, written):
    out = tmp_path / "out.txt"
    term = shell(store_home, f"{COMMAND} repl --once --model m > {out}; echo exit=$?")
    try:
        term.wait_for(r"context: ⟨start⟩ ⟨start⟩ · next word")
        term.type("fix the bug")
        term.settle()
        term.type(key)
        assert exit_line(term) == status
    finally:
        term.close()
    assert out.read_text() == written
    assert "interrupted" not in term.text and "Traceback" not in term.text


def test_once_in_a_command_substitution(store_home, m):
    """`git commit -m "$(autocomplete repl --once)"`: standard output is a pipe."""
    term = shell(store_home, f'x=$({COMMAND} repl --once --model m); echo "exit=$? got=[$x]"')
    try:
        term.wait_for(r"context: ⟨start⟩ ⟨start⟩ · next word")
        term.type(":help")
        term.type(ENTER)
        term.wait_for(r"keys and commands")  # a command does not end --once
        term.type("fix the bug")
        term.type(ENTER)
        term.wait_for(r"exit=0 got=\[fix the bug\]\n")
    finally:
        term.close()


def test_once_learns_its_line(store_home, m, monkeypatch):
    """The line --once prints is learned like any accepted line (and so offered next time)."""
    from autocomplete import memory

    term = shell(store_home, f'x=$({COMMAND} repl --once --model m); echo "exit=$?"')
    try:
        term.wait_for(r"context: ⟨start⟩ ⟨start⟩ · next word")
        term.type("zebra crossing")
        term.type(ENTER)
        term.wait_for(r"exit=0\n")
    finally:
        term.close()
    monkeypatch.setenv("AUTOCOMPLETE_HOME", str(store_home))
    assert (memory.memory_dir("m") / memory.MEMORY_FILE).read_text() == "zebra crossing\n"


def test_output_appends_each_line_as_it_is_accepted(store_home, m, tmp_path):
    notes = tmp_path / "notes [draft].md"
    notes.write_text("earlier\n")
    term = Terminal(store_home, "repl", "--model", "m", "--output", str(notes))
    try:
        term.wait_for(r"m> ")
        term.type("a line")
        term.type(ENTER)
        until(lambda: notes.read_text() == "earlier\na line\n", "the line, flushed")
        term.type("another")
        term.type(ENTER)
        term.settle()
        assert term.quit() == 0
    finally:
        term.close()
    assert notes.read_text() == "earlier\na line\nanother\n"
    assert "a line" not in term.text.splitlines()  # into the file instead of standard output


def test_an_output_that_cannot_be_opened_is_one_line_before_any_prompt(store_home, m, tmp_path):
    bad = tmp_path / "no such folder" / "[bold]x.md"
    term = shell(store_home, f"{COMMAND} repl --model m --output '{bad}'; echo exit=$?")
    try:
        assert exit_line(term) == 1
    finally:
        term.close()
    lines = [line for line in term.text.splitlines() if line.strip()]
    assert lines == [f"error: cannot append to {bad}: No such file or directory", "exit=1"]


@pytest.mark.parametrize("stdout", ["pipe", "file"])
def test_no_terminal_at_all_is_one_line_pointing_to_predict(store_home, m, tmp_path, stdout):
    """A new session (setsid) has no controlling terminal: /dev/tty cannot be opened."""
    env = {**os.environ, "AUTOCOMPLETE_HOME": str(store_home), "COLUMNS": "200"}
    out = tmp_path / "out.txt"
    with open(out, "w") as file:
        result = subprocess.run(
            [COMMAND, "repl", "--model", "m"],
            input="the w\n", stdout=subprocess.PIPE if stdout == "pipe" else file, stderr=subprocess.PIPE,
            text=True, env=env, timeout=60, start_new_session=True,
        )  # fmt: skip
    assert result.returncode == 2
    assert (result.stdout if stdout == "pipe" else out.read_text()) == ""
    assert result.stderr.splitlines() == [NO_TERMINAL]


def test_multiline_enter_continues_and_alt_enter_submits(store_home, m, tmp_path):
    out = tmp_path / "out.txt"
    term = shell(store_home, f"{COMMAND} repl --multiline --model m > {out}; echo exit=$?")
    try:
        term.wait_for(r"m> ")
        term.type("the dog")
        term.type(ENTER)  # a new line, not the end of the entry
        term.type("the c")
        # The suggestions read across the line break: the context is "dog the".
        term.wait_for_screen(
            lambda rows: (
                rows[0] == "m> the dog"
                and rows[1] == ".. the cat"  # "the c" and the ghost, "at"
                and "context: dog the · words starting with “c”" in rows
                and any(row.startswith("m · top 5 · F2 pop-up menu off · Alt-Enter submit") for row in rows)
            ),
            "the second line under the first, and its suggestions",
        )
        term.settle()
        term.type(ALT_ENTER)
        until(lambda: out.read_text() == "the dog\nthe c\n", "the paragraph")
        term.type("more")
        term.settle()
        term.type(ESCAPE)  # Esc, then Enter: the same as Alt-Enter, as in ptpython
        term.type(ENTER)
        until(lambda: out.read_text() == "the dog\nthe c\nmore\n", "the second paragraph")
        term.type(CTRL_D)
        assert exit_line(term) == 0
    finally:
        term.close()


def menu_rows(rows: list[str]) -> list[str]:
    return [row.strip() for row in rows if MENU_ROW.match(row)]


def panel_context(rows: list[str]) -> str:
    return next(row for row in rows if row.startswith("context: "))


def panel_words(rows: list[str]) -> list[str]:
    return [row.split()[1] for row in rows if re.match(r"^\d \S+ +\d+\.\d%", row)]


MENU_NOTE = "  the words are in the menu: Tab/↓ pick, Enter take, Esc close"


def test_the_menu_and_the_panel_never_list_the_words_twice_nor_two_texts(store_home, m):
    """While the menu is open the panel's rows give way to it (the context line stays, on the text the
    menu was opened on, also after a pick); Enter takes the pick, closes the menu, the panel moves on."""
    first, second = (s.word for s in suggest("the ", m, 5).items[:2])
    term = Terminal(store_home, "repl", "--model", "m")
    try:
        term.wait_for(r"m> ")
        term.type("the ")
        term.wait_for_screen(lambda rows: len(panel_words(rows)) == 5, "the panel")
        term.type(TAB)  # opens the menu
        rows = term.wait_for_screen(lambda rows: len(menu_rows(rows)) == 5, "the menu")
        term.type(TAB)  # picks the first word
        term.type(TAB)  # and the second
        rows = term.wait_for_screen(lambda rows: rows[0].startswith(f"m> the {second}"), "the pick")
        term.settle()
        rows = term.screen
        assert len(menu_rows(rows)) == 5
        assert panel_words(rows) == [] and MENU_NOTE in rows
        assert panel_context(rows) == "context: ⟨start⟩ the · next word"
        term.type(ENTER)  # takes it: the menu closes, the panel moves on
        rows = term.wait_for_screen(
            lambda rows: panel_context(rows) == f"context: the {second} · next word", "the next word"
        )
        assert menu_rows(rows) == []
        assert panel_words(rows) == [s.word for s in suggest(f"the {second} ", m, 5).items]
    finally:
        term.close()


def test_escape_closes_the_menu_and_the_panel_comes_back(store_home, m):
    first = suggest("the ", m, 5).items[0].word
    term = Terminal(store_home, "repl", "--model", "m")
    try:
        term.wait_for(r"m> ")
        term.type("the ")
        term.settle()
        term.type(TAB)
        term.type(TAB)
        term.wait_for_screen(lambda rows: len(menu_rows(rows)) == 5, "the menu")
        term.type(ESCAPE)
        rows = term.wait_for_screen(lambda rows: menu_rows(rows) == [], "the menu closed")
        assert rows[0].startswith(f"m> the {first}")  # the pick is kept
        rows = term.wait_for_screen(lambda rows: len(panel_words(rows)) == 5, "the panel's rows back")
        assert panel_context(rows) == f"context: the {first} · next word"
    finally:
        term.close()


def test_with_f2_on_the_words_are_in_the_menu_once(store_home, m):
    """F2: the menu pops up while typing and lists the words; the panel does not list them again. When
    the menu closes (Backspace: prompt_toolkit pops it up on insertions only) the panel's rows are back."""
    expected = [s.word for s in suggest("the ", m, 5).items]
    term = Terminal(store_home, "repl", "--model", "m", "--complete-while-typing")
    try:
        term.wait_for(r"F2 pop-up menu on")
        term.type("the ")
        rows = term.wait_for_screen(lambda rows: [r.split()[0] for r in menu_rows(rows)] == expected, "menu")
        term.settle()
        rows = term.screen
        assert panel_words(rows) == [] and MENU_NOTE in rows
        assert panel_context(rows) == "context: ⟨start⟩ the · next word"
        term.type(BACKSPACE)
        rows = term.wait_for_screen(lambda rows: menu_rows(rows) == [], "the menu closed")
        back = [s.word for s in suggest("the", m, 5).items]
        term.wait_for_screen(lambda rows: panel_words(rows) == back, "the panel's rows back")
    finally:
        term.close()
