"""Word counts for adaptation: the n-grams (orders 1-3) of text the user wrote, over word strings.

Words are the tokenizer's (`autocomplete.text`), so the counts mean the same words as the model; each word
also keeps a display form, its case as typed, so a name the vocabulary lacks is offered as written. A
`Lexicon` numbers the words of the recency cache and the memory alike (local ids), and maps each to its id
in one vocabulary (or -1): the two sources add into one array over local ids, which maps onto the model's
(V,) row with one fancy index.

`Counts` holds a bulk part in sorted arrays (built at once from a stream with numpy: loading a 100k-word
memory takes milliseconds, not a Python loop) plus increments in dicts (one token at a time: the cache's
pushes and evictions, the lines learned in this session).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence

import numpy as np

from autocomplete import secrets
from autocomplete.text import _TOKEN, BOUNDARY, _unfolded, tokenize_line
from autocomplete.vocab import Vocabulary

BASE = 1 << 21  # local ids stay below 2M, so a trigram's code (three ids) fits in an int64
MAX_ORDER = 3


def learnable(text: str) -> list[tuple[str, str]]:
    """The (token, display form) pairs of `text` that may be learned, in order: secrets removed (a BOUNDARY
    stands where one was, so no n-gram spans it), runs of boundaries collapsed, no leading boundary."""
    out: list[tuple[str, str]] = []
    for line in text.splitlines():
        for piece in secrets.safe_pieces(line):
            if out and out[-1][0] != BOUNDARY:
                out.append((BOUNDARY, BOUNDARY))
            for pair in _with_case(piece):
                if not (pair[0] == BOUNDARY and (not out or out[-1][0] == BOUNDARY)):
                    out.append(pair)
    return out


def _with_case(piece: str) -> list[tuple[str, str]]:
    """tokenize_line(piece), each token with its form as typed (the token itself where lower-casing changed
    how the text splits, as for a few special characters)."""
    tokens = tokenize_line(piece)
    surfaces = [m.group("word") or BOUNDARY for m in _TOKEN.finditer(_unfolded(piece))]
    if len(surfaces) != len(tokens) or any(s.lower() != t for s, t in zip(surfaces, tokens, strict=True)):
        surfaces = tokens
    return list(zip(tokens, surfaces, strict=True))


class Lexicon:
    """Word strings <-> local ids; each word's display form and its id in `vocab` (-1 if it has none)."""

    def __init__(self, vocab: Vocabulary):
        self.vocab = vocab
        self.ids: dict[str, int] = {}
        self.words: list[str] = []
        self.display: list[str] = []
        self._typed_mid_sentence: list[bool] = []
        self._vocab_ids = np.empty(0, np.int64)
        self._oov: list[str] = []  # words the vocabulary lacks, sorted, for prefix look-ups
        self._oov_ids: list[int] = []
        self._index: tuple[int, np.ndarray, np.ndarray, np.ndarray] | None = None

    def __len__(self) -> int:
        return len(self.words)

    def get(self, word: str) -> int:
        return self.ids.get(word, -1)

    def intern(self, word: str, surface: str | None = None, mid_sentence: bool = True) -> int:
        """The word's local id, new if need be; a form typed mid-sentence wins over one at a sentence start
        (where everything is capitalised)."""
        lid = self.ids.get(word)
        if lid is None:
            lid = len(self.words)
            if lid >= BASE:
                raise OverflowError("a lexicon holds fewer than 2M words")
            self.ids[word] = lid
            self.words.append(word)
            self.display.append(surface or word)
            self._typed_mid_sentence.append(mid_sentence)
            vocab_id = self.vocab.index.get(word, -1) if self.vocab.knows(word) or word == BOUNDARY else -1
            if lid >= len(self._vocab_ids):
                self._vocab_ids = np.resize(self._vocab_ids, max(64, 2 * lid))
            self._vocab_ids[lid] = vocab_id
            if vocab_id < 0:
                at = bisect.bisect_left(self._oov, word)
                self._oov.insert(at, word)
                self._oov_ids.insert(at, lid)
        elif surface and (mid_sentence or not self._typed_mid_sentence[lid]):
            self.display[lid] = surface
            self._typed_mid_sentence[lid] = mid_sentence
        return lid

    def intern_all(self, words: Sequence[str], display: Sequence[str]) -> np.ndarray:
        """Local ids of many words at once (a memory's table), (len(words),) int64: one sort, not one
        insertion per word."""
        lids = np.empty(len(words), np.int64)
        new = []
        for j, (word, surface) in enumerate(zip(words, display, strict=True)):
            lid = self.ids.get(word)
            if lid is None:
                lid = self.ids[word] = len(self.words)
                self.words.append(word)
                self.display.append(surface)
                self._typed_mid_sentence.append(False)
                new.append(word)
            lids[j] = lid
        if len(self.words) >= BASE:
            raise OverflowError("a lexicon holds fewer than 2M words")
        knows, index = self.vocab.knows, self.vocab.index
        vocab_ids = [index[w] if knows(w) or w == BOUNDARY else -1 for w in new]
        self._vocab_ids = np.concatenate([self._vocab_ids[: len(self.words) - len(new)], vocab_ids]).astype(
            np.int64
        )
        added = [(w, self.ids[w]) for w, v in zip(new, vocab_ids, strict=True) if v < 0]
        oov = sorted([*zip(self._oov, self._oov_ids, strict=True), *added])
        self._oov, self._oov_ids = [w for w, _ in oov], [i for _, i in oov]
        return lids

    def intern_pairs(self, pairs: Iterable[tuple[str, str]]) -> list[int]:
        """Local ids of (token, display form) pairs, as `learnable` gives them."""
        lids, previous = [], BOUNDARY
        for token, surface in pairs:
            lids.append(self.intern(token, surface, previous != BOUNDARY))
            previous = token
        return lids

    def index(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(local ids of words in the vocabulary, their vocabulary ids, local ids of the others)."""
        if self._index is None or self._index[0] != len(self.words):
            vocab_ids = self._vocab_ids[: len(self.words)]
            known = np.flatnonzero(vocab_ids >= 0)
            self._index = (len(self.words), known, vocab_ids[known], np.flatnonzero(vocab_ids < 0))
        return self._index[1:]

    def oov_with_prefix(self, prefix: str) -> np.ndarray:
        """Local ids of the words the vocabulary lacks that start with `prefix`."""
        lo = bisect.bisect_left(self._oov, prefix)
        hi = bisect.bisect_left(self._oov, prefix + "\U0010ffff", lo)
        return np.array(self._oov_ids[lo:hi], dtype=np.int64)


def context_code(lids: Sequence[int]) -> int:
    """One int64 for a context of 1 or 2 local ids."""
    code = 0
    for lid in lids:
        code = code * BASE + lid
    return code


class Counts:
    """Counts of unigrams, and of followers of 1- and 2-word contexts, over a Lexicon's local ids."""

    def __init__(self, lexicon: Lexicon):
        self.lexicon = lexicon
        self.unigram = np.zeros(64)  # (capacity,) count of each local id, grown as ids appear
        self.total = 0.0  # tokens counted
        # Per context length m = 1, 2: a bulk part (keys, starts, followers, counts, totals), sorted by key,
        # and increments {context code: {follower: count}} with their totals.
        self._bulk: list[tuple[np.ndarray, ...] | None] = [None, None]
        self._more: list[dict[int, dict[int, float]]] = [{}, {}]
        self._more_totals: list[dict[int, float]] = [{}, {}]
        self._tail: list[int] = []  # the stream's last ids, for extend()

    @classmethod
    def from_stream(cls, lexicon: Lexicon, lids: np.ndarray) -> Counts:
        """The counts of a token stream of local ids, (T,), built with numpy."""
        counts = cls(lexicon)
        lids = np.asarray(lids, dtype=np.int64)
        counts.unigram = np.bincount(lids, minlength=max(64, len(lexicon))).astype(np.float64)
        counts.total = float(len(lids))
        for m in (1, 2):
            if len(lids) <= m:
                continue
            windows = np.lib.stride_tricks.sliding_window_view(lids, m + 1)
            codes = np.zeros(len(windows), np.int64)
            for j in range(m + 1):
                codes = codes * BASE + windows[:, j]
            codes, n = np.unique(codes, return_counts=True)
            keys, starts = np.unique(codes // BASE, return_index=True)
            totals = np.add.reduceat(n, starts).astype(np.float64)
            counts._bulk[m - 1] = (keys, np.append(starts, len(codes)), codes % BASE, n.astype(np.float64),
                                   totals)  # fmt: skip
        counts._tail = [int(i) for i in lids[-MAX_ORDER + 1 :]]
        return counts

    def extend(self, lids: Iterable[int]) -> None:
        """Count more tokens, continuing the stream counted so far."""
        for lid in lids:
            self.bump((*self._tail, lid), 1.0)
            self._tail = [*self._tail, lid][-MAX_ORDER + 1 :]

    def bump(self, gram: Sequence[int], delta: float) -> None:
        """Add `delta` to the unigram of gram[-1] and the n-grams ending in it (gram: 1-3 local ids)."""
        *context, word = gram
        self._add_unigram(word, delta)
        for m in range(1, len(context) + 1):
            self._add_follower(m, context_code(context[-m:]), word, delta)

    def bump_from(self, gram: Sequence[int], delta: float) -> None:
        """Add `delta` to the unigram of gram[0] and the n-grams starting with it (a cache's eviction)."""
        self._add_unigram(gram[0], delta)
        for m in range(1, len(gram)):
            self._add_follower(m, context_code(gram[:m]), gram[m], delta)

    def _add_unigram(self, lid: int, delta: float) -> None:
        if lid >= len(self.unigram):
            self.unigram = np.concatenate([self.unigram, np.zeros(max(lid + 1, 2 * len(self.unigram)))])
        self.unigram[lid] += delta
        self.total += delta

    def _add_follower(self, m: int, code: int, lid: int, delta: float) -> None:
        followers = self._more[m - 1].setdefault(code, {})
        count = followers.get(lid, 0.0) + delta
        if count:
            followers[lid] = count
        else:
            del followers[lid]
        total = self._more_totals[m - 1].get(code, 0.0) + delta
        if followers:
            self._more_totals[m - 1][code] = total
        else:
            del self._more[m - 1][code], self._more_totals[m - 1][code]

    def _bulk_row(self, m: int, code: int) -> int:
        bulk = self._bulk[m - 1]
        if bulk is None:
            return -1
        row = int(np.searchsorted(bulk[0], code))
        return row if row < len(bulk[0]) and bulk[0][row] == code else -1

    def unigram_count(self, lid: int) -> float:
        return float(self.unigram[lid]) if 0 <= lid < len(self.unigram) else 0.0

    def context_total(self, m: int, code: int) -> float:
        """How many times the m-word context `code` was followed by something."""
        row = self._bulk_row(m, code)
        bulk = self._bulk[m - 1][4][row] if row >= 0 else 0.0
        return float(bulk) + self._more_totals[m - 1].get(code, 0.0)

    def count(self, m: int, code: int, lid: int) -> float:
        """How many times `lid` followed the m-word context `code`."""
        n = self._more[m - 1].get(code, {}).get(lid, 0.0)
        row = self._bulk_row(m, code)
        if row >= 0:
            _, starts, followers, counts, _ = self._bulk[m - 1]
            lo, hi = starts[row], starts[row + 1]
            at = lo + int(np.searchsorted(followers[lo:hi], lid))
            if at < hi and followers[at] == lid:
                n += counts[at]
        return float(n)

    def followers(self, m: int, code: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """The followers of a context as parts of (local ids, counts), each part's ids distinct."""
        parts = []
        row = self._bulk_row(m, code)
        if row >= 0:
            _, starts, followers, counts, _ = self._bulk[m - 1]
            parts.append((followers[starts[row] : starts[row + 1]], counts[starts[row] : starts[row + 1]]))
        more = self._more[m - 1].get(code)
        if more:
            parts.append((np.fromiter(more.keys(), np.int64, len(more)),
                          np.fromiter(more.values(), np.float64, len(more))))  # fmt: skip
        return parts

    def words(self) -> int:
        """Tokens counted, sentence boundaries left out."""
        b = self.lexicon.get(BOUNDARY)
        return int(self.total - (self.unigram[b] if 0 <= b < len(self.unigram) else 0))
