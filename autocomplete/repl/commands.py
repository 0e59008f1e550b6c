"""The REPL's `:` commands: :help, :model NAME, :models, :top N, :incognito, :quit. One function per
command, each given the session's state and a rich Console; `execute` dispatches a line,
`command_completions` completes one. Errors the user can fix are one line, never a traceback.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from prompt_toolkit.completion import Completion
from rich.console import Console
from rich.table import Table
from rich.text import Text

from autocomplete.errors import AutocompleteError
from autocomplete.repl.state import ReplState
from autocomplete.suggest import MAX_TOP_K


@dataclass(frozen=True)
class Command:
    args: str
    help: str
    run: Callable[[ReplState, Console, str], bool]  # False: leave the REPL


def _help(state: ReplState, console: Console, arg: str) -> bool:
    console.print(help_table())
    return True


def _model(state: ReplState, console: Console, arg: str) -> bool:
    if not arg:
        say(console, "model: ", (state.model_name, "bold"), " (switch with ", (":model NAME", "bold"),
            "; see :models)")  # fmt: skip
        return True
    from autocomplete import adapted, store

    try:
        info, predictor = store.load(arg)
        adapting = state.adaptation is not None  # --no-adapt stays off on the new model
        adaptation = adapted.adaptation_for(info.name, info.meta, predictor) if adapting else None
    except AutocompleteError as error:
        hint(console, str(error))
        return True
    state.switch_model(info.name, predictor, adaptation)
    say(console, "now using ", (info.name, "bold"), f" ({len(predictor.vocab):,} words)")
    return True


def _models(state: ReplState, console: Console, arg: str) -> bool:
    from autocomplete import render, store

    infos = store.list_models(verify=True)
    if not infos:
        say(console, f"No models in {store.models_dir()}.")
        return True
    console.print(render.models_table(infos, store.default_name(infos)))
    say(console, "in use: ", (state.model_name, "bold"))
    return True


def _top(state: ReplState, console: Console, arg: str) -> bool:
    if not arg:
        say(console, f"showing the top {state.top_k} (change with ", (":top N", "bold"), ")")
        return True
    if not (arg.isascii() and arg.isdigit() and 1 <= int(arg) <= MAX_TOP_K):
        hint(console, f":top takes a number from 1 to {MAX_TOP_K} (got “", arg, "”)")
        return True
    state.set_top_k(int(arg))
    say(console, f"showing the top {state.top_k}")
    return True


def _incognito(state: ReplState, console: Console, arg: str) -> bool:
    if state.learning_off:
        hint(console, f"learning is off for this session ({state.learning_off}): nothing you type is learned")
        return True
    state.incognito = not state.incognito
    if state.incognito:
        say(console, "incognito: nothing you type is learned or kept in the history file (",
            (":incognito", "bold"), " again to resume)")  # fmt: skip
    else:
        say(console, "learning again: accepted lines go into the memory of ", (state.model_name, "bold"))
    return True


def _quit(state: ReplState, console: Console, arg: str) -> bool:
    return False


COMMANDS: dict[str, Command] = {
    ":help": Command("", "keys and commands", _help),
    ":model": Command("NAME", "switch to another model (no restart)", _model),
    ":models": Command("", "list the trained models", _models),
    ":top": Command("N", "show N suggestions", _top),
    ":incognito": Command("", "learn nothing, keep nothing in the history file; again to resume", _incognito),
    ":quit": Command("", "leave (Ctrl-D too)", _quit),
}
ALIASES = {":h": ":help", ":?": ":help", ":q": ":quit", ":exit": ":quit", ":m": ":model"}

KEYS = [
    ("Tab", "open the menu of suggestions; Tab/↓ pick, Enter takes the picked one, Esc closes it"),
    ("→  Ctrl-F  Ctrl-E", "take the ghost text (at the end of the line)"),
    ("Alt-F", "take one word of the ghost text (Emacs mode)"),
    ("Alt-N  Alt-P", "show the next / previous candidate as ghost text (Emacs mode)"),
    ("F2", "pop the menu up while typing: on / off"),
    ("Enter", "accept the line: printed, kept in the history and learned (unless incognito)"),
    ("Alt-Enter  Esc Enter", "with --multiline: accept the text (there Enter starts a new line)"),
    ("↑ ↓  Ctrl-R", "history, history search"),
    ("Ctrl-C", "clear the line (with --once: leave, exit status 130)"),
    ("Ctrl-D", "quit (in the middle of a line: delete the character under the cursor)"),
]


def help_table() -> Table:
    table = Table(
        title="autocomplete repl", show_header=False, title_justify="left", box=None, padding=(0, 2)
    )
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    for keys, what in KEYS:
        table.add_row(keys, what)
    table.add_row("", "")
    for name, command in COMMANDS.items():
        aliases = ", ".join(a for a, target in ALIASES.items() if target == name)
        usage = f"{name} {command.args}".strip() + (f"  ({aliases})" if aliases else "")
        table.add_row(usage, command.help)
    return table


def say(console: Console, *parts: str | tuple[str, str]) -> None:
    """One line of plain text and (text, style) pieces: what the user typed is never read as markup."""
    console.print(Text.assemble(*parts), soft_wrap=True)


def hint(console: Console, *parts: str | tuple[str, str]) -> None:
    """A one-line message about something the user can fix."""
    say(console, ("!", "yellow"), " ", *parts)


def is_command(line: str) -> bool:
    """A `:` command rather than prose: the one test the completer, the ghost, the panel and the loop use."""
    return line.lstrip().startswith(":")


def execute(line: str, state: ReplState, console: Console) -> bool:
    """Run one `:` command line; False when the REPL should end. Unknown commands get a one-line hint."""
    typed, _, arg = line.strip().partition(" ")
    name = ALIASES.get(typed.lower(), typed.lower())
    command = COMMANDS.get(name)
    if command is None:
        close = [c for c in COMMANDS if c.startswith(name[:2])] if len(name) > 1 else []
        also = f" (did you mean {' or '.join(close)}?)" if close and name != ":" else ""
        hint(console, "unknown command “", typed, f"”{also}: try :help")
        return True
    arg = arg.strip()
    if arg and not command.args:
        hint(console, f"{typed} takes no argument (got “", arg, "”)")
        return True
    return command.run(state, console, arg)


def command_completions(text: str) -> Iterator[Completion]:
    """Completions of a `:` line: command names, then model names after `:model `."""
    stripped = text.lstrip()
    if " " not in stripped:
        for name, command in COMMANDS.items():
            if name.startswith(stripped.lower()):  # as `execute` runs them: in any case
                yield Completion(name, -len(stripped), display_meta=command.help)
        return
    name, _, arg = stripped.partition(" ")
    if ALIASES.get(name.lower(), name.lower()) == ":model" and " " not in arg.strip():
        from autocomplete import store

        for info in store.list_models():
            if info.name.startswith(arg.strip()) and not info.problem:
                yield Completion(
                    info.name, -len(arg.lstrip()), display_meta=info.created_display
                )
