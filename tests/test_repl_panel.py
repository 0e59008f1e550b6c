"""The live panel as a plain function of an answer: its rows, its fixed height, colours, cropping; and the
worker that keeps it live off the UI thread."""

from __future__ import annotations

import re
import threading
import time

import pytest
from fakes import FakeModel
from rich.cells import cell_len
from rich.text import Text

from autocomplete.repl.live import COMMAND_NOTE, Worker, compute_frame
from autocomplete.repl.panel import (
    MENU_NOTE,
    Frame,
    PanelRenderer,
    Status,
    panel_lines,
    panel_rows,
    render_ansi,
    render_panel,
    status_line,
)
from autocomplete.repl.state import Answers, ReplState

ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")
STATUS = Status("fake", 5)


@pytest.fixture
def answers():
    return Answers(FakeModel(), 5)


def plain(text: str) -> list[str]:
    return ANSI_ESCAPE.sub("", text).splitlines()


def test_panel_lists_words_probabilities_and_bars(answers):
    lines = plain(render_panel(answers("the "), STATUS, width=80, rows=5, color=False))
    assert lines[0].split()[:3] == ["1", "cat", "50.0%"]
    assert lines[1].split()[:3] == ["2", "dog", "25.0%"]
    assert lines[0].count("█") == 20 and lines[1].count("█") == 10  # bars relative to the best word
    assert lines[5] == "context: ⟨start⟩ the · next word"
    assert lines[6].startswith("fake · top 5 · F2 pop-up menu off")


def test_panel_names_the_prefix_and_marks_unknown_context_words(answers):
    lines = plain(render_panel(answers("zorp the c"), STATUS, width=80, rows=5, color=False))
    assert [line.split()[1] for line in lines[:3]] == ["cat", "cow", "castle"]
    assert lines[5] == "context: zorp? the · words starting with “c”"


def test_panel_height_never_changes(answers):
    """Always `rows` rows, then the context: the screen does not jump as answers change."""
    for text in ["the ", "the c", "the zq", "my lo"]:
        assert len(panel_lines(answers(text), 5)) == 6, text
    assert len(panel_lines(None, 5, note=COMMAND_NOTE)) == 6
    assert "no known word starts with that" in panel_lines(answers("the zq"), 5)[0].plain


def test_with_the_menu_open_the_rows_give_way_and_the_height_stays(answers):
    lines = [line.plain for line in panel_lines(answers("the "), 5, menu=True)]
    assert lines == ["  " + MENU_NOTE, "", "", "", "", "context: ⟨start⟩ the · next word"]


def test_ghost_row_is_marked(answers):
    lines = [line.plain for line in panel_lines(answers("the c"), 5, ghost_word="cow")]
    assert lines[1].rstrip().endswith("◂") and "◂" not in lines[0]


def test_panel_fits_the_width_with_wide_and_long_words():
    model = FakeModel(table={"the": {"東京都庁舎": 3, "x" * 40: 2}})
    text = render_panel(Answers(model, 5)("the "), STATUS, width=40, rows=5, color=False)
    for line in plain(text):
        assert cell_len(line) <= 40, line
    assert "東京都庁舎" in text and "…" in text


def test_colours_only_when_allowed(answers):
    coloured = render_panel(answers("the "), STATUS, width=80, rows=5, color=True)
    bare = render_panel(answers("the "), STATUS, width=80, rows=5, color=False)
    assert "\x1b[36m" in coloured  # the cyan bars
    assert not re.search(r"\x1b\[[0-9;]*3[0-9]m", bare)  # NO_COLOR: bold and dim only
    assert plain(coloured) == plain(bare)
    assert not coloured.endswith("\n")


def test_render_ansi_strips_hyperlinks():
    text = render_ansi([Text("docs", style="link https://example.com")], 40)
    assert "\x1b]8" not in text and "docs" in text


