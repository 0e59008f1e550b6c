"""Held-out evaluation: how good the suggestions on a text are, and how fast they come.

`evaluate(path, model, k)` reads the file exactly as training does (corpus.check_file, read_tokens; the
token stream starts with a boundary) and reports:

- perplexity and top-1/3/5 accuracy over the sliding windows of the stream (metrics.score, as training's
  validation): targets are the words in the vocabulary; unknown words are counted and their share reported,
  sentence boundaries are not scored;
- the keystroke savings rate (KSR) of a simulated user at K suggestions (below);
- the words evaluated per second.

Keystroke savings, exactly. The user types the text's words in order; a word's characters are those of its
token (lower-cased letters, digits and inner apostrophes). Before each character of a word, the first one
included, the user sees `suggest(text typed so far, model, K)`, i.e. exactly what `predict` and the REPL
show: the next words when the word is not started, else the words that start with the typed characters,
ranked by the model. If the word is among those K suggestions, one keystroke accepts it together with its
trailing space, and the word is done; otherwise the user types the next character. A word never accepted
costs its characters plus one space. So a word of L characters accepted after typing j of them costs
j + 1 keystrokes, and without suggestions it costs L + 1:

    KSR = 1 - (keystrokes used) / (sum over words of L + 1)

Words the vocabulary lacks can never be suggested: they are typed letter by letter (L + 1), and they still
count in both sums. Punctuation, line breaks and sentence ends cost nothing in either sum; a sentence end is
part of the text typed so far (written " . "), so the next word's suggestions are those for a sentence start.

Fast and still exactly suggest(): only the last `context_size` tokens decide a suggestion, so the model's
distribution is fetched once per word (the Predictor caches it by context), and for each typed prefix the
word's place is read off the same float32 scores suggest() ranks (Vocabulary.ids_with_prefix, the same
renormalisation). Only when a tie at the K-th place leaves the answer to suggest()'s own partition is
suggest() called, on the last context tokens written as text (they tokenize back to the same context) plus
the typed characters. ~18k words take a few seconds; a test holds the result equal to calling suggest()
on the whole text typed so far before every keystroke.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from autocomplete import metrics
from autocomplete.corpus import CorpusFile, check_file, read_tokens
from autocomplete.dataset import windows
from autocomplete.errors import CorpusError
from autocomplete.suggest import suggest
from autocomplete.text import BOUNDARY, context_window
from autocomplete.vocab import FIRST_WORD_ID, Vocabulary


class EvaluatedModel(Protocol):
    """A next-word model as `suggest` needs it, plus batched probabilities for perplexity and top-k."""

    vocab: Vocabulary
    context_size: int

    def next_word_probs(self, context_ids) -> np.ndarray: ...
    def batch_probs(self, contexts: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class KeystrokeSavings:
    k: int  # suggestions the simulated user sees
    words: int  # words typed, known to the vocabulary or not
    keystrokes: int  # keystrokes used with suggestions
    baseline: int  # keystrokes without suggestions: characters + one space per word
    accepted: int  # words taken from a suggestion

    @property
    def rate(self) -> float:
        return 1.0 - self.keystrokes / self.baseline if self.baseline else 0.0

    def to_json(self) -> dict:
        return {
            "k": self.k, "rate": self.rate, "words": self.words, "keystrokes": self.keystrokes,
            "keystrokes_without_suggestions": self.baseline, "accepted": self.accepted,
        }  # fmt: skip


@dataclass(frozen=True)
class Evaluation:
    path: Path
    scores: metrics.NextWordScores
    ksr: KeystrokeSavings
    words: int  # words in the text (boundaries not counted)
    seconds: float
    sha256: str = ""  # of the file's bytes
    training_text: bool = False  # the file is one the model was trained on: the figures are not held-out

    @property
    def words_per_second(self) -> float:
        return self.words / self.seconds if self.seconds > 0 else float("inf")

    @property
    def note(self) -> str | None:
        """Why there is no perplexity or accuracy, when there is none."""
        if self.scores.words:
            return None
        if self.scores.unknown:
            return "no word of the file is in the vocabulary"
        return "too few words to score"

    def to_json(self) -> dict:
        """Valid JSON always (null where a figure does not exist, with the note saying why)."""
        scores = self.scores.to_json()
        scores.pop("note", None)
        speed = self.words_per_second
        return {
            "file": str(self.path), "words": self.words, "scored": scores.pop("words"), **scores,
            **({"note": self.note} if self.note else {}), "ksr": self.ksr.to_json(), "seconds": self.seconds,
            "words_per_second": speed if math.isfinite(speed) else None, "sha256": self.sha256,
            "training_text": self.training_text,
        }  # fmt: skip


def evaluate(path: Path, model: EvaluatedModel, k: int = 3, trained_on: Iterable[str] = ()) -> Evaluation:
    """Perplexity, top-1/3/5 accuracy and keystroke savings at `k` of `model` on the text file at `path`;
    `trained_on` holds the sha256s of the model's training files, to tell when the text is one of them."""
    started = time.perf_counter()
    corpus_file = check_file(Path(path))
    tokens = _tokens(corpus_file)
    words = sum(t != BOUNDARY for t in tokens)
    if not words:
        raise CorpusError(f"{path} has no words to evaluate on")
    ids = model.vocab.encode(tokens)
    contexts, targets = windows(ids, model.context_size)
    scores = metrics.score(model.batch_probs, contexts, targets)
    ksr = keystroke_savings(tokens, model, k)
    seconds, sha256 = time.perf_counter() - started, corpus_file.sha256
    return Evaluation(Path(path), scores, ksr, words, seconds, sha256, sha256 in set(trained_on))


