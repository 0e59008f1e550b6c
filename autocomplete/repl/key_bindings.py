"""The REPL's own keys, on top of prompt_toolkit's (which already give → / Ctrl-F / Ctrl-E to take the
whole ghost text, Alt-F one word of it, Tab for the menu, ↑ ↓ and Ctrl-R for the history).

Alt-N / Alt-P are Emacs-mode keys, like prompt_toolkit's own Alt-F: in vi insert mode a binding that
starts with Escape would make every Escape wait for a possible second key.
"""

from __future__ import annotations

from prompt_toolkit.application import get_app
from prompt_toolkit.enums import DEFAULT_BUFFER
from prompt_toolkit.filters import (
    Condition,
    completion_is_selected,
    emacs_mode,
    has_completions,
    has_focus,
    to_filter,
)
from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent

from autocomplete.repl.autosuggest import ghost_on_screen
from autocomplete.repl.live import Live
from autocomplete.repl.state import ReplState


def repl_bindings(state: ReplState, live: Live, once: bool = False, multiline: bool = False) -> KeyBindings:
    """The keys below act on the input line only: during a Ctrl-R search, Ctrl-C still ends the search.
    With `once` (`repl --once`) Ctrl-C gives up the whole entry instead of clearing the line."""
    kb = KeyBindings()
    editing = has_focus(DEFAULT_BUFFER)

    @Condition
    def ghost_shown() -> bool:
        return ghost_on_screen(live.buffer) is not None

    @Condition
    def cursor_at_end() -> bool:
        return live.buffer is not None and live.buffer.document.is_cursor_at_the_end

    @kb.add("escape", "n", filter=editing & emacs_mode & ghost_shown)
    def _(event: KeyPressEvent) -> None:
        """Show the next candidate as ghost text."""
        live.keeper.show(live.buffer, live.buffer.suggestion.cycle(1))

    @kb.add("escape", "p", filter=editing & emacs_mode & ghost_shown)
    def _(event: KeyPressEvent) -> None:
        """Show the previous candidate as ghost text."""
        live.keeper.show(live.buffer, live.buffer.suggestion.cycle(-1))

    @kb.add("f2", filter=editing)
    def _(event: KeyPressEvent) -> None:
        """Pop the completion menu up while typing, or stop doing so."""
        state.complete_while_typing = not state.complete_while_typing
        buffer = event.current_buffer
        if not state.complete_while_typing:
            buffer.complete_state = None  # close the menu, keep what it inserted
        elif buffer.text:
            buffer.start_completion(select_first=False)

    @kb.add("enter", filter=editing & completion_is_selected)
    def _(event: KeyPressEvent) -> None:
        """Take the completion picked in the menu (its text is in the line already) and close the menu."""
        event.current_buffer.complete_state = None
        live.refresh()

    @Condition
    def came_alone() -> bool:
        """No key arrived with it: not the first half of Alt-N, Alt-P, Alt-F (sent as Escape and a key)."""
        return not get_app().key_processor.input_queue

    # vi: Escape moves, which closes it. With --multiline, Escape may be the start of Esc Enter: it waits.
    at_once = came_alone & to_filter(not multiline)

    @kb.add("escape", filter=editing & emacs_mode & has_completions, eager=at_once)
    def _(event: KeyPressEvent) -> None:
        """Close the menu, keeping what it inserted, without waiting for a second key."""
        event.current_buffer.complete_state = None
        live.refresh()

    if once:

        @kb.add("c-c", filter=editing)
        def _(event: KeyPressEvent) -> None:
            """Give up: `repl --once` exits with 130 and writes nothing."""
            event.app.exit(exception=KeyboardInterrupt, style="class:aborting")

    else:

        @kb.add("c-c", filter=editing)
        def _(event: KeyPressEvent) -> None:
            """Clear the line."""
            event.current_buffer.reset()
            live.keeper.forget()
            live.refresh()

    @kb.add("c-d", filter=editing & cursor_at_end)
    def _(event: KeyPressEvent) -> None:
        """Quit (in the middle of a line Ctrl-D keeps deleting the character under the cursor)."""
        event.app.exit(exception=EOFError, style="class:exiting")

    return kb
