"""The live panel under the input: the top-K words with probabilities (numbers and bars), the context the
model read (unknown words marked), drawn by rich and handed to prompt_toolkit's bottom toolbar as ANSI.

`panel_lines` and `render_panel` are plain functions of an answer (tests call them without a terminal).
The panel always has the same height for a given K, so the screen does not jump as answers change.
"""

from __future__ import annotations

import functools
import io
import re
import threading
from dataclasses import dataclass

from prompt_toolkit.formatted_text import ANSI
from rich.cells import cell_len
from rich.color import ColorSystem
from rich.console import Console
from rich.text import Text

from autocomplete.render import bar, context_text
from autocomplete.repl.autosuggest import Ghost
from autocomplete.suggest import Suggestions

BAR_WIDTH = 20
WORD_WIDTH = 24  # longer words are cut with …
MIN_WORD_WIDTH = 12  # so the bars do not shift left and right as the words change
MIN_BAR_WIDTH = 5  # narrower, a bar no longer tells one probability from another: none is drawn
MENU_NOTE = "the words are in the menu: Tab/↓ pick, Enter take, Esc close"
# OSC 8 hyperlinks (ESC ] 8 ; params ; uri ST): prompt_toolkit would print them as text.
_OSC8 = re.compile(r"\x1b]8;[^\x07\x1b]*(?:\x07|\x1b\\)")


@dataclass(frozen=True)
class Status:
    """The panel's last line: the model, K and the switches."""

    model: str
    top_k: int
    menu_while_typing: bool = False
    vi: bool = False
    vi_mode: str = ""  # "insert", "normal"...: what vi mode the keys are in (vi only)
    incognito: bool = False  # learning is off: nothing typed is learned or kept in the history file
    multiline: bool = False  # Enter starts a new line: the status line says how to submit


def fit(word: str, width: int) -> str:
    """`word` padded or cut ("…") to exactly `width` terminal cells; wide characters count two."""
    if cell_len(word) <= width:
        return word + " " * (width - cell_len(word))
    cut = Text(word)
    cut.truncate(width, overflow="ellipsis", pad=True)
    return cut.plain


def columns(items, rank_width: int, width: int) -> tuple[int, int]:
    """(word width, bar width) of a row `width` cells wide: a narrow panel shortens the bar, then drops it
    (a bar cut with … says nothing), then cuts the words."""
    word_width = min(WORD_WIDTH, max([MIN_WORD_WIDTH, *(cell_len(s.word) for s in items)]))
    fixed = rank_width + 1 + 8 + 2  # "1 ", " 50.0% " and " ◂"
    bar_width = min(BAR_WIDTH, width - fixed - word_width)
    if bar_width >= MIN_BAR_WIDTH:
        return word_width, bar_width
    return max(1, min(word_width, width - fixed)), 0


def panel_lines(
    answer: Suggestions | None,
    rows: int,
    ghost_word: str | None = None,
    note: str | None = None,
    width: int = 200,
    context: bool = True,
    menu: bool = False,
) -> list[Text]:
    """The top-`rows` suggestions of `answer` as the rows of a table: rank, word, probability as a number
    and as a bar, the ghost's word marked ◂; blank rows up to `rows`; then the context line (if `context`).
    With `menu` (the pop-up menu is open and lists them) a note stands where the words go, so no word is
    shown twice; the rows stay, so the screen does not jump.

    The columns are laid out here rather than by rich's Table, which takes 2-3 ms per render against
    ~0.3 ms for these lines: the panel is redrawn on every keystroke. With `note` (or no answer) the note
    stands where the words go."""
    items = answer.items[:rows] if answer is not None and note is None and not menu else ()
    top = max((s.probability for s in items), default=1.0) or 1.0
    rank_width = len(str(rows))
    word_width, bar_width = columns(items, rank_width, width)
    lines = []
    for rank, item in enumerate(items, start=1):
        mark = "◂" if ghost_word is not None and item.word == ghost_word else ""
        lines.append(
            Text.assemble(
                (f"{rank:>{rank_width}} ", "dim"),
                (fit(item.word, word_width), "bold green"),
                f" {item.probability:>6.1%} ",
                (f"{bar(item.probability / top, bar_width).plain:<{bar_width}}", "cyan"),
                " ",
                (mark, "yellow"),
            )
        )
    if not items and rows:
        empty = note or (MENU_NOTE if menu else None)
        empty = empty or ("no known word starts with that" if answer and answer.prefix else "no suggestion")
        lines.append(Text.assemble(" " * (rank_width + 1), (empty, "dim")))
    lines += [Text("") for _ in range(rows - len(lines))]
    if context:
        lines.append(context_line(answer, note))
    return lines