def test_status_line_tells_the_switches():
    assert "F2 pop-up menu on" in status_line(Status("m", 3, menu_while_typing=True)).plain
    assert "Alt-N/P" not in status_line(Status("m", 3, vi=True)).plain
    multiline = status_line(Status("m", 3, multiline=True)).plain
    assert "F2 pop-up menu off · Alt-Enter submit · Tab menu" in multiline


def test_panel_rows_leave_room_on_short_terminals():
    assert panel_rows(5, 40) == (5, True) and panel_rows(50, 20) == (14, True)


def test_renderer_remembers_the_last_renders(answers):
    renderer = PanelRenderer(color=False)
    frame = Frame("the ", answers("the "))
    first = renderer(frame, STATUS, 80, 5, "cat")
    assert renderer(frame, STATUS, 80, 5, "cat") is first
    assert renderer(frame, STATUS, 60, 5, "cat") is not first
    assert renderer(Frame("the ", answers("the ")), STATUS, 80, 5, "cat") is not first


def test_frames_for_text_and_for_commands():
    state = ReplState("fake", FakeModel(), 5)
    frame = compute_frame("the c", state)
    assert frame.answer.items[0].word == "cat" and frame.ghost.text == "at"
    command = compute_frame(":top 3", state)
    assert command.answer is None and command.note == COMMAND_NOTE and command.ghost is None


def test_worker_answers_only_the_latest_text():
    seen, gate = [], threading.Event()

    def job(text):
        gate.wait(5)
        seen.append(text)

    worker = Worker(job)
    try:
        worker.request("a")  # taken at once; blocks on the gate
        deadline = time.monotonic() + 5
        while not worker._busy and time.monotonic() < deadline:
            time.sleep(0.001)
        worker.request("ab")
        worker.request("abc")  # replaces "ab" before it started
        gate.set()
        assert worker.wait_idle()
        assert seen == ["a", "abc"]
    finally:
        worker.close()


def test_worker_survives_a_failing_job():
    seen = []

    def job(text):
        if text == "bad":
            raise ValueError(text)
        seen.append(text)

    worker = Worker(job)
    try:
        worker.request("bad")
        assert worker.wait_idle()
        worker.request("good")
        assert worker.wait_idle()
        assert seen == ["good"]
    finally:
        worker.close()


@pytest.mark.parametrize("width", [20, 26, 30, 36, 44, 50])
def test_a_narrow_panel_keeps_bars_meaningful_or_drops_them(answers, width):
    """Bars shorten to fit whole (never cut with …); when too little room is left, no bar at all."""
    lines = plain(render_panel(answers("the "), STATUS, width=width, rows=5, color=False))
    rows = lines[:4]  # cat, dog, cow, castle
    for line in rows:
        assert cell_len(line) <= width and "…" not in line, line
        assert line.split()[2].endswith("%"), line  # the probability is always whole
    assert [line.split()[1] for line in rows] == ["cat", "dog", "cow", "castle"]
    bars = [line.count("█") for line in rows]
    room = width - 24  # "1 ", a word of 12, " 50.0% ", " ◂"
    if room < 5:
        assert bars == [0, 0, 0, 0]
    else:
        assert bars[0] == min(20, room) and bars[1] == bars[0] // 2  # still relative to the best


def test_a_short_terminal_panel_keeps_its_status_line(answers):
    lines = plain(render_panel(answers("the "), STATUS, width=80, rows=0, color=False, context=False))
    assert len(lines) == 1 and lines[0].startswith("fake · top 5")


@pytest.mark.parametrize(
    "terminal_rows, shown",
    [(30, (5, True)), (8, (2, True)), (7, (1, True)), (4, (1, True)), (3, (1, False)), (2, (0, False))],
)
def test_a_short_terminal_shows_what_fits_and_keeps_the_status_line(terminal_rows, shown):
    assert panel_rows(5, terminal_rows) == shown  # (suggestion rows, the context line)
