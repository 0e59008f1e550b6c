"""Training's progress on the terminal: rich progress bars of the bytes read per pass and of each epoch's
batches, and a line per epoch. Apart from render.py so that `predict` and the REPL do not import
rich.progress."""

from __future__ import annotations

import time

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.text import Text

from autocomplete.render import plain


class RichReporter:
    """Training progress as a rich progress bar: epoch, batch, loss, validation perplexity and time left."""

    def __init__(self, console: Console, progress: Progress | None = None, get_time=None):
        self.console, self.get_time = console, get_time  # get_time: the reading bars' clock (tests)
        self.progress = progress or Progress(
            TextColumn("[bold]epoch {task.fields[epoch]}/{task.fields[epochs]}"),
            BarColumn(),
            MofNCompleteColumn(),
            TaskProgressColumn(),
            TextColumn("loss {task.fields[loss]} · val. perplexity {task.fields[val]}"),
            TimeRemainingColumn(),
            console=console,
            transient=True,  # the per-epoch lines stay; the bar goes when training ends
        )
        self.task = None
        self.epochs = self.words = 0
        self.epoch_began = 0.0
        self.bytes: Progress | None = None  # the bar of the pass reading the corpus, while one runs

    def phase(self, text: str) -> None:
        self.close()  # a phase after the epochs means training is over
        self.console.print(Text.assemble(("…", "dim"), " ", plain(text)))

    def reading(self, step: str, done: int, total: int) -> None:
        """A bar of the bytes of the corpus read, with the rate, per pass (`step`: the core names it)."""
        if self.bytes is None or self.bytes.tasks[0].description != step:
            self._close_reading()
            self.bytes = Progress(
                TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                TimeRemainingColumn(), console=self.console, transient=True, get_time=self.get_time,
            )  # fmt: skip
            self.bytes.add_task(step, total=total, completed=done)
            self.bytes.start()
        self.bytes.update(self.bytes.tasks[0].id, completed=done, total=total)

    def start(self, epochs: int, steps: int, words: int) -> None:
        self.epochs, self.words, self.epoch_began = epochs, words, self._now()
        self.progress.start()
        self.task = self.progress.add_task("train", total=steps, epoch=1, epochs=epochs, loss="—", val="—")

    def batch(self, epoch: int, step: int, loss: float) -> None:
        self.progress.update(self.task, completed=step, epoch=epoch, loss=f"{loss:.3f}")

    def epoch(self, epoch: int, loss: float, val_perplexity: float | None, improved: bool) -> None:
        val = "—" if val_perplexity is None else f"{val_perplexity:.1f}"
        mark = "[green]✓ best[/green]" if improved else "[dim]no better[/dim]"
        now, began = self._now(), self.epoch_began
        rate = f"  {self.words / (now - began):,.0f} words/s" if now > began else ""
        self.epoch_began = now
        self.progress.console.print(
            f"epoch {epoch:>2}/{self.epochs}  loss {loss:.3f}  val. perplexity {val}{rate}  {mark}"
        )
        # reset() restarts the bar's clock for the next epoch's ETA; it replaces all the fields.
        self.progress.reset(
            self.task, epoch=min(epoch + 1, self.epochs), epochs=self.epochs, val=val, loss="—"
        )

    def _now(self) -> float:
        return (self.get_time or time.monotonic)()

    def close(self) -> None:
        self._close_reading()
        if self.task is not None:
            self.progress.stop()
            self.task = None

    def _close_reading(self) -> None:
        if self.bytes is not None:
            self.bytes.stop()
            self.bytes = None