def context_line(answer: Suggestions | None, note: str | None) -> Text:
    caption = Text("context: ", style="dim")
    if answer is not None and note is None:
        caption.append_text(context_text(answer))
        what = f"words starting with “{answer.prefix}”" if answer.prefix else "next word"
        caption.append(f" · {what}", style="dim")
    else:
        caption.append("—", style="dim")
    return caption


def status_line(status: Status) -> Text:
    """The model, K and the F2 switch first (they must stay visible), then the keys (cut when narrow)."""
    menu = "on" if status.menu_while_typing else "off"
    keys = "Tab menu · → take" + ("" if status.vi else " · Alt-N/P other") + " · :help"
    keys = f"Alt-Enter submit · {keys}" if status.multiline else keys
    mode = f" · vi {status.vi_mode}" if status.vi and status.vi_mode else ""
    incognito = (" · ", ("incognito", "bold")) if status.incognito else ()
    return Text.assemble(
        (status.model, "bold"),
        *incognito,
        f" · top {status.top_k}{mode} · F2 pop-up menu {menu} · {keys}",
        style="dim",
    )


def plain_suggestions(answer: Suggestions) -> Text:
    """The suggestions for a text as one line, for a terminal that cannot draw the panel (TERM=dumb)."""
    words = " · ".join(f"{s.word} {s.probability:.1%}" for s in answer.items) or "no suggestion"
    return Text.assemble("suggestions for “", answer.text, "”: ", words)


def render_ansi(lines: list[Text], width: int, color: bool = True) -> str:
    """`lines` as ANSI text, each cut to `width` cells ("…"), joined by newlines (none at the end).

    Each span's style is turned into escape codes by rich (`Style.render`); going through Console.print
    would wrap, measure and justify again, twice the time, for lines already laid out. No OSC 8 links:
    prompt_toolkit would print them as text. Without colour (NO_COLOR) bold and dim stay."""
    console = _console()
    out = []
    for line in lines:
        line = line.copy()
        line.truncate(max(width, 1), overflow="ellipsis")
        parts = []
        for segment in line.render(console):
            style = segment.style
            if style is None or not style:
                parts.append(segment.text)
                continue
            style = style if color else style.without_color
            parts.append(style.render(segment.text, color_system=ColorSystem.TRUECOLOR))
        out.append("".join(parts))
    return _OSC8.sub("", "\n".join(out))


@functools.cache
def _console() -> Console:
    """A console only to resolve style names; it never prints."""
    return Console(file=io.StringIO(), force_terminal=True, color_system="truecolor", width=200)


def render_panel(
    answer: Suggestions | None,
    status: Status,
    width: int,
    rows: int,
    ghost_word: str | None = None,
    note: str | None = None,
    color: bool = True,
    context: bool = True,
    menu: bool = False,
) -> str:
    """The whole panel (suggestion rows, context line, status line) as ANSI text."""
    lines = panel_lines(answer, rows, ghost_word, note, width, context, menu)
    return render_ansi([*lines, status_line(status)], width, color)


@dataclass(frozen=True)
class Frame:
    """One answer for the panel: the text it is for, and what to show (an answer, or a note for commands)."""

    text: str
    answer: Suggestions | None
    note: str | None = None
    ghost: Ghost | None = None  # the ghost text for this text, computed with the answer


class PanelRenderer:
    """The panel's ANSI for a frame, remembered for the last few (frame, size, ghost word, status) keys:
    the worker renders ahead, and the toolbar, called on every redraw, then only looks up. Thread-safe."""

    def __init__(self, color: bool = True, keep: int = 4):
        self.color, self.keep = color, keep
        self._cache: dict[tuple, tuple[Frame, ANSI]] = {}
        self._lock = threading.Lock()

    def __call__(
        self,
        frame: Frame,
        status: Status,
        width: int,
        rows: int,
        ghost_word: str | None,
        context: bool = True,
        menu: bool = False,
    ) -> ANSI:
        key = (id(frame), status, width, rows, ghost_word, context, menu)
        with self._lock:
            hit = self._cache.get(key)
        if hit is not None and hit[0] is frame:  # id() is reused once a frame is freed: check it is the same
            return hit[1]
        ansi = ANSI(
            render_panel(frame.answer, status, width, rows, ghost_word, frame.note, self.color, context, menu)
        )
        with self._lock:
            self._cache[key] = (frame, ansi)
            while len(self._cache) > self.keep:
                self._cache.pop(next(iter(self._cache)))
        return ansi


def panel_rows(top_k: int, terminal_rows: int) -> tuple[int, bool]:
    """(suggestion rows, whether the context line fits): K rows, leaving the prompt and a few lines of
    scrollback visible; in a very short terminal fewer, so that the status line stays on screen."""
    rows = max(1, min(top_k, terminal_rows - 6))
    if terminal_rows >= rows + 3:  # the prompt, the rows, the context line, the status line
        return rows, True
    return (1, False) if terminal_rows >= 3 else (0, False)
