"""Shell completion of model names: every `--model` option and `models rm NAME` complete from the store.

Only the names in models/ are listed (no model is loaded), and only while the shell asks for completions.
The group class attaches the completer to the built commands, so each command's options stay as written.
"""

from __future__ import annotations

from typer.core import TyperGroup


def model_names(ctx, param, incomplete: str) -> list:
    """The store's model names starting with `incomplete` (click's shell_complete signature)."""
    from typer._click.shell_completion import CompletionItem

    from autocomplete import store

    try:
        names = sorted(p.name for p in store.models_dir().iterdir() if not p.name.startswith("."))
    except OSError:  # no store yet, or unreadable: nothing to offer
        return []
    return [CompletionItem(name) for name in names if name.startswith(incomplete)]


class ModelNamesGroup(TyperGroup):
    """A typer group whose commands complete model names for `--model` and for `rm NAME`."""

    def __init__(self, **attrs) -> None:
        super().__init__(**attrs)
        for name, command in self.commands.items():
            for param in command.params:
                if param.name == "model" or (name == "rm" and param.name == "name"):
                    param._custom_shell_complete = model_names  # what click's shell_complete= sets
