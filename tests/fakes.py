"""A tiny dict-backed next-word model for the REPL's tests: no weights, answers known in advance.

`FakeModel(table)` maps the last context word to {next word: weight}; any other context gets `default`.
The vocabulary holds every word named anywhere in the table. `delay` makes each call slow (to show typing
never waits for the model); `calls` counts them.
"""

from __future__ import annotations

import threading
import time

import numpy as np

from autocomplete.text import BOUNDARY, MARKERS
from autocomplete.vocab import FIRST_WORD_ID, Vocabulary

TABLE = {
    BOUNDARY: {"the": 5, "my": 3, "to": 2},
    "the": {"cat": 6, "dog": 3, "cow": 2, "castle": 1},
    "my": {"lord": 6, "love": 3, "lady": 1},
    "lord": {"is": 5, "and": 3},
    "cat": {"sat": 6, "ran": 2},
    "to": {"be": 7, "the": 2},
}
DEFAULT = {"the": 3, "and": 2, "a": 1}


class FakeModel:
    context_size = 2

    def __init__(self, table=TABLE, default=DEFAULT, extra_words=(), delay: float = 0.0):
        words = dict.fromkeys(w for ctx, nxt in table.items() for w in (ctx, *nxt) if w != BOUNDARY)
        words.update(dict.fromkeys(default))
        words.update(dict.fromkeys(extra_words))
        self.vocab = Vocabulary(MARKERS + tuple(words))
        self.table, self.default, self.delay = table, default, delay
        self.calls = 0
        self._lock = threading.Lock()

    def next_word_probs(self, context_ids) -> np.ndarray:
        with self._lock:
            self.calls += 1
        if self.delay:
            time.sleep(self.delay)
        last = self.vocab.words[int(context_ids[-1])] if len(context_ids) else BOUNDARY
        weights = self.table.get(last, self.default)
        probs = np.full(len(self.vocab), 1e-4, dtype=np.float32)  # every word possible, a little
        for word, weight in weights.items():
            probs[self.vocab.id(word)] = weight
        probs[:FIRST_WORD_ID] = 0.0  # the markers
        return probs / probs.sum()

    def probability(self, context_word: str, word: str) -> float:
        return float(self.next_word_probs([self.vocab.id(context_word)])[self.vocab.id(word)])
