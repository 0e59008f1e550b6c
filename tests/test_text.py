"""The tokenizer: words, apostrophes, scripts, sentence boundaries, what the user is typing."""

from __future__ import annotations

import sys
import time
import unicodedata

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from autocomplete import _marks
from autocomplete.text import (
    BOUNDARY,
    context_window,
    normalize,
    split_typed,
    tokenize,
    tokenize_lines,
    typed_word,
)

B = BOUNDARY


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("Hello World", ["hello", "world"]),
        ("MiXeD CaSe", ["mixed", "case"]),
        ("don't stop", ["don't", "stop"]),
        ("at ten o'clock", ["at", "ten", "o'clock"]),
        ("rock'n'roll", ["rock'n'roll"]),
        ("don’t", ["don't"]),  # a curly apostrophe is made straight
        ("'quoted' words", ["quoted", "words"]),  # apostrophes only inside a word
        ("don''t", ["don", "t"]),
        ("42 apples, 7 pears", ["42", "apples", "7", "pears"]),
        ("a-b c/d e_f g+h", ["a", "b", "c", "d", "e", "f", "g", "h"]),  # everything else separates
        ("tab\tseparated", ["tab", "separated"]),
        ("I ❤️ you 👍🏽", ["i", "you"]),  # emoji (and their variation selectors) are not words
    ],
)
def test_words(text, tokens):
    assert tokenize(text) == tokens


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("Привет, мир", ["привет", "мир"]),
        ("Καλημέρα κόσμε", ["καλημέρα", "κόσμε"]),
        ("日本語 テキスト", ["日本語", "テキスト"]),
        ("مرحبا بالعالم", ["مرحبا", "بالعالم"]),  # right to left
        ("٣٤ كتاب", ["٣٤", "كتاب"]),  # Arabic-Indic digits
        ("हिन्दी भाषा", ["हिन्दी", "भाषा"]),  # vowel signs are combining marks, inside the word
        ("สวัสดี ครับ", ["สวัสดี", "ครับ"]),
        ("Straße", ["straße"]),
        ("İstanbul", ["i̇stanbul"]),  # "İ".lower() is "i" + a combining dot: still one word
        ("Cafe\u0301", ["café"]),  # decomposed input is composed (NFC)
    ],
)
def test_any_script(text, tokens):
    assert tokenize(text) == tokens


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("One. Two! Three? Four…", ["one", B, "two", B, "three", B, "four", B]),
        ("Wait... what?! Really", ["wait", B, "what", B, "really"]),  # a run of ends is one boundary
        ("pi is 3.14 today", ["pi", "is", "3", "14", "today"]),  # not a boundary
        ("see example.com now", ["see", "example", "com", "now"]),
        ('He said "stop." Then', ["he", "said", "stop", B, "then"]),  # an end before a closing quote
        ("(like this.) next", ["like", "this", B, "next"]),
        ("first\n\nsecond", ["first", B, "second"]),  # a blank line is a boundary
        ("first.\n\n\n  \nsecond", ["first", B, "second"]),  # an end and blank lines: one boundary
        ("\n\n  \nstart. ", ["start", B]),  # never starts with a boundary
        ("a\r\n\r\nb", ["a", B, "b"]),  # CRLF blank lines
        ("one\ntwo", ["one", "two"]),  # a line break alone is not a boundary
        ("...", []),
    ],
)
def test_sentence_boundaries(text, tokens):
    assert tokenize(text) == tokens


def test_tokenize_lines_streams_like_tokenize():
    text = "The cat.\n\nThe dog!  \nran away\n"
    assert list(tokenize_lines(iter(text.splitlines()))) == tokenize(text)


