"""What the history file may keep: nothing accepted while learning is off (`:incognito`, `--no-learn`,
AUTOCOMPLETE_NO_LEARN), and no line the secret filter would cut. Those lines stay in this session's own
history (↑ and Ctrl-R still find them) and are gone when it ends.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from prompt_toolkit.history import History

from autocomplete.secrets import is_clean


def may_keep(line: str) -> bool:
    """A line with nothing secret-shaped in it (see autocomplete/secrets.py)."""
    return all(is_clean(part) for part in line.splitlines())


class PrivateHistory(History):
    """`saved` (the history file) for the lines it may keep; the session's memory alone for the others.

    prompt_toolkit appends a line to the history (`append_string` -> `store_string`) as it is accepted,
    before the REPL's loop sees it: the choice is made here, with `learning()` as it is at that moment."""

    def __init__(self, saved: History, learning: Callable[[], bool]):
        super().__init__()
        self.saved, self.learning = saved, learning

    def load_history_strings(self) -> Iterable[str]:
        return self.saved.load_history_strings()

    def store_string(self, string: str) -> None:
        if self.learning() and may_keep(string):
            self.saved.store_string(string)
