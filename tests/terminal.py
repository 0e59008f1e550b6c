"""A real pseudo-terminal running the installed `autocomplete` (pexpect), for the REPL's end-to-end tests.

pexpect gives the terminal; `Terminal` answers prompt_toolkit's cursor-position requests itself (a terminal
emulator would), without which prompt_toolkit does not draw its bottom toolbar, and feeds the output to
pyte, a terminal emulator, for the screen as the user sees it (`screen`, `wait_for_screen`).
"""

from __future__ import annotations

import os
import re
import sys
import time
from pathlib import Path

import pexpect
import pyte

COMMAND = str(Path(sys.executable).with_name("autocomplete"))
CSI = re.compile(r"\x1b\[[0-9;?<>=]*[ -/]*[@-~]|\x1b[()][0-9A-B]|\x1b[=>]|\x1b\][^\x07]*\x07")
TAB, ENTER, RIGHT, CTRL_D = "\t", "\r", "\x1b[C", "\x04"


class Terminal:
    """A pexpect child with the output kept, escape sequences stripped, and CPR requests answered."""

    def __init__(self, home: Path, *args: str, term: str = "xterm-256color", program: str = COMMAND):
        """`program args` (default `autocomplete args`) in a 30x100 terminal of type `term`."""
        env = {**os.environ, "AUTOCOMPLETE_HOME": str(home), "TERM": term, "COLUMNS": "100"}
        env.pop("NO_COLOR", None)
        self.child = pexpect.spawn(program, list(args), env=env, dimensions=(30, 100), encoding="utf-8")
        self.raw = ""
        self._screen = pyte.Screen(100, 30)
        self._stream = pyte.Stream(self._screen)

    @property
    def screen(self) -> list[str]:
        """The 30 rows on screen now, trailing blanks cut."""
        return [row.rstrip() for row in self._screen.display]

    def wait_for_screen(self, check, what: str, timeout: float = 10.0) -> list[str]:
        """The screen once `check(rows)` holds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if check(rows := self.screen):
                return rows
            if not self.pump(0.05):
                break
        shown = "\n".join(self.screen)
        raise AssertionError(f"never on screen: {what}; the screen:\n{shown}")

    @property
    def text(self) -> str:
        return CSI.sub("", self.raw).replace("\r", "")

    def pump(self, seconds: float) -> bool:
        """Read for `seconds` at most; False once the child has ended."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                chunk = self.child.read_nonblocking(65536, timeout=0.05)
            except pexpect.TIMEOUT:
                continue
            except pexpect.EOF:
                return False
            self.raw += chunk
            self._stream.feed(chunk)
            for _ in range(chunk.count("\x1b[6n")):  # "where is the cursor?": at the top, all rows free
                self.child.send("\x1b[1;1R")
        return True

    def wait_for(self, pattern: str, timeout: float = 10.0) -> re.Match:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if match := re.search(pattern, self.text):
                return match
            if not self.pump(0.05):  # the child has ended: what it wrote last is in
                if match := re.search(pattern, self.text):
                    return match
                break
        raise AssertionError(f"{pattern!r} never appeared; screen text so far:\n{self.text[-3000:]}")

    def settle(self, quiet: float = 0.3, timeout: float = 5.0) -> None:
        """Wait until the REPL has drawn everything (no output for `quiet` seconds)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            before = len(self.raw)
            self.pump(quiet)
            if len(self.raw) == before:
                return

    def type(self, keys: str) -> None:
        for key in keys:
            self.child.send(key)
            self.pump(0.02)

    def quit(self) -> int:
        """Ctrl-D, then the exit status once the child has ended."""
        self.type(CTRL_D)
        self.child.expect(pexpect.EOF, timeout=10)
        self.child.close()
        return self.child.exitstatus

    def close(self) -> None:
        if self.child.isalive():
            self.child.terminate(force=True)
