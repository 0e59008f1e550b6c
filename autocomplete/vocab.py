"""The vocabulary: words by frequency, with the padding, unknown and boundary markers first."""

from __future__ import annotations

import bisect
import functools
import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from autocomplete.errors import CorpusError, UsageError
from autocomplete.text import BOUNDARY, MARKERS, UNKNOWN

# The markers' ids, the one place they are defined; real words start at FIRST_WORD_ID.
PAD_ID, UNKNOWN_ID, BOUNDARY_ID = 0, 1, 2
FIRST_WORD_ID = len(MARKERS)


@dataclass(frozen=True)
class Vocabulary:
    """index -> word (`words`) and word -> index; ids 0, 1, 2 are the markers (padding, unknown, boundary)."""

    words: tuple[str, ...]
    index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.words[: len(MARKERS)] != MARKERS:
            raise ValueError(f"a vocabulary starts with the markers {MARKERS!r}")
        object.__setattr__(self, "index", {w: i for i, w in enumerate(self.words)})
        if len(self.index) != len(self.words):
            raise ValueError("a vocabulary lists each word once")

    @functools.cached_property
    def _sorted(self) -> tuple[list[str], np.ndarray]:
        """The real words in string order and their ids: built at the first completion, not at every load
        (a cold `predict` of the next word never needs it)."""
        ids = sorted(range(FIRST_WORD_ID, len(self.words)), key=self.words.__getitem__)
        return [self.words[i] for i in ids], np.array(ids, dtype=np.int64)

    @classmethod
    def build(cls, counts: Counter[str], max_words: int = 20000, min_count: int = 1) -> Vocabulary:
        """The `max_words` most frequent words seen at least `min_count` times (ties broken
        alphabetically)."""
        ranked = sorted(
            ((w, c) for w, c in counts.items() if c >= min_count and w not in MARKERS),
            key=lambda wc: (-wc[1], wc[0]),
        )
        return cls(MARKERS + tuple(w for w, _ in ranked[:max_words]))

    def __len__(self) -> int:
        return len(self.words)

    def id(self, word: str) -> int:
        return self.index.get(word, UNKNOWN_ID)

    def encode(self, tokens: Iterable[str]) -> np.ndarray:
        """Token ids, shape (len(tokens),), int32; unknown words become UNKNOWN_ID."""
        get = self.index.get
        return np.fromiter((get(t, UNKNOWN_ID) for t in tokens), dtype=np.int32)

    def knows(self, word: str) -> bool:
        return word in self.index and word not in (UNKNOWN, "")

    def ids_with_prefix(self, prefix: str) -> np.ndarray:
        """Ids of the real words (never a marker) that start with `prefix`."""
        words, ids = self._sorted
        lo = bisect.bisect_left(words, prefix)
        hi = bisect.bisect_left(words, prefix + "\U0010ffff", lo)
        return ids[lo:hi]

    def to_json(self) -> dict:
        return {
            "format": 1,
            "markers": {"padding": PAD_ID, "unknown": UNKNOWN_ID, "boundary": BOUNDARY_ID},
            "index_word": {str(i): w for i, w in enumerate(self.words)},
            "word_index": self.index,
        }

    @classmethod
    def from_json(cls, data: dict) -> Vocabulary:
        index_word = data["index_word"]
        words = tuple(map(index_word.__getitem__, map(str, range(len(index_word)))))
        vocab = cls(words)
        if data.get("word_index", vocab.index) != vocab.index:
            raise ValueError("word_index disagrees with index_word")
        return vocab

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_json(), ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> Vocabulary:
        return cls.from_json(json.loads(path.read_text(encoding="utf-8")))


def check_learnable(counts: Counter[str], min_count: int, names: str) -> None:
    """Refuse, before any training, a vocabulary with nothing to learn: no word reaches `min_count`, or no
    word occurs twice (a model learns what follows a word from the times it recurs)."""
    top, most = max(((c, w) for w, c in counts.items() if w not in MARKERS), default=(0, ""))
    if top < min_count:
        raise UsageError(
            f"no word of {names} occurs {min_count:,} times (the most frequent, {most!r}, occurs {top:,}): "
            "lower --min-count"
        )
    if top < 2:
        raise CorpusError(
            f"every word of {names} occurs once: a model learns from words that recur; give a longer text "
            "(a few hundred words at least)"
        )


assert BOUNDARY == MARKERS[BOUNDARY_ID] and UNKNOWN == MARKERS[UNKNOWN_ID]
assert max(PAD_ID, UNKNOWN_ID, BOUNDARY_ID) < FIRST_WORD_ID
