"""Training as the front ends run it (`autocomplete train`, `autocomplete repl --train-default`): the
bundled corpus when no file is given, directories and globs expanded to their text files (with what was
skipped shown; `learn` expands its files the same way), a rich progress bar on the caller's console, and
what to tell the user when they interrupted it. TensorFlow is imported only inside `train_with_progress`.
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
    from autocomplete import bundled, progress
    from autocomplete.train import train

    if not files:
        files = [bundled.default_corpus()]
        console.print(Text.assemble("Training on the bundled corpus ", (files[0].name, "bold")))
    else:
        files, name = _expanded(files, console, name)
    reporter = progress.RichReporter(console)
    try:
        return train(files, config, name=name, force=force, reporter=reporter)
    finally:
        reporter.close()


def _expanded(given: list[Path], console: Console, name: str | None) -> tuple[list[Path], str | None]:
    """The files to read (expanded) and the model's name: the given one, else the first folder's or file's."""
    from autocomplete import store

    files = expanded(given, console)
    if name is None and Path(given[0]).is_dir():
        name = store.name_from_path(Path(given[0]).resolve())
    return files, name


def expanded(given: list[Path], console: Console) -> list[Path]:
    """The files to read (sources.expand: folders and globs too), with the count of what was skipped shown
    when a folder or a pattern was given; `train` and `learn` read their files through this."""
    from autocomplete import sources

    files, skipped = sources.expand(given)
    if files != [Path(g) for g in given] or skipped:
        counted = f"{len(files):,} file{'s' * (len(files) != 1)} to read, {sources.describe(skipped)}"
        console.print(Text.assemble(("…", "dim"), " ", counted))
    return files


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