def read_stream(path: Path) -> list[str]:
    """The file's tokens as training reads them: a boundary first, then words and boundaries."""
    return _tokens(check_file(path))


def _tokens(corpus_file: CorpusFile) -> list[str]:
    return list(itertools.chain([BOUNDARY], read_tokens([corpus_file])))


def keystroke_savings(tokens: Sequence[str], model, k: int = 3, start: int = 0) -> KeystrokeSavings:
    """Simulate typing the words of tokens[start:] after tokens[:start] (see the module docstring)."""
    n, vocab = model.context_size, model.vocab
    keystrokes = baseline = accepted = typed = 0
    for i in range(start, len(tokens)):
        word = tokens[i]
        if word == BOUNDARY:
            continue
        typed += 1
        cost = len(word) + 1
        baseline += cost
        if vocab.knows(word):
            window = tokens[max(0, i - n) : i]
            probs = model.next_word_probs([vocab.id(t) for t in context_window(list(window), n)])
            for j in range(len(word)):
                shown = _shown(probs, vocab, vocab.index[word], word[:j], k)
                if shown is None:  # a tie at the K-th place: only suggest() itself knows which word it keeps
                    answer = suggest(typed_text(window) + word[:j], model, k)
                    shown = any(s.word == word for s in answer.items)
                if shown:
                    cost, accepted = j + 1, accepted + 1
                    break
        keystrokes += cost
    return KeystrokeSavings(k, typed, keystrokes, baseline, accepted)


def typed_text(tokens: Sequence[str]) -> str:
    """Text that tokenizes back to `tokens` (a leading boundary aside), ending in a space: words separated by
    spaces, a boundary written as " . "."""
    return "".join(". " if t == BOUNDARY else t + " " for t in tokens)


def _shown(probs: np.ndarray, vocab: Vocabulary, word_id: int, prefix: str, k: int) -> bool | None:
    """Whether suggest() lists `word_id` among its k suggestions for `prefix`, decided from the same scores
    it ranks (same arithmetic); None when a tie at the k-th place leaves it to suggest()'s partition."""
    if prefix:
        candidates = vocab.ids_with_prefix(prefix)
        scores = probs[candidates]
        total = float(scores.sum())
        scores = scores / total if total > 0 else scores  # as suggest() does: the same float32 values
        mine = scores[np.flatnonzero(candidates == word_id)[0]]
        above, level = int((scores > mine).sum()), int((scores >= mine).sum())
        return False if above >= k else True if level <= k else None
    # No prefix: suggest() takes the k + 3 best of all ids, drops the markers, keeps k; ties ranked by id.
    mine, spare = probs[word_id], k + FIRST_WORD_ID
    if int((probs[FIRST_WORD_ID:] > mine).sum()) >= k or int((probs > mine).sum()) >= spare:
        return False
    if int((probs >= mine).sum()) > spare:
        return None
    ahead = int((probs[FIRST_WORD_ID:] > mine).sum()) + int((probs[FIRST_WORD_ID:word_id] == mine).sum())
    return ahead < k
