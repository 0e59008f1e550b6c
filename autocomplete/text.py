"""Text to words: the one tokenizer that training, prediction and the REPL share.

A word is a maximal run of letters and digits (any script) with apostrophes kept inside it
("don't", "o'clock"); words are lower-cased. Sentence ends (. ! ?) and blank lines become one
BOUNDARY token, so the model learns what starts a sentence.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator

PAD = ""  # index 0, the Keras convention; never a real token
UNKNOWN = "<unk>"
BOUNDARY = "</s>"
MARKERS = (PAD, UNKNOWN, BOUNDARY)

_WORD = r"[^\W_]+(?:'[^\W_]+)*"
# A sentence end is a run of . ! ? followed by a space, a closing quote or bracket, or the end of the line,
# so "3.14" and "example.com" stay inside one sentence.
_TOKEN = re.compile(rf"(?P<word>{_WORD})|(?P<end>[.!?…]+(?=[\s\"'”)\]]|$))")
# The word being typed: a trailing run of word characters, possibly ending in an apostrophe ("don'").
_PREFIX = re.compile(r"[^\W_]+(?:'[^\W_]*)*$")


def normalize(text: str) -> str:
    """NFC, curly apostrophes made straight, lower-cased."""
    return unicodedata.normalize("NFC", text).replace("\u2019", "'").lower()


def tokenize_line(line: str) -> list[str]:
    """Words and BOUNDARY tokens of one line of text, in order (runs of boundaries not yet collapsed)."""
    return [m.group("word") or BOUNDARY for m in _TOKEN.finditer(normalize(line))]


def tokenize_lines(lines: Iterable[str]) -> Iterator[str]:
    """Tokens of a stream of lines: blank lines are boundaries, runs of boundaries collapse to one,
    and the stream never starts with a boundary."""
    previous = BOUNDARY
    for line in lines:
        # Lazily, token by token: one line may be the whole 50 MB file.
        tokens = (m.group("word") or BOUNDARY for m in _TOKEN.finditer(normalize(line))) if line.strip() else [BOUNDARY]
        for token in tokens:
            if token == BOUNDARY and previous == BOUNDARY:
                continue
            previous = token
            yield token


def tokenize(text: str) -> list[str]:
    """Tokens of a whole text (see tokenize_lines)."""
    return list(tokenize_lines(text.splitlines()))


def split_typed(text: str) -> tuple[list[str], str]:
    """Split what the user typed into (tokens before the word being typed, that word's prefix).

    The prefix is the trailing run of word characters, lower-cased; it is empty when the text is
    empty or ends in a space or punctuation, and then the suggestions are for the next word.
    """
    # normalize() may change lengths (NFC), so split the normalized text, not the original.
    normalized = normalize(text)
    match = _PREFIX.search(normalized)
    if match is None:
        return tokenize(normalized), ""
    return tokenize(normalized[: match.start()]), match.group()


def context_window(tokens: list[str], size: int) -> list[str]:
    """The last `size` tokens, left-padded with BOUNDARY: an empty text is the start of a sentence."""
    padded = [BOUNDARY] * size + tokens
    return padded[len(padded) - size :] if size else []
