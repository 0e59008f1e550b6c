"""What the REPL's parts share: the model in use, K, the switches, and one cache of suggest() answers.

The completer (Tab menu), the ghost text and the live panel all ask the same question for the same text,
each from its own thread; `Answers` makes that one computation. `:model` and `:top` replace `answers` as a
whole (the app rebuilds its completer and auto-suggest on the new one): a thread that started on the old
model finishes on the old model, so nothing mixes two models' answers. Nothing here imports from `repl/`.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field

from autocomplete.suggest import NextWordModel, Suggestions, suggest


class Answers:
    """suggest(text, model, k) for one (model, k), remembered for the last `size` texts; thread-safe."""

    def __init__(self, model: NextWordModel, k: int, size: int = 256):
        self.model, self.k, self.size = model, k, size
        self._cache: OrderedDict[str, Suggestions] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, text: str) -> Suggestions:
        with self._lock:
            answer = self._cache.get(text)
            if answer is not None:
                self._cache.move_to_end(text)
                return answer
        answer = suggest(text, self.model, self.k)  # outside the lock: two threads may both compute it, once
        with self._lock:
            self._cache[text] = answer
            if len(self._cache) > self.size:
                self._cache.popitem(last=False)
        return answer


@dataclass
class ReplState:
    """The session's mutable settings; the UI thread changes them, worker threads only read them."""

    model_name: str
    model: NextWordModel
    top_k: int = 5
    complete_while_typing: bool = False
    vi: bool = False
    answers: Answers = field(init=False)

    def __post_init__(self) -> None:
        self._renew()

    def switch_model(self, name: str, model: NextWordModel) -> None:
        self.model_name, self.model = name, model
        self._renew()

    def set_top_k(self, k: int) -> None:
        self.top_k = k
        self._renew()

    def _renew(self) -> None:
        self.answers = Answers(self.model, self.top_k)
