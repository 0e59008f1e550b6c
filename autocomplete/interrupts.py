"""Ctrl-C and SIGTERM while training: what they stop, and when.

Until the first epoch has finished a signal raises KeyboardInterrupt at once, as Python's own Ctrl-C
handler does: there is nothing to keep, so training stops and leaves nothing behind. From then on
(`Signals.keep_best`) a signal is only recorded, with the phase it arrived in: Keras' loop stops at its
next batch (`Signals.check`, called by the training callback), and every step after it still runs, so the
best model so far is saved whole. No Keras here.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

STOPPING = (signal.SIGINT, signal.SIGTERM)


class Signals:
    """What the handler saw: whether a signal came, and in which phase; whether it raises."""

    def __init__(self) -> None:
        self.received = threading.Event()
        self.phase: str | None = None  # set by the training as it goes
        self.received_during: str | None = None  # the phase of the first signal
        self.raising = True

    def handle(self, signum, frame) -> None:
        if not self.received.is_set():
            self.received_during = self.phase
        self.received.set()
        if self.raising:
            raise KeyboardInterrupt

    def keep_best(self) -> None:
        """There is a model worth saving: from now on a signal is recorded, never raised in the middle."""
        self.raising = False

    def check(self) -> None:
        """Raise KeyboardInterrupt if a signal came: for Keras' loop, at a batch's end. It also catches a
        KeyboardInterrupt swallowed on the way (a library caught mid-step) while signals still raise."""
        if self.received.is_set():
            raise KeyboardInterrupt

    @property
    def interrupted(self) -> bool:
        return self.received.is_set()


@contextlib.contextmanager
def signals_as_interrupt() -> Iterator[Signals]:
    """Ctrl-C and SIGTERM handled as above for the duration (in the main thread; elsewhere left alone)."""
    signals = Signals()
    try:
        previous = {signum: signal.signal(signum, signals.handle) for signum in STOPPING}
    except ValueError:  # not the main thread: leave signals alone
        yield signals
        return
    try:
        yield signals
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


@contextlib.contextmanager
def signals_held() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM until the block is over (TensorFlow's import): an interrupt inside the
    seconds-long import can leave it half-imported (a traceback later) instead of stopping cleanly. A held
    signal is delivered when the block ends. Threads started meanwhile keep it blocked, so it always reaches
    the main thread."""
    if not hasattr(signal, "pthread_sigmask") or threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, set(STOPPING))
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
