"""Rich renderings for adaptation: `learn`'s progress and summary, `forget`'s line, `evaluate --adapt`'s
side-by-side table. User strings go in as `Text`, never as markup."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from autocomplete.render import _fmt, _title, plain

BIG_FILE = 1 << 20  # bytes: smaller files are learned before a bar would be worth drawing


class FileProgress:
    """A transient progress bar per big file being learned; `update(path, bytes_read)` is the callback."""

    def __init__(self, console: Console, progress: Progress | None = None):
        self.progress = progress or Progress(
            TextColumn("learning {task.description}"), BarColumn(), DownloadColumn(), TimeRemainingColumn(),
            console=console, transient=True,
        )  # fmt: skip
        self.tasks: dict[Path, object] = {}

    def __enter__(self) -> FileProgress:
        return self

    def __exit__(self, *exc) -> None:
        self.progress.stop()

    def update(self, path: Path, done: int) -> None:
        task = self.tasks.get(path)
        if task is None:
            size = path.stat().st_size
            if size < BIG_FILE:
                self.tasks[path] = False
                return
            self.progress.start()
            task = self.tasks[path] = self.progress.add_task(Text(path.name).plain, total=size)
        if task is not False:
            self.progress.update(task, completed=done)


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"


def learned_line(learned) -> Text:
    """learned: adapted.LearnedFiles."""
    files = _count(learned.files, "file")
    return Text.assemble(
        "Learned ", _count(learned.words, "word"), f" ({_count(learned.units, 'paragraph')}, {files}) into "
        "the memory of ",
        plain(learned.name, "bold"),
    )  # fmt: skip


def forgotten_line(forgotten) -> Text:
    """forgotten: adapted.Forgotten."""
    name = plain(forgotten.name, "bold")
    if not forgotten.words:
        return Text.assemble("Emptied the memory of ", name, f" ({_count(forgotten.lines, 'word')} removed)")
    words = plain(", ".join(forgotten.words))
    if not forgotten.lines:
        return Text.assemble("The memory of ", name, " holds none of ", words, ": nothing removed")
    return Text.assemble(
        "Removed ", _count(forgotten.lines, "line"), " holding ", words, " from the memory of ", name
    )


def adapted_evaluation_table(plain_eval, adapted_eval, title: str | None = None) -> Table:
    """`evaluate --adapt`: the model alone and adapted, side by side (each an evaluate.Evaluation)."""
    caption = Text.assemble(plain(plain_eval.path), f" · {plain_eval.words:,} words")
    table = Table(title=_title(title), title_justify="left", caption=caption, caption_justify="left")
    table.add_column("", style="bold")
    table.add_column("unadapted", justify="right")
    table.add_column("adapted", justify="right")
    rows = [("perplexity", lambda e: e.scores.perplexity if e.scores.words else None, ".1f")]
    rows += [(f"top-{k} accuracy", lambda e, k=k: getattr(e.scores, f"top{k}") if e.scores.words else None,
              ".1%") for k in (1, 3, 5)]  # fmt: skip
    rows.append((f"keystroke savings (K={plain_eval.ksr.k})", lambda e: e.ksr.rate, ".1%"))
    for label, figure, spec in rows:
        table.add_row(label, _fmt(figure(plain_eval), spec), _fmt(figure(adapted_eval), spec))
    return table
