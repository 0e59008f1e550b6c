"""Text generation: the sampler's distribution (temperature, top-k, top-p exact), its statistics on a tiny
hand-built model, reproducibility, the readable text, and `autocomplete generate` through the real CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from itertools import islice

import numpy as np
import pytest
from conftest import write_model
from test_cli import assert_one_line_error, run

from autocomplete import store
from autocomplete.generate import Sampling, distribution, readable, sample_words, seed_ends_sentence, take
from autocomplete.text import BOUNDARY, MARKERS
from autocomplete.vocab import Vocabulary


class TableModel:
    """p(next | last word) from a dict of {last word: {next word: probability}}; markers by name."""

    context_size = 2

    def __init__(self, table: dict[str, dict[str, float]], words: tuple[str, ...]):
        self.vocab = Vocabulary(MARKERS + words)
        self.table = table

    def next_word_probs(self, context_ids) -> np.ndarray:
        row = self.table.get(self.vocab.words[context_ids[-1]], self.table["*"])
        probs = np.zeros(len(self.vocab))
        for word, p in row.items():
            probs[self.vocab.id(word)] = p
        return probs


WORDS = ("a", "b", "c", "d")
# The same next-word distribution after every word; the padding and unknown markers get mass to be refused.
FLAT = {"*": {"a": 0.4, "b": 0.3, "c": 0.2, "d": 0.1}}
WITH_MARKERS = {"*": {"": 0.2, "<unk>": 0.2, BOUNDARY: 0.2, "a": 0.4}}


def probs_of(row: dict[str, float]) -> np.ndarray:
    return TableModel({"*": row}, WORDS).next_word_probs([0])


def frequencies(words, n: int) -> dict[str, float]:
    counts = Counter(islice(words, n))
    return {w: c / n for w, c in sorted(counts.items())}


# --- the distribution ------------------------------------------------------------------------------


def test_distribution_without_options_is_the_models_own():
    ids, weights = distribution(probs_of({"a": 0.4, "b": 0.3, "c": 0.2, "d": 0.1}), Sampling())
    assert ids.tolist() == [3, 4, 5, 6]  # best first
    np.testing.assert_allclose(weights, [0.4, 0.3, 0.2, 0.1], rtol=1e-12)


def test_top_k_keeps_exactly_the_k_likeliest_renormalised():
    ids, weights = distribution(probs_of({"a": 0.4, "b": 0.3, "c": 0.2, "d": 0.1}), Sampling(top_k=2))
    assert ids.tolist() == [3, 4]
    np.testing.assert_allclose(weights, [0.4 / 0.7, 0.3 / 0.7], rtol=1e-12)


def test_top_k_breaks_ties_by_the_lower_id():
    ids, _ = distribution(probs_of({"a": 0.2, "b": 0.4, "c": 0.2, "d": 0.2}), Sampling(top_k=2))
    assert ids.tolist() == [4, 3]


@pytest.mark.parametrize(
    ("top_p", "kept"),
    [
        (0.3, [3]),
        (0.4, [3]),
        (0.41, [3, 4]),
        (0.7, [3, 4]),
        (0.9, [3, 4, 5]),
        (0.95, [3, 4, 5, 6]),
        (1.0, [3, 4, 5, 6]),
    ],
)
def test_top_p_keeps_the_fewest_likeliest_reaching_p(top_p, kept):
    ids, weights = distribution(probs_of({"a": 0.4, "b": 0.3, "c": 0.2, "d": 0.1}), Sampling(top_p=top_p))
    assert ids.tolist() == kept
    full = np.array([0.4, 0.3, 0.2, 0.1])[: len(kept)]
    np.testing.assert_allclose(weights, full / full.sum(), rtol=1e-12)


def test_temperature_sharpens_and_flattens():
    probs = probs_of({"a": 0.4, "b": 0.3, "c": 0.2, "d": 0.1})
    p = np.array([0.4, 0.3, 0.2, 0.1])
    for t in (0.5, 2.0):
        _, weights = distribution(probs, Sampling(temperature=t))
        np.testing.assert_allclose(weights, p ** (1 / t) / (p ** (1 / t)).sum(), rtol=1e-9)


def test_temperature_is_applied_before_top_p():
    # At temperature 0.5 the weights are 16:9:4:1 (/30): a alone (0.533) reaches 0.5, where at 1 it would not.
    ids, _ = distribution(probs_of({"a": 0.4, "b": 0.3, "c": 0.2, "d": 0.1}), Sampling(0.5, top_p=0.5))
    assert ids.tolist() == [3]


def test_temperature_zero_is_greedy_with_ties_to_the_lower_id():
    ids, weights = distribution(probs_of({"a": 0.1, "b": 0.45, "c": 0.45}), Sampling(temperature=0))
    assert ids.tolist() == [4] and weights.tolist() == [1.0]


# --- sampling --------------------------------------------------------------------------------------


def test_frequencies_follow_the_model():
    model = TableModel(FLAT, WORDS)
    got = frequencies(sample_words(model, "", np.random.default_rng(0)), 20000)
    assert got.keys() == {"a", "b", "c", "d"}
    for word, p in FLAT["*"].items():
        assert abs(got[word] - p) < 0.015, (word, got)  # 4 standard errors at 20k draws


def test_top_k_sampling_never_leaves_the_k_likeliest():
    model = TableModel(FLAT, WORDS)
    got = frequencies(sample_words(model, "", np.random.default_rng(1), Sampling(top_k=2)), 20000)
    assert got.keys() == {"a", "b"}
    assert abs(got["a"] - 4 / 7) < 0.015


def test_top_p_sampling_never_leaves_the_nucleus():
    model = TableModel(FLAT, WORDS)
    got = frequencies(sample_words(model, "", np.random.default_rng(2), Sampling(top_p=0.85)), 20000)
    assert got.keys() == {"a", "b", "c"}
    assert abs(got["c"] - 2 / 9) < 0.015


def test_markers_are_never_drawn_and_a_sentence_is_never_empty():
    model = TableModel(WITH_MARKERS, WORDS)
    words = list(islice(sample_words(model, "", np.random.default_rng(3)), 5000))
    assert set(words) == {"a", BOUNDARY}
    assert words[0] == "a"  # a fresh start is a sentence start: no boundary first
    pairs = set(zip(words, words[1:], strict=False))
    assert (BOUNDARY, BOUNDARY) not in pairs
    # After a word the boundary has 0.2 of the 0.6 left to it; after a boundary, "a" is certain.
    after_a = [b for a, b in zip(words, words[1:], strict=False) if a == "a"]
    assert abs(after_a.count(BOUNDARY) / len(after_a) - 1 / 3) < 0.03


def test_the_context_is_the_seed_then_the_words_drawn():
    table = {"*": {"a": 1.0}, "a": {"b": 1.0}, "b": {"c": 1.0}, "c": {BOUNDARY: 1.0}, BOUNDARY: {"d": 1.0}}
    model = TableModel(table, WORDS)
    assert list(islice(sample_words(model, "x b", np.random.default_rng(0)), 6)) == [
        "c", BOUNDARY, "d", "a", "b", "c",
    ]  # fmt: skip


def test_a_model_with_no_word_left_ends_the_text():
    model = TableModel({"*": {"a": 1.0}, "a": {BOUNDARY: 1.0}, BOUNDARY: {"<unk>": 1.0}}, WORDS)
    assert list(sample_words(model, "x", np.random.default_rng(0))) == ["a", BOUNDARY]


def test_the_same_seed_gives_the_same_words():
    model = TableModel(FLAT, WORDS)
    first = list(islice(sample_words(model, "a", np.random.default_rng(7)), 200))
    assert first == list(islice(sample_words(model, "a", np.random.default_rng(7)), 200))
    assert first != list(islice(sample_words(model, "a", np.random.default_rng(8)), 200))


# --- length and text -------------------------------------------------------------------------------


def test_take_counts_words_not_boundaries():
    tokens = ["a", BOUNDARY, "b", "c", BOUNDARY, "d", BOUNDARY]
    assert list(take(iter(tokens), 3)) == ["a", BOUNDARY, "b", "c"]
    assert list(take(iter(tokens), 50, max_sentences=2)) == ["a", BOUNDARY, "b", "c", BOUNDARY]
    assert list(take(iter(tokens), 2, max_sentences=2)) == ["a", BOUNDARY, "b"]


def test_readable_capitalises_sentences_and_i():
    tokens = ["i", "think", "i'm", "here", BOUNDARY, "the", "idea", "is", "mine", BOUNDARY, "i'll", "go"]
    assert "".join(readable(tokens)) == "I think I'm here. The idea is mine. I'll go"
    assert "".join(readable(["cat", "sat"], sentence_start=False, space_first=True)) == " cat sat"
    assert "".join(readable([BOUNDARY, "so"], sentence_start=False, space_first=True)) == ". So"


@pytest.mark.parametrize(("seed", "starts"), [("", True), ("The cat sat.", True), ("the cat", False)])
def test_seed_ends_sentence(seed, starts):
    assert seed_ends_sentence(seed) is starts


# --- the CLI ---------------------------------------------------------------------------------------


def test_generate_is_reproducible_and_readable(make_model):
    make_model("m")
    first = run("generate", "the cat", "--seed", "5", "--words", "30")
    assert first.exit_code == 0, first.output
    assert first.stdout == run("generate", "the cat", "--seed", "5", "--words", "30").stdout
    text = first.stdout
    assert text.startswith("the cat ") and text.endswith("\n")
    assert "</s>" not in text and "<unk>" not in text
    assert len(text.replace(".", " ").split()) == 2 + 30


def test_generate_json_words_and_text_agree(make_model):
    make_model("m")
    result = run("generate", "", "--seed", "1", "--sentences", "2", "--json")
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert answer["words"].count(BOUNDARY) == 2 and answer["words"][-1] == BOUNDARY
    assert answer["text"] == "".join(readable(answer["words"]))
    assert answer["text"][0].isupper() and answer["text"].endswith(".")
    assert answer["model"] == "m" and answer["seed"] == 1


def test_generate_greedy_takes_the_likeliest_word_each_time(make_model):
    make_model("m")
    result = run("generate", "the", "--temperature", "0", "--words", "8", "--json")
    assert result.exit_code == 0, result.output
    _, predictor = store.load("m")
    context, expected = ["the"], []
    for _ in range(8):
        probs = np.array(predictor.next_word_probs([predictor.vocab.id(w) for w in ["</s>", *context][-2:]]))
        probs[:2] = 0.0
        if (context[-1:] or [BOUNDARY]) == [BOUNDARY]:
            probs[2] = 0.0
        expected.append(predictor.vocab.words[int(np.argmax(probs))])
        context.append(expected[-1])
    assert json.loads(result.stdout)["words"] == expected


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--temperature", "-1"], "--temperature must be between 0 and 100 (got -1.0)"),
        (["--temperature", "nan"], "--temperature must be between 0 and 100 (got nan)"),
        (["--top-k", "0"], "--top-k must be at least 1 (got 0)"),
        (["--top-p", "0"], "--top-p must be in (0, 1] (got 0.0)"),
        (["--top-p", "1.5"], "--top-p must be in (0, 1] (got 1.5)"),
        (["--words", "0"], "--words must be between 1 and 100,000 (got 0)"),
        (["--sentences", "0"], "--sentences must be between 1 and 100,000 (got 0)"),
        (["--model", "nope"], "no model named 'nope'"),
    ],
)
def test_generate_refuses_bad_options(make_model, args, message):
    make_model("m")
    code = 1 if args[0] == "--model" else 2
    assert_one_line_error(run("generate", "the", *args), code, message)


def test_generate_streams_words_as_they_are_drawn(store_home):
    write_model("m")
    env = {**os.environ, "AUTOCOMPLETE_HOME": str(store_home)}
    command = [sys.executable, "-m", "autocomplete", "generate", "the", "--words", "100000", "--seed", "0"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, env=env) as process:
        try:
            first = process.stdout.read(40)  # long before the 100,000th word
            assert process.poll() is None
        finally:
            process.kill()
    assert first.startswith(b"the ") and len(first.split()) > 5
