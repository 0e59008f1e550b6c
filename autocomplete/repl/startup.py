"""Which model the REPL opens: the named one, else the most recent; with none trained yet, say how to train
one, or train the bundled corpus first (with --train-default, or when the user says yes).

TensorFlow is imported only on that training path, never to open an existing model.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from rich.console import Console
from rich.text import Text

from autocomplete import gcpause, store
from autocomplete.errors import Interrupted, StoreError

NO_MODEL = (
    "no trained model yet: run `autocomplete train FILE`, or `autocomplete repl --train-default` "
    "to train the bundled corpus (under a minute) and start"
)


def ask_to_train(console: Console) -> bool:
    """A y/N question, asked only when a person can answer it."""
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        return False
    from rich.prompt import Confirm

    console.print("No trained model yet.")
    try:
        return Confirm.ask(
            "Train one on the bundled corpus now (under a minute)?", default=False, console=console
        )
    except EOFError:
        return False


def train_bundled(console: Console) -> str:
    """Train the bundled corpus with a progress bar; the new model's name. Interrupted if the user stopped
    it: the REPL must not open on a model cut short without their say."""
    from autocomplete.config import TrainConfig
    from autocomplete.training_ui import interrupted_message, train_with_progress

    gcpause.resume()  # training is no start-up: Keras makes cycles for the collector to free
    result = train_with_progress(None, TrainConfig(), console)
    if result.interrupted:
        raise Interrupted(
            f"{interrupted_message(result)}; the REPL was not opened on it: `autocomplete train --force` "
            "trains it again, `autocomplete repl` opens it as it is"
        )
    console.print(Text.assemble("Trained ", (result.name, "bold"), f" in {result.seconds:.0f} s."))
    return result.name


def open_model(
    name: str | None,
    train_default: bool,
    console: Console,
    ask: Callable[[Console], bool] = ask_to_train,
):
    """(ModelInfo, Predictor) for the REPL; StoreError with what to do when there is nothing to open."""
    try:
        return store.load(name)
    except StoreError:
        if name is not None or store.list_models():
            raise  # a wrong name or a broken model: training the bundled corpus would not be the answer
    if not (train_default or ask(console)):
        raise StoreError(NO_MODEL)
    return store.load(train_bundled(console))
