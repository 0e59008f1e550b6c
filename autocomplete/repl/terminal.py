"""Where the REPL draws, where its keys come from, and where accepted lines go: the REPL as a text widget.

As fzf does it: the prompt and the panel are drawn on the terminal, which is standard output when that is
one and `/dev/tty` otherwise, and the keys come from standard input when it is a terminal and `/dev/tty`
otherwise. So `autocomplete repl >> journal.md`, `echo x | autocomplete repl` and
`git commit -m "$(autocomplete repl --once)"` all type on the screen. The accepted lines go to standard
output, or are appended to `--output FILE`, each flushed as it is accepted.
"""

from __future__ import annotations

import sys
from contextlib import ExitStack
from pathlib import Path
from typing import TextIO

from prompt_toolkit.application import create_app_session, get_app_session
from prompt_toolkit.input import create_input
from prompt_toolkit.output import create_output
from rich.console import Console

from autocomplete.errors import AutocompleteError, UsageError

TTY = "/dev/tty"
NO_TERMINAL = (
    "no terminal to type in: the REPL reads keys as you type them; "
    "for piped text use `autocomplete predict --stdin`"
)


def open_tty(mode: str, path: str = TTY) -> TextIO:
    """The controlling terminal, opened for reading ("r") or writing ("w"); UsageError without one."""
    try:
        return open(path, mode, encoding="utf-8")
    except OSError:
        raise UsageError(NO_TERMINAL) from None


def use_terminal(stack: ExitStack, tty: str = TTY) -> Console:
    """Point this prompt_toolkit session at the terminal (until `stack` closes); the Console that the
    REPL's own messages (hints, :help, training progress) go to: never standard output's file or pipe.

    UsageError (one line, pointing to `predict --stdin`) when the keys or the screen would need the
    terminal and there is none (cron, CI, `setsid`)."""
    if get_app_session()._input is not None:  # an input set up by the caller (the tests' pipe): as given
        return Console(highlight=False)
    keys_from_stdin, screen_is_stdout = sys.stdin.isatty(), sys.stdout.isatty()
    if keys_from_stdin and screen_is_stdout:
        return Console(highlight=False)
    screen = sys.stdout if screen_is_stdout else stack.enter_context(open_tty("w", tty))
    keys = None if keys_from_stdin else create_input(stack.enter_context(open_tty("r", tty)))
    output = None if screen_is_stdout else create_output(stdout=screen)
    stack.enter_context(create_app_session(input=keys, output=output))
    return Console(file=screen, highlight=False)


class LineSink:
    """Writes each accepted line (a paragraph with --multiline) and a newline, flushed at once."""

    def __init__(self, file: TextIO):
        self.file = file

    def __call__(self, line: str) -> None:
        self.file.write(line + "\n")
        self.file.flush()


def line_sink(stack: ExitStack, output: Path | None) -> LineSink:
    """Standard output, or `output` opened for appending (until `stack` closes); AutocompleteError with
    what went wrong when it cannot be opened, before any prompt is drawn."""
    if output is None:
        return LineSink(sys.stdout)
    try:
        file = stack.enter_context(open(output, "a", encoding="utf-8"))
    except OSError as error:
        raise AutocompleteError(f"cannot append to {output}: {error.strerror or error}") from None
    return LineSink(file)
