"""`autocomplete repl`: the PromptSession assembled from the other modules, and the read-print loop.

Each part is built from the state it is handed; this module wires them. The session: the prompt `NAME> `;
a ThreadedCompleter and a ThreadedAutoSuggest, each through a Dynamic wrapper over `Adapters`, so `:model`
and `:top` swap them live; the live panel as the bottom toolbar; FileHistory in the model
store (prompt_toolkit appends each accepted line to the file as it is accepted); Emacs keys, or vi.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

from prompt_toolkit import PromptSession
from prompt_toolkit.auto_suggest import AutoSuggest, DynamicAutoSuggest, ThreadedAutoSuggest
from prompt_toolkit.completion import Completer, DynamicCompleter, ThreadedCompleter
from prompt_toolkit.cursor_shapes import ModalCursorShapeConfig
from prompt_toolkit.filters import Condition
from prompt_toolkit.history import FileHistory, History, InMemoryHistory
from prompt_toolkit.styles import Style
from prompt_toolkit.utils import is_dumb_terminal
from rich.console import Console

from autocomplete import gcpause, store
from autocomplete.blas import use_one_blas_thread
from autocomplete.errors import ExitStatus
from autocomplete.repl import commands
from autocomplete.repl.autosuggest import GhostAutoSuggest, GhostKeeper
from autocomplete.repl.completer import ModelCompleter
from autocomplete.repl.key_bindings import repl_bindings
from autocomplete.repl.live import Live
from autocomplete.repl.panel import plain_suggestions
from autocomplete.repl.privacy import PrivateHistory
from autocomplete.repl.state import Answers, Learner, ReplState, learning_off
from autocomplete.repl.terminal import LineSink, line_sink, use_terminal


def no_color() -> bool:
    return bool(os.environ.get("NO_COLOR"))  # https://no-color.org: set and not empty


def style(color: bool) -> Style:
    return Style.from_dict(
        {
            "bottom-toolbar": "noreverse",  # prompt_toolkit's default toolbar is reverse video
            "bottom-toolbar.text": "",
            # Without colour the ghost would look typed: dim it instead.
            "auto-suggestion": "#8a8a8a" if color else "dim",
            "model": "bold ansigreen" if color else "bold",
        }
    )


def history(console: Console) -> History:
    """The history file in the store; with one warning line, in memory when the file cannot be written."""
    path = store.history_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "ab"):  # creates it if missing; fails now rather than on the first Enter
            pass
    except OSError as error:
        commands.hint(console, f"history will not be saved: cannot write {path} ({error.strerror or error})")
        try:
            earlier = list(FileHistory(str(path)).load_history_strings())[::-1]  # oldest first
        except OSError:
            earlier = []
        return InMemoryHistory(earlier)
    return FileHistory(str(path))


PLAIN_NOTE = "TERM=dumb: no live panel; each line you enter is answered with its suggestions"


class Adapters:
    """The Tab completer and the ghost auto-suggest over the state's current answers, built again once
    `:model` or `:top` replaced them (read from the completion threads: one attribute, swapped whole)."""

    def __init__(self, state: ReplState):
        self.state = state
        self._built = self._build(state.answers)

    @staticmethod
    def _build(answers: Answers) -> tuple[Answers, Completer, AutoSuggest]:
        return answers, ModelCompleter(answers, commands.command_completions), GhostAutoSuggest(answers)

    def _current(self) -> tuple[Answers, Completer, AutoSuggest]:
        built, answers = self._built, self.state.answers
        if built[0] is not answers:
            built = self._built = self._build(answers)
        return built

    def completer(self) -> Completer:
        return self._current()[1]

    def auto_suggest(self) -> AutoSuggest:
        return self._current()[2]


class Repl:
    """One interactive session: the state, the live panel and ghost, and the PromptSession over them."""

    def __init__(
        self,
        state: ReplState,
        console: Console,
        color: bool = True,
        history: History | None = None,
        plain: bool = False,
        once: bool = False,
        multiline: bool = False,
        emit: Callable[[str], None] | None = None,
    ):
        """`plain`: a terminal that cannot draw the panel (TERM=dumb); each line entered is answered.
        `once`: end after the first accepted line; `emit` writes accepted lines (default: standard output)."""
        self.state, self.console, self.plain, self.once = state, console, plain, once
        self.emit = emit or LineSink(sys.stdout)
        self.keeper = GhostKeeper()
        self.live = Live(state, self.keeper, color, multiline)
        self.adapters = Adapters(state)
        self.session: PromptSession[str] = PromptSession(
            message=self.message,
            completer=ThreadedCompleter(DynamicCompleter(self.adapters.completer)),
            auto_suggest=ThreadedAutoSuggest(DynamicAutoSuggest(self.adapters.auto_suggest)),
            complete_while_typing=Condition(lambda: state.complete_while_typing),
            bottom_toolbar=self.live.toolbar,
            history=PrivateHistory(history or InMemoryHistory(), lambda: state.learning),
            key_bindings=repl_bindings(state, self.live, once, multiline),
            multiline=multiline,
            prompt_continuation=self.continuation,
            vi_mode=state.vi,
            cursor=ModalCursorShapeConfig() if state.vi else None,
            style=style(color),
            include_default_pygments_style=False,
            enable_history_search=False,  # excludes complete_while_typing; Ctrl-R still searches
            reserve_space_for_menu=min(state.top_k, 8),
        )  # fmt: skip
        self.keeper.attach(self.session.default_buffer)
        self.live.attach(self.session.app, self.session.default_buffer)
        self.session.app.after_render += self._drawn

    @staticmethod
    def _drawn(app) -> None:
        gcpause.resume()  # the prompt is on the screen: start-up is over (a no-op after the first time)

    def message(self):
        return [("class:model", self.state.model_name), ("", "> ")]

    def continuation(self, width: int, line_number: int, wrap_count: int):
        return "." * (width - 1) + " "  # under `NAME> `, so the lines of a paragraph align

    def read(self) -> str:
        """One accepted line; EOFError on Ctrl-D."""
        return self.session.prompt(pre_run=self._new_line)

    def _new_line(self) -> None:
        self.keeper.forget()  # a ghost of the previous line (or model) must not follow into this one
        self.live.refresh()

    def loop(self) -> int:
        """Read lines until Ctrl-D or :quit (with `once`: until the first line); emit each accepted line,
        run `:` commands. The exit status: with `once`, 130 after Ctrl-C and 1 with no line accepted."""
        if self.plain:
            commands.say(self.console, PLAIN_NOTE)
        left = ExitStatus.ERROR if self.once else ExitStatus.SUCCESS  # leaving without a line
        try:
            while True:
                try:
                    line = self.read()
                except KeyboardInterrupt:  # Ctrl-C with --once, or the <sigint> key if a signal gets through
                    if self.once:
                        return ExitStatus.INTERRUPTED
                    continue
                except EOFError:
                    return left
                if commands.is_command(line):
                    if not commands.execute(line, self.state, self.console):
                        return left
                elif line.strip():
                    self.emit(line)
                    if self.plain and not self.once:
                        self.console.print(plain_suggestions(self.state.answers(line)), soft_wrap=True)
                    self._tell(self.state.accept(line))
                    if self.once:
                        return ExitStatus.SUCCESS
        finally:
            self.live.close()
            self._tell(self.state.close())

    def _tell(self, problems: list[str]) -> None:
        for problem in problems:
            commands.hint(self.console, problem)


def run(
    model: str | None = None,
    top_k: int = 5,
    vi: bool = False,
    complete_while_typing: bool = False,
    train_default: bool = False,
    adapt: bool = True,
    no_learn: bool = False,
    once: bool = False,
    multiline: bool = False,
    output: Path | None = None,
) -> int:
    """Open the REPL on `model` (default: the most recent); the exit status (see Repl.loop).
    AutocompleteError if there is nothing to open, no terminal, or `output` cannot be appended to.
    `adapt`: the cache and the memory in the suggestions; `no_learn`: no accepted line is learned."""
    from autocomplete import adapted
    from autocomplete.repl.startup import open_model

    with ExitStack() as stack:
        emit = line_sink(stack, output)
        console = use_terminal(stack)  # prompt, panel and messages on the terminal, even when stdout is not
        info, predictor = open_model(model, train_default, console)
        use_one_blas_thread()  # after any training: only the keystrokes' small products want one thread
        adaptation = adapted.adaptation_for(info.name, info.meta, predictor) if adapt else None
        state = ReplState(info.name, predictor, top_k, complete_while_typing, vi, adaptation,
                          learning_off(no_learn), Learner())  # fmt: skip
        saved = history(console)
        return Repl(state, console, not no_color(), saved, is_dumb_terminal(), once, multiline, emit).loop()
