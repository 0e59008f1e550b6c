"""Training as the front ends run it (`autocomplete train`, `autocomplete repl --train-default`): the
bundled corpus when no file is given, a rich progress bar on the caller's console, and what to tell the
user when they interrupted it. TensorFlow is imported only inside `train_with_progress`.
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.text import Text

from autocomplete.config import TrainConfig


def train_with_progress(
    files: list[Path] | None,
    config: TrainConfig,
    console: Console,
    name: str | None = None,
    force: bool = False,
):
    """Train `files` (none: the bundled corpus, announced) with a progress bar; the TrainResult."""
    from autocomplete import bundled, render
    from autocomplete.train import train

    if not files:
        files = [bundled.default_corpus()]
        console.print(Text.assemble("Training on the bundled corpus ", (files[0].name, "bold")))
    reporter = render.RichReporter(console)
    try:
        return train(files, config, name=name, force=force, reporter=reporter)
    finally:
        reporter.close()


def interrupted_message(result) -> str:
    """What an interrupted training (result.interrupted) kept, in one line."""
    step = {"refit": "the refit (skipped)"}.get(result.interrupted_during, result.interrupted_during)
    if not result.saved:
        only = "in a cluster only the chief saves"
        return f"training was interrupted during {step}: this process saved nothing ({only})"
    epochs = f"{result.epochs_run} epoch{'s' * (result.epochs_run != 1)}"
    return (
        f"training was interrupted during {step}: the best of {epochs} (epoch {result.best_epoch}) "
        f"was saved as {result.name}"
    )
