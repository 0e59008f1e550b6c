"""Keeping the panel and the ghost text live without ever running the model on the UI thread.

Every text or cursor change asks the `Worker` for a new frame; the worker thread answers the latest text
only (keystrokes that arrive while it computes are merged), stores the frame, renders the panel ahead and
wakes the UI (`app.invalidate()`). Until then the toolbar keeps showing the previous frame: never a blank
panel. The UI thread only looks up finished work.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from prompt_toolkit.application import Application
from prompt_toolkit.buffer import Buffer
from prompt_toolkit.formatted_text import ANSI
from prompt_toolkit.key_binding.vi_state import InputMode

from autocomplete.repl.autosuggest import GhostKeeper, ghost_for, ghost_on_screen
from autocomplete.repl.commands import is_command
from autocomplete.repl.panel import Frame, PanelRenderer, Status, panel_rows
from autocomplete.repl.state import ReplState

VI_MODES = {
    InputMode.INSERT: "insert", InputMode.INSERT_MULTIPLE: "insert", InputMode.NAVIGATION: "normal",
    InputMode.REPLACE: "replace", InputMode.REPLACE_SINGLE: "replace",
}  # fmt: skip
COMMAND_NOTE = "a command: :help :model NAME :models :top N :incognito :quit"


def compute_frame(text: str, state: ReplState) -> Frame:
    """The panel's content (and the ghost) for the text before the cursor; runs on the worker thread."""
    if is_command(text):
        return Frame(text, None, COMMAND_NOTE)
    answers = state.answers
    return Frame(text, answers(text), ghost=ghost_for(text, answers))


class Worker:
    """One daemon thread running `job(text)` for the most recently requested text."""

    def __init__(self, job: Callable[[str], None], name: str = "autocomplete-panel"):
        self.job = job
        self._pending: str | None = None
        self._busy = False
        self._closed = False
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def request(self, text: str) -> None:
        with self._cond:
            self._pending = text  # replaces a text not yet started: only the latest matters
            self._cond.notify()

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Block until every request so far is answered (tests and the benchmark)."""
        with self._cond:
            return self._cond.wait_for(lambda: self._pending is None and not self._busy, timeout)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join(timeout=2)

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._pending is not None or self._closed)
                if self._closed:
                    return
                text, self._pending, self._busy = self._pending, None, True
            try:
                self.job(text)
            except Exception:  # noqa: BLE001 - a failed frame must not kill the panel; the next keystroke retries
                pass
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()


class Live:
    """The panel (`toolbar()`, for PromptSession's bottom_toolbar) and the ghost-text feed of one session."""

    def __init__(self, state: ReplState, keeper: GhostKeeper, color: bool = True, multiline: bool = False):
        self.state, self.keeper, self.multiline = state, keeper, multiline
        self.renderer = PanelRenderer(color)
        self.frame = compute_frame("", state)  # the first frame synchronously: the prompt opens with a panel
        self.size = (80, 24)  # (columns, rows) last seen by the toolbar; the worker renders ahead for it
        self.app: Application | None = None
        self.buffer: Buffer | None = None
        self.worker = Worker(self._compute)

    def attach(self, app: Application, buffer: Buffer) -> None:
        self.app, self.buffer = app, buffer
        buffer.on_text_changed += self._changed
        buffer.on_cursor_position_changed += self._changed

    def refresh(self) -> None:
        """Ask for a frame for the buffer as it is now (at a new prompt, after Ctrl-C, after `:model`)."""
        if self.buffer is not None:
            self.worker.request(self.panel_text())

    def panel_text(self) -> str:
        """The text the panel answers: the text before the cursor, or, while an entry of the menu is picked
        (and in the line), the text the menu was opened on: the panel and the menu show one choice."""
        menu = self.buffer.complete_state
        if menu is not None and menu.complete_index is not None:
            return menu.original_document.text_before_cursor
        return self.buffer.document.text_before_cursor

    def menu_open(self) -> bool:
        menu = self.buffer.complete_state if self.buffer is not None else None
        return menu is not None and bool(menu.completions)

    def close(self) -> None:
        self.worker.close()

    def status(self) -> Status:
        s = self.state
        return Status(s.model_name, s.top_k, s.complete_while_typing, s.vi, self._vi_mode(), not s.learning,
                      self.multiline)  # fmt: skip

    def _vi_mode(self) -> str:
        if not self.state.vi or self.app is None:
            return ""
        return VI_MODES.get(self.app.vi_state.input_mode, "")

    def toolbar(self) -> ANSI:
        """The panel for the latest finished frame; called by prompt_toolkit on every redraw (UI thread)."""
        if self.app is not None:
            size = self.app.output.get_size()
            self.size = (size.columns, size.rows)
        columns, terminal_rows = self.size
        rows, context = panel_rows(self.state.top_k, terminal_rows)
        menu = self.menu_open()
        return self.renderer(self.frame, self.status(), columns, rows, self._ghost_word(), context, menu)

    def _ghost_word(self) -> str | None:
        """The word of the ghost on screen, for the panel to mark."""
        ghost = ghost_on_screen(self.buffer)
        return ghost.panel_word(self.frame.answer) if ghost is not None else None

    def _changed(self, buffer: Buffer) -> None:
        app = self.app
        if app is not None and app.is_running and app.loop is not None:
            # After the key's handler: a menu pick changes the text before it sets the menu's state back.
            app.loop.call_soon(self.refresh)
        else:
            self.refresh()

    def _compute(self, text: str) -> None:  # worker thread
        frame = compute_frame(text, self.state)
        self.frame = frame
        columns, terminal_rows = self.size
        rows, context = panel_rows(self.state.top_k, terminal_rows)
        ghost_word = frame.ghost.panel_word(frame.answer) if frame.ghost is not None else None
        self.renderer(frame, self.status(), columns, rows, ghost_word, context)
        app = self.app
        loop = app.loop if app is not None and app.is_running else None
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._arrived, frame)

    def _arrived(self, frame: Frame) -> None:  # UI thread
        buffer, app = self.buffer, self.app
        if buffer is not None and frame.ghost is not None:
            # A ghost for text that came without an insert event (new prompt, Backspace, Tab choice, Ctrl-C).
            if (
                buffer.suggestion is None
                and buffer.document.is_cursor_at_the_end
                and buffer.text == frame.text
            ):
                self.keeper.show(buffer, frame.ghost)
        if app is not None:
            app.invalidate()
