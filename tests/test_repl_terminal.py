"""`autocomplete repl` started as a user starts it, on a model made from random weights (no Keras): in a real
pseudo-terminal (pexpect), with a history file it cannot write, on TERM=dumb (piped standard input, no
terminal at all and the other widget uses are in test_repl_widget.py)."""

from __future__ import annotations

import os
import re
import subprocess
from contextlib import contextmanager, nullcontext
from pathlib import Path

import pexpect
import pytest
from conftest import write_model
from terminal import CTRL_D, ENTER, Terminal

from autocomplete import store
from autocomplete.suggest import suggest


@contextmanager
def read_only(folder: Path):
    """`folder` made read-only: by its mode, or (root ignores modes) by a read-only bind mount."""
    if os.geteuid() != 0:
        modes = {p: p.stat().st_mode for p in [folder, *folder.rglob("*")] if not p.is_symlink()}
        for p in modes:
            p.chmod(modes[p] & ~0o222)
        try:
            yield
        finally:
            for p, mode in modes.items():
                p.chmod(mode)
        return
    mounted = subprocess.run(["mount", "--bind", str(folder), str(folder)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"root, and no bind mount here to make a folder read-only: {mounted.stderr!r}")
    try:
        subprocess.run(["mount", "-o", "remount,ro,bind", str(folder)], check=True, capture_output=True)
        yield
    finally:
        subprocess.run(["umount", str(folder)], check=True)


def finish(term: Terminal) -> None:
    term.type(CTRL_D)
    term.child.expect(pexpect.EOF, timeout=10)
    term.child.close()
    assert term.child.exitstatus == 0, term.text[-2000:]


@pytest.mark.parametrize("case", ["read-only store", "history is a folder"])
def test_a_history_that_cannot_be_written_is_one_warning(store_home, case):
    write_model("m")
    history = store.history_path()
    history.write_text("\n# old\n+an old line\n")
    if case == "history is a folder":
        history.unlink()
        history.mkdir()
    with read_only(store_home) if case == "read-only store" else nullcontext():
        term = Terminal(store_home, "repl", "--model", "m")
        try:
            term.wait_for(r"m> ")
            term.type("a new line")
            term.settle()
            term.type(ENTER)
            term.wait_for(r"\na new line\n")  # accepted and printed: the REPL goes on
            term.settle()
            finish(term)
        finally:
            term.close()
    why = "Read-only file system" if os.geteuid() == 0 else "Permission denied"
    why = why if case == "read-only store" else "Is a directory"
    warnings = [line for line in term.text.splitlines() if line.startswith("!")]
    expected = [f"! history will not be saved: cannot write {history} ({why})"]
    if case == "read-only store":  # the line accepted cannot be learned either: one line too
        expected.append(f"! not learning: cannot use the memory of 'm' in {store_home}/memory/m: {why}")
    assert warnings == expected
    assert "Unhandled exception" not in term.text and "Traceback" not in term.text
    if case == "read-only store":
        assert history.read_text() == "\n# old\n+an old line\n"


def test_a_dumb_terminal_gets_the_suggestions_as_plain_lines(store_home):
    write_model("m")
    _, predictor = store.load("m")
    expected = suggest("the c", predictor, 5).items
    term = Terminal(store_home, "repl", "--model", "m", term="dumb")
    try:
        term.wait_for(r"m> ")
        term.type("the c")
        term.type(ENTER)
        shown = " · ".join(f"{s.word} {s.probability:.1%}" for s in expected)
        term.wait_for(re.escape(f"suggestions for “the c”: {shown}"))
        term.settle()
        finish(term)
    finally:
        term.close()
    assert "TERM=dumb: no live panel; each line you enter is answered with its suggestions" in term.text
