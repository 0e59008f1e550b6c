"""The vocabulary: markers first, words by frequency, prefixes, the JSON round trip."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest

from autocomplete.text import BOUNDARY, MARKERS, UNKNOWN, tokenize
from autocomplete.vocab import BOUNDARY_ID, PAD_ID, UNKNOWN_ID, Vocabulary


@pytest.fixture
def vocab() -> Vocabulary:
    return Vocabulary.build(Counter(tokenize("the cat. the cap! a cat, the car; zebra cat. The dog")))


def test_markers_come_first():
    assert (PAD_ID, UNKNOWN_ID, BOUNDARY_ID) == (0, 1, 2)
    vocab = Vocabulary.build(Counter())
    assert vocab.words == MARKERS == ("", UNKNOWN, BOUNDARY)
    assert vocab.id(BOUNDARY) == BOUNDARY_ID and vocab.id("") == PAD_ID


def test_most_frequent_first_ties_alphabetical(vocab):
    # the x4, cat x3, then the words seen once in alphabetical order; the boundary is a marker, not a word
    assert vocab.words[3:] == ("the", "cat", "a", "cap", "car", "dog", "zebra")
    assert vocab.id("the") == 3 and vocab.id("zebra") == len(vocab) - 1


def test_max_words_and_min_count():
    counts = Counter({"a": 5, "b": 4, "c": 4, "d": 1, BOUNDARY: 9})
    assert Vocabulary.build(counts, max_words=2).words[3:] == ("a", "b")
    assert Vocabulary.build(counts, min_count=2).words[3:] == ("a", "b", "c")
    assert Vocabulary.build(counts, max_words=2, min_count=5).words[3:] == ("a",)


def test_unknown_words_encode_as_the_unknown_marker(vocab):
    ids = vocab.encode(["the", "unicorn", BOUNDARY, "cat"])
    assert ids.dtype == np.int32
    assert ids.tolist() == [3, UNKNOWN_ID, BOUNDARY_ID, 4]
    assert vocab.id("unicorn") == UNKNOWN_ID
    assert (
        vocab.knows("cat") and not vocab.knows("unicorn") and not vocab.knows(UNKNOWN) and not vocab.knows("")
    )


def test_json_round_trip(vocab, tmp_path):
    path = tmp_path / "vocab.json"
    vocab.save(path)
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["index_word"]["0"] == "" and data["index_word"]["3"] == "the"
    assert data["word_index"]["the"] == 3
    assert data["markers"] == {"padding": 0, "unknown": 1, "boundary": 2}
    assert Vocabulary.load(path) == vocab


def test_json_round_trip_keeps_any_script(tmp_path):
    vocab = Vocabulary(MARKERS + ("привет", "日本語", "don't"))
    vocab.save(tmp_path / "v.json")
    assert Vocabulary.load(tmp_path / "v.json").words == vocab.words


def test_word_index_that_disagrees_is_refused(vocab):
    data = vocab.to_json()
    data["word_index"] = {**data["word_index"], "the": 4, "cat": 3}
    with pytest.raises(ValueError, match="disagrees"):
        Vocabulary.from_json(data)


@pytest.mark.parametrize(
    "words",
    [("a", "b"), ("", "<unk>", "the"), ("", "<unk>", "</s>", "x", "x")],
    ids=["no markers", "markers cut short", "a word twice"],
)
def test_malformed_word_lists_are_refused(words):
    with pytest.raises(ValueError):
        Vocabulary(words)


def test_ids_with_prefix(vocab):
    def words(prefix):
        return sorted(vocab.words[i] for i in vocab.ids_with_prefix(prefix))

    assert words("ca") == ["cap", "car", "cat"]
    assert words("cat") == ["cat"]
    assert words("q") == []
    assert words("zebras") == []
    # Never a marker, even for the prefixes the markers start with.
    for prefix in ("", "<", "</", "<u"):
        assert not set(vocab.ids_with_prefix(prefix)) & {PAD_ID, UNKNOWN_ID, BOUNDARY_ID}
    assert len(vocab.ids_with_prefix("")) == len(vocab) - 3
