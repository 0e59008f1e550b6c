"""Text to words: the one tokenizer that training, prediction and the REPL share.

A word is a maximal run of letters and digits (any script) with apostrophes kept inside it
("don't", "o'clock"); words are lower-cased. Sentence ends (. ! ?) and blank lines become one
BOUNDARY token, so the model learns what starts a sentence.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator

from autocomplete._marks import char_class

PAD = ""  # index 0, the Keras convention; never a real token
UNKNOWN = "<unk>"
BOUNDARY = "</s>"
MARKERS = (PAD, UNKNOWN, BOUNDARY)

# A word starts with a letter or digit (\w, once normalize() has turned "_" into a space) and goes on with
# letters, digits and combining marks, which \w leaves out ("हिन्दी", "i̇" from "İ".lower()).
_MARKS = char_class()
_CHAR = rf"[\w{_MARKS}]"
_WORD = rf"\w{_CHAR}*(?:'\w{_CHAR}*)*"
# A sentence end is a run of . ! ? followed by a space, a closing quote or bracket, or the end of the line,
# so "3.14" and "example.com" stay inside one sentence. The look-behind matches a run only from its start:
# without it a long run of dots is retried from each of its dots (quadratic).
_TOKEN = re.compile(rf"(?P<word>{_WORD})|(?P<end>(?<![.!?…])[.!?…]++(?=[\s\"'”)\]]|$))")
# The word being typed: a trailing run of word characters, possibly ending in an apostrophe ("don'").
_PREFIX = re.compile(rf"\w{_CHAR}*(?:'{_CHAR}*)*\Z")
# The trailing run of word characters and apostrophes, matched on the reversed text: searching for _PREFIX
# from the start would retry every position of a long unbroken run (quadratic).
_TAIL = re.compile(rf"[\w{_MARKS}']*")


def normalize(text: str) -> str:
    """NFC, curly apostrophes made straight, underscores made spaces (they separate words), lower-cased."""
    return _unfolded(text).lower()


def _unfolded(text: str) -> str:
    """normalize() without the lower-casing."""
    return unicodedata.normalize("NFC", text).replace("\u2019", "'").replace("_", " ")


def tokenize_line(line: str) -> list[str]:
    """Words and BOUNDARY tokens of one line of text, in order (runs of boundaries not yet collapsed)."""
    return [m.group("word") or BOUNDARY for m in _TOKEN.finditer(normalize(line))]


def tokenize_lines(lines: Iterable[str]) -> Iterator[str]:
    """Tokens of a stream of lines: blank lines are boundaries, runs of boundaries collapse to one,
    and the stream never starts with a boundary."""
    previous = BOUNDARY
    for line in lines:
        # Lazily, token by token: one line may be the whole 50 MB file.
        if line.strip():
            tokens = (m.group("word") or BOUNDARY for m in _TOKEN.finditer(normalize(line)))
        else:
            tokens = [BOUNDARY]
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
    match = _word_being_typed(normalized)
    # What follows the context decides whether its last "." ends a sentence ("3.1" is not "3." + "1") and
    # whether its last line is blank: tokenize it with a stand-in word where the next word will be (after a
    # space when none is being typed), then drop the stand-in.
    before = normalized + " " if match is None else normalized[: match.start()]
    return tokenize(before + "x")[:-1], match.group() if match else ""


def typed_word(text: str) -> str:
    """The word being typed as the user typed it, case kept (NFC and all): split_typed's prefix before
    lower-casing, which can change its length."""
    match = _word_being_typed(_unfolded(text))
    return match.group() if match else ""


def _word_being_typed(text: str) -> re.Match | None:
    """The trailing _PREFIX of `text`, searched from where the reversed _TAIL says it can start."""
    return _PREFIX.search(text, len(text) - _TAIL.match(text[::-1]).end())


def context_window(tokens: list[str], size: int) -> list[str]:
    """The last `size` tokens, left-padded with BOUNDARY: an empty text is the start of a sentence."""
    padded = [BOUNDARY] * size + tokens
    return padded[len(padded) - size :] if size else []
