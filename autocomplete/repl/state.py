"""What the REPL's parts share: the model in use, K, the switches, and one cache of suggestion answers.

The completer (Tab menu), the ghost text and the live panel all ask the same question for the same text,
each from its own thread; `Answers` makes that one computation, adapted when the session adapts (the
recency cache holds the session's accepted lines and the line being typed; the model's personal memory is
mixed in) and the model alone with `--no-adapt`. `:model`, `:top` and every accepted line replace
`answers` as a whole (the app rebuilds its completer and auto-suggest on the new one): a thread that
started on the old one finishes on it, so nothing mixes two models' answers. Accepted lines are learned
into the memory by a `Learner` thread unless learning is off. Nothing here imports from `repl/`.
"""

from __future__ import annotations

import queue
import threading
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field

from autocomplete import adapted, memory
from autocomplete.adapt import Adaptation
from autocomplete.suggest import NextWordModel, Suggestions

SESSION_LINES = 1000  # accepted lines kept to refill a new model's cache after `:model`


class Answers:
    """The answer for a text for one (model, k, adaptation state), remembered for the last `size` texts;
    thread-safe."""

    def __init__(self, model: NextWordModel, k: int, adaptation: Adaptation | None = None, size: int = 256):
        self.model, self.k, self.adaptation, self.size = model, k, adaptation, size
        self._cache: OrderedDict[str, Suggestions] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, text: str) -> Suggestions:
        with self._lock:
            answer = self._cache.get(text)
            if answer is not None:
                self._cache.move_to_end(text)
                return answer
        # Outside the lock: two threads may both compute it, once.
        answer = adapted.answer(text, self.model, self.adaptation, self.k)
        with self._lock:
            self._cache[text] = answer
            if len(self._cache) > self.size:
                self._cache.popitem(last=False)
        return answer


class Learner:
    """Writes learned lines into the memory on its own thread, in order: a slow disk, or the memory's lock
    held by another process, never delays a keystroke or the next prompt."""

    def __init__(self, write: Callable[[str, str], object] = memory.learn_line):
        self._write = write
        self._queue: queue.Queue[tuple[str, str] | None] = queue.Queue()
        self._problems: list[str] = []
        self._told: set[str] = set()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None  # started by the first line, not before the prompt

    def learn(self, model_name: str, line: str) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="autocomplete-learn", daemon=True)
            self._thread.start()
        self._queue.put((model_name, line))

    def problems(self) -> list[str]:
        """What went wrong since the last call, each message once per session."""
        with self._lock:
            problems, self._problems = self._problems, []
        return problems

    def close(self, timeout: float = 10.0) -> list[str]:
        """Wait for the lines still queued; the problems not yet told."""
        if self._thread is None:
            return self.problems()
        self._queue.put(None)
        self._thread.join(timeout)
        late = [f"the last lines may not be learned: the memory was not written within {timeout:.0f} s"]
        return self.problems() + (late if self._thread.is_alive() else [])

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            try:
                self._write(*item)
            except Exception as error:  # noqa: BLE001 - told to the user; the next lines are still tried
                with self._lock:
                    if str(error) not in self._told:
                        self._told.add(str(error))
                        self._problems.append(f"not learning: {error}")


def learning_off(no_learn: bool) -> str:
    """Why this session learns nothing (`--no-learn`, or AUTOCOMPLETE_NO_LEARN set); "" when it may."""
    if no_learn:
        return "--no-learn"
    return f"{adapted.NO_LEARN_ENV} is set" if adapted.learning_refused() else ""


@dataclass
class ReplState:
    """The session's mutable settings; the UI thread changes them, worker threads only read them."""

    model_name: str
    model: NextWordModel
    top_k: int = 5
    complete_while_typing: bool = False
    vi: bool = False
    adaptation: Adaptation | None = None  # the cache and the memory; None: the model alone (--no-adapt)
    learning_off: str = ""  # why nothing is learned this session, for good; "" when learning may happen
    learner: Learner | None = None  # writes learned lines to the memory's file; None: no file is written
    incognito: bool = False  # `:incognito`: nothing learned nor kept in the history file until toggled
    answers: Answers = field(init=False)
    _lines: deque[str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._lines = deque(maxlen=SESSION_LINES)
        self._renew()

    @property
    def learning(self) -> bool:
        """Whether an accepted line is learned (and kept in the history file) now."""
        return not (self.learning_off or self.incognito)

    def switch_model(self, name: str, model: NextWordModel, adaptation: Adaptation | None = None) -> None:
        """Use another model; `adaptation` is its own (its memory), refilled with this session's lines."""
        if adaptation is not None:
            for line in self._lines:
                adaptation.accept(line, learn=False)
        self.model_name, self.model, self.adaptation = name, model, adaptation
        self._renew()

    def set_top_k(self, k: int) -> None:
        self.top_k = k
        self._renew()

    def accept(self, line: str) -> list[str]:
        """A line of text the user accepted: into the cache (also while incognito: it is never written)
        and, while learning, into the memory. Returns the learner's problems to tell the user."""
        self._lines.append(line)
        if self.adaptation is not None:
            self.adaptation.accept(line, learn=self.learning)
            self._renew()
        if self.learning and self.learner is not None:
            self.learner.learn(self.model_name, line)
        return self.learner.problems() if self.learner is not None else []

    def close(self) -> list[str]:
        """At the end of the session: wait for the lines still being learned; the problems not yet told."""
        return self.learner.close() if self.learner is not None else []

    def _renew(self) -> None:
        self.answers = Answers(self.model, self.top_k, self.adaptation)