@pytest.mark.parametrize(
    ("typed", "context", "prefix"),
    [
        ("", [], ""),
        ("   ", [], ""),
        ("the", [], "the"),
        ("the ", ["the"], ""),  # a trailing space: the next word, not a completion
        ("the ca", ["the"], "ca"),
        ("The Ca", ["the"], "ca"),  # lower-cased
        ("I don'", ["i"], "don'"),  # an apostrophe can end the word being typed
        ("I don't", ["i"], "don't"),
        ("I don’", ["i"], "don'"),
        ("Hello. Wor", ["hello", B], "wor"),
        ("Hello.", ["hello", B], ""),
        ("to be or not to be,", ["to", "be", "or", "not", "to", "be"], ""),
        ("pi is 3.1", ["pi", "is", "3"], "1"),  # "3." is not a sentence end here
        ("the ca\n", ["the", "ca"], ""),
        ("the ca\n_", ["the", "ca"], ""),  # a line blank so far: the next word on it starts no sentence
        ("the ca\n\n", ["the", "ca", B], ""),  # a blank line does
        ("'quo", [], "quo"),
        ("हिन्दी भा", ["हिन्दी"], "भा"),
    ],
)
def test_split_typed(typed, context, prefix):
    assert split_typed(typed) == (context, prefix)


def test_split_typed_is_linear_on_long_runs():
    # A 100 kB word, then a character that ends it: the prefix search must not retry every position.
    started = time.perf_counter()
    for tail in ("!", " '", "", "'"):
        split_typed("a" * 100_000 + tail)
    tokenize("." * 100_000 + "a")
    assert time.perf_counter() - started < 1.0


@pytest.mark.parametrize(
    ("tokens", "size", "window"),
    [
        ([], 2, [B, B]),
        (["a"], 3, [B, B, "a"]),
        (["a", "b"], 2, ["a", "b"]),
        (["a", "b", "c", "d"], 2, ["c", "d"]),
        (["a", "b"], 0, []),
    ],
)
def test_context_window(tokens, size, window):
    assert context_window(tokens, size) == window


def test_the_marks_table_matches_unicodedata():
    chars = set()
    for token in _marks.RANGES.split():
        first, _, last = token.partition("-")
        chars.update(map(chr, range(int(first, 16), int(last or first, 16) + 1)))
    assert all(unicodedata.category(c).startswith("M") for c in chars)
    if unicodedata.unidata_version == _marks.UNICODE_VERSION:
        every = {chr(c) for c in range(sys.maxunicode + 1) if unicodedata.category(chr(c)).startswith("M")}
        assert chars == every


# Any Unicode: lone surrogates, controls, marks, separators, and the characters the tokenizer cares about.
ANY_CHAR = st.one_of(
    st.characters(exclude_categories=()),
    st.characters(categories=["Cs", "Cc", "Cf", "Mn", "Mc", "Me", "Zs", "Zl", "Zp"]),
    st.sampled_from(list(".!?…'’\"_ \n\r\t\x00\u2028İ")),
)
ANY_TEXT = st.text(ANY_CHAR, max_size=60)


@settings(max_examples=300, deadline=None)
@given(ANY_TEXT)
@example("\ud800 lone surrogate")
@example("a\x00b\x1b[31m")
def test_tokenize_never_raises_and_tokens_have_no_whitespace(text):
    tokens = tokenize(text)
    assert tokens[:1] != [B]
    assert all(a != B or b != B for a, b in zip(tokens, tokens[1:], strict=False))
    for token in tokens:
        assert token and not any(c.isspace() for c in token)


@settings(max_examples=300, deadline=None)
@given(ANY_TEXT)
@example("İİ")
def test_tokenize_is_idempotent_on_joined_words(text):
    words = [t for t in tokenize(text) if t != B]
    assert tokenize(" ".join(words)) == words
    assert [normalize(w) for w in words] == words


@settings(max_examples=300, deadline=None)
@given(ANY_TEXT)
def test_split_typed_never_raises(text):
    context, prefix = split_typed(text)
    assert not any(c.isspace() for c in prefix)
    assert all(t and not any(c.isspace() for c in t) for t in context)
    if prefix:
        assert normalize(text).endswith(prefix)


@settings(max_examples=300, deadline=None)
@given(ANY_TEXT)
@example("the Cafe\u0301")
@example("x_Lo")
def test_typed_word_is_the_prefix_before_lower_casing(text):
    assert normalize(typed_word(text)) == split_typed(text)[1]
