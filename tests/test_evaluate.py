"""`autocomplete evaluate`: perplexity, top-k and keystroke savings on held-out text, worked out by hand on a
table-backed model, held equal to calling suggest() before every keystroke, and through the CLI."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from collections import Counter

import numpy as np
import pytest
from conftest import CLI_ENV, CORPUS_TEXT, random_lstm
from typer.testing import CliRunner

from autocomplete import evaluate as evaluation
from autocomplete.cli import app
from autocomplete.errors import ExitStatus
from autocomplete.evaluate import evaluate, keystroke_savings, read_stream, typed_text
from autocomplete.inference import Predictor
from autocomplete.ngram import KneserNey
from autocomplete.suggest import suggest
from autocomplete.text import BOUNDARY, MARKERS, context_window, split_typed, tokenize
from autocomplete.vocab import Vocabulary


class TableModel:
    """A context of one word; p(next | last word) from a table, else the default row."""

    context_size = 1

    def __init__(self, rows: dict[str, dict[str, float]], default: dict[str, float]):
        words = tuple(dict.fromkeys(w for row in [default, *rows.values()] for w in row))
        self.vocab = Vocabulary(MARKERS + words)
        self.rows = {self.vocab.id(w): self._probs(row) for w, row in rows.items()}
        self.default = self._probs(default)

    def _probs(self, row: dict[str, float]) -> np.ndarray:
        probs = np.zeros(len(self.vocab), np.float32)
        for word, p in row.items():
            probs[self.vocab.id(word)] = p
        return probs

    def next_word_probs(self, context_ids) -> np.ndarray:
        return self.rows.get(int(list(context_ids)[-1]), self.default)

    def batch_probs(self, contexts: np.ndarray) -> np.ndarray:
        return np.stack([self.next_word_probs(c) for c in contexts])


HAND = TableModel(
    rows={"the": {"cat": 0.40, "mat": 0.30, "sea": 0.15, "sun": 0.10, "the": 0.05}},
    default={"the": 0.30, "sat": 0.20, "sun": 0.15, "sea": 0.15, "on": 0.10, "cat": 0.05, "mat": 0.05},
)
# [</s>] the cat sat on the mat </s> the sun </s> zebra sat </s>; "zebra" is not in the vocabulary.
HAND_TEXT = "The cat sat on the mat.\nThe sun!\n\nZebra sat."


@pytest.fixture
def hand_file(tmp_path):
    path = tmp_path / "held-out.txt"
    path.write_text(HAND_TEXT, encoding="utf-8")
    return path


def test_keystroke_savings_by_hand_k2(hand_file):
    # word (context): top-2 with no letter typed -> keystrokes (without suggestions)
    # the (start): the, sat -> 1 (4)     cat (the): cat, mat -> 1 (4)     sat (cat): the, sat -> 1 (4)
    # on (sat): the, sat; "o": on -> 2 (3)     the (on) -> 1 (4)     mat (the): cat, mat -> 1 (4)
    # the (start) -> 1 (4)     sun (the): cat, mat; "s": sea .15, sun .10 -> 2 (4)
    # zebra: unknown, typed in full -> 6 (6)     sat (zebra = unknown): the, sat -> 1 (4)
    ksr = keystroke_savings(read_stream(hand_file), HAND, k=2)
    assert (ksr.words, ksr.keystrokes, ksr.baseline, ksr.accepted) == (10, 17, 41, 9)
    assert ksr.rate == pytest.approx(1 - 17 / 41)


def test_keystroke_savings_by_hand_k1(hand_file):
    # the 1; cat 1; sat: "the" first, "s" -> sat 2; on: "o" 2; the 1; mat: "cat" first, "m" 2; the 1;
    # sun: "cat", then "s" -> sea first, "su" -> sun 3; zebra 6; sat (unknown context): "s" 2
    ksr = keystroke_savings(read_stream(hand_file), HAND, k=1)
    assert (ksr.keystrokes, ksr.baseline, ksr.accepted) == (21, 41, 9)


def test_a_word_the_vocabulary_lacks_is_typed_in_full():
    ksr = keystroke_savings([BOUNDARY, "zebra", "zebras"], HAND, k=5)
    assert (ksr.keystrokes, ksr.baseline, ksr.accepted, ksr.rate) == (13, 13, 0, 0.0)


def test_evaluate_by_hand(hand_file):
    result = evaluate(hand_file, HAND, k=2)
    s = result.scores
    # Scored targets (context -> word): </s>->the .3, the->cat .4, cat->sat .2, sat->on .1, on->the .3,
    # the->mat .3, </s>->the .3, the->sun .1, <unk>->sat .2; "zebra" is the one unknown target.
    probs = [0.3, 0.4, 0.2, 0.1, 0.3, 0.3, 0.3, 0.1, 0.2]
    assert (s.words, s.unknown, result.words) == (9, 1, 10)
    assert s.perplexity == pytest.approx(math.exp(-sum(map(math.log, probs)) / 9), rel=1e-5)
    assert s.top1 == pytest.approx(4 / 9)  # the, cat, the, the
    assert s.top3 == pytest.approx(7 / 9)  # + sat twice (the, sat, ...) and mat (cat, mat, sea); not on, sun
    assert result.ksr.rate == pytest.approx(1 - 17 / 41)
    assert result.words_per_second > 0
    out = result.to_json()
    assert out["scored"] == 9 and out["unknown"] == 1 and out["ksr"]["keystrokes"] == 17


def test_scores_do_not_depend_on_the_batch():
    """The batch bounds the temporaries' memory (benchmarks/results/mixing_memory.md), never the figures."""
    from autocomplete.dataset import windows
    from autocomplete.metrics import score

    tokens = tokenize(CORPUS_TEXT)
    vocab = Vocabulary.build(Counter(tokens))
    ids = vocab.encode(tokens)
    ngram = KneserNey.fit(ids, len(vocab), 3, discount=None)
    model = Predictor(vocab, 2, random_lstm(len(vocab)), ngram, 0.5)
    contexts, targets = windows(ids, 2)
    whole = score(model.batch_probs, contexts, targets, batch=len(targets))
    for batch in (1, 7, 64):
        s = score(model.batch_probs, contexts, targets, batch=batch)
        assert (s.words, s.unknown, s.top1, s.top3, s.top5) == (whole.words, whole.unknown, whole.top1,
                                                                 whole.top3, whole.top5)  # fmt: skip
        assert s.perplexity == pytest.approx(whole.perplexity, rel=1e-9)


def test_tied_words_rank_as_suggest_lists_them(tmp_path):
    """A tie is not a hit for every word in it: suggest() lists tied words by id, and so does the rank."""
    model = TableModel(rows={}, default={"a": 0.5, "b": 0.5})
    path = tmp_path / "held-out.txt"
    path.write_text("a b a b", encoding="utf-8")
    s = evaluate(path, model, k=1).scores
    assert [w.word for w in suggest("a ", model, 2).items] == ["a", "b"]
    assert (s.words, s.top1, s.top3) == (4, 0.5, 1.0)  # "a" twice on top; "b" second
    from autocomplete.adapt import Adaptation, AdaptParams
    from autocomplete.evaluate_adapt import evaluate_adapted

    off = Adaptation(model.vocab, AdaptParams(window=0))  # no source has any weight: the model's own ranks
    adapted = evaluate_adapted(path, model, off, k=1).scores
    assert (adapted.words, adapted.top1, adapted.top3) == (4, 0.5, 1.0)


def reference_ksr(text: str, model, k: int) -> tuple[int, int, int]:
    """The definition, literally: suggest() on the whole text typed so far, before every keystroke."""
    typed, keystrokes, baseline, accepted = "", 0, 0, 0
    for token in tokenize(text):
        if token == BOUNDARY:
            typed += ". "
            continue
        cost = len(token) + 1
        baseline += cost
        for j in range(len(token)):
            if token in [s.word for s in suggest(typed + token[:j], model, k).items]:
                cost, accepted = j + 1, accepted + 1
                break
        keystrokes += cost
        typed += token + " "
    return keystrokes, baseline, accepted


def random_predictor(text: str, lstm_weight: float, seed: int = 0, context: int = 2) -> Predictor:
    """An LSTM with random weights mixed with a Kneser-Ney trigram of the text: no Keras, milliseconds."""
    tokens = [BOUNDARY, *tokenize(text)]
    vocab = Vocabulary.build(Counter(tokens))
    v = len(vocab)
    lstm = random_lstm(v, seed, e=6, h=8, d=8)
    ngram = KneserNey.fit(vocab.encode(tokens), v, context + 1)
    return Predictor(vocab, context, lstm if lstm_weight > 0 else None, ngram, lstm_weight)


@pytest.mark.parametrize("lstm_weight", [0.0, 0.5])  # the n-gram alone is full of ties
@pytest.mark.parametrize("k", [1, 3, 5])
def test_fast_path_equals_suggest_on_the_whole_text(tmp_path, monkeypatch, lstm_weight, k):
    held_out = CORPUS_TEXT.replace("cat", "lynx")[:1500] + "\nThe zebra sat. Don't walk to o'clock!"
    model = random_predictor(CORPUS_TEXT[:900], lstm_weight)
    calls = []
    monkeypatch.setattr(evaluation, "suggest", lambda *a: calls.append(a) or suggest(*a))
    path = tmp_path / "held-out.txt"
    path.write_text(held_out, encoding="utf-8")
    ksr = keystroke_savings(read_stream(path), model, k)
    assert (ksr.keystrokes, ksr.baseline, ksr.accepted) == reference_ksr(held_out, model, k)
    assert 0 < ksr.accepted < ksr.words
    if lstm_weight == 0.0 and k == 3:
        assert calls  # ties at the K-th place did go to suggest() itself


def test_the_typed_context_reads_back_as_the_same_context():
    tokens = read_stream_of(CORPUS_TEXT)
    for n in (1, 2, 3):
        for i in range(1, len(tokens)):
            window = tokens[max(0, i - n) : i]
            context, prefix = split_typed(typed_text(window) + "ab")
            assert prefix == "ab"
            assert context_window(context, n) == context_window(window, n), (window, n)


def read_stream_of(text: str) -> list[str]:
    return [BOUNDARY, *tokenize(text)]


def test_evaluate_refuses_text_without_words(tmp_path):
    from autocomplete.errors import CorpusError

    path = tmp_path / "dots.txt"
    path.write_text("... !!! ---\n", encoding="utf-8")
    with pytest.raises(CorpusError, match="no words"):
        evaluate(path, HAND)


# --- the command -------------------------------------------------------------------------------------


def run(*args: str):
    return CliRunner().invoke(app, list(args), env=CLI_ENV)


@pytest.fixture
def held_out(tmp_path):
    path = tmp_path / "held-out.txt"
    text = "The cat sat on a mat. The dog ran to the red barn, and a bird sang.\n" * 3
    path.write_text(text, encoding="utf-8")
    return path


def test_cli_evaluate_table(make_model, held_out):
    make_model("m1")
    result = run("evaluate", str(held_out))
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "model: m1 (most recent)" in out
    for label in ("perplexity", "unknown words", "top-1 accuracy", "top-3 accuracy", "top-5 accuracy",
                  "keystroke savings (K=3)", "words/s"):  # fmt: skip
        assert label in out, label
    assert result.stderr == ""


def test_cli_evaluate_json(make_model, held_out):
    make_model("m1")
    make_model("m2", seed=1)
    result = run("evaluate", str(held_out), "--model", "m1", "--top-k", "5", "--json")
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert answer["model"] == "m1" and answer["words"] == 3 * 17
    assert answer["ksr"]["k"] == 5 and 0.0 <= answer["ksr"]["rate"] < 1.0
    words = [t for t in tokenize(held_out.read_text()) if t != BOUNDARY]
    assert answer["ksr"]["keystrokes_without_suggestions"] == sum(len(w) + 1 for w in words)
    assert set(answer) >= {"perplexity", "unknown_share", "top1", "top3", "top5", "words_per_second"}
    assert answer["unknown"] == 0  # conftest's WORDS hold every word of the text


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["missing.txt"], ExitStatus.ERROR, "not found"),
        (["EMPTY"], ExitStatus.ERROR, "is empty"),
        (["HELD", "--top-k", "0"], ExitStatus.USAGE, "--top-k"),
        (["HELD", "--model", "nope"], ExitStatus.ERROR, "no model named 'nope'"),
        (["DOTS"], ExitStatus.ERROR, "no words"),
    ],
)
def test_cli_evaluate_errors(make_model, held_out, tmp_path, args, code, message):
    make_model("m1")
    (tmp_path / "empty.txt").write_text("")
    (tmp_path / "dots.txt").write_text("...\n")
    paths = {"EMPTY": tmp_path / "empty.txt", "HELD": held_out, "DOTS": tmp_path / "dots.txt"}
    result = run("evaluate", *[str(paths.get(a, tmp_path / a if a.endswith(".txt") else a)) for a in args])
    assert result.exit_code == code, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], result.stderr
    assert "Traceback" not in result.output


def test_cli_evaluate_without_a_model(store_home, held_out):
    result = run("evaluate", str(held_out))
    assert result.exit_code == ExitStatus.ERROR and "no trained model yet" in result.stderr


def test_evaluate_never_imports_tensorflow(make_model, held_out, store_home):
    make_model("m1")
    code = (
        "import sys; from autocomplete.cli import main\n"
        "sys.argv = ['autocomplete', 'evaluate', sys.argv[1], '--json']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'TensorFlow was imported'"
    )
    command = [sys.executable, "-c", code, str(held_out)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[0])["model"] == "m1"


@pytest.mark.slow
def test_evaluate_a_trained_model(trained_model, model_home):
    result = run("evaluate", str(trained_model.corpus), "--json")
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert answer["unknown"] == 0 and math.isfinite(answer["perplexity"])
    assert answer["ksr"]["rate"] > 0.2  # its own training text: the words are predictable


# --- no figure, no NaN; the model's own text -----------------------------------------------------------


def strict_json(text: str) -> dict:
    """json.loads that refuses NaN and Infinity, which are not JSON."""

    def refuse(constant):
        raise ValueError(f"{constant} is not JSON")

    return json.loads(text, parse_constant=refuse)


@pytest.mark.parametrize(
    ("text", "scored", "unknown", "note"),
    [
        ("Cat.\n", 0, 0, "too few words to score"),
        ("Zebra quagga okapi gnu.\n", 0, 3, "no word of the file is in the vocabulary"),
    ],
    ids=["one word", "no known word"],
)
def test_cli_evaluate_json_without_figures_is_valid_json(make_model, tmp_path, text, scored, unknown, note):
    make_model("m1")
    path = tmp_path / "few.txt"
    path.write_text(text, encoding="utf-8")
    result = run("evaluate", str(path), "--json")
    assert result.exit_code == ExitStatus.SUCCESS, result.output
    answer = strict_json(result.stdout)
    assert (answer["scored"], answer["unknown"], answer["note"]) == (scored, unknown, note)
    assert [answer[k] for k in ("perplexity", "top1", "top3", "top5")] == [None] * 4
    table = run("evaluate", str(path))
    assert table.exit_code == ExitStatus.SUCCESS, table.output
    assert f"│ perplexity │ — │ none: {note} │" in " ".join(table.stdout.split())


def test_scores_without_a_scored_word_are_null_in_json():
    from autocomplete.metrics import NextWordScores

    data = NextWordScores(0, 3, math.nan, 0.0, 0.0, 0.0).to_json()
    assert json.dumps(data, allow_nan=False)  # would raise on a NaN
    assert data == {"words": 0, "unknown": 3, "unknown_share": 1.0, "perplexity": None, "top1": None,
                    "top3": None, "top5": None, "note": "no word was scored"}  # fmt: skip


def test_cli_evaluate_warns_on_the_models_own_training_text(make_model, store_home, held_out):
    import hashlib

    make_model("m1")
    meta_path = store_home / "models" / "m1" / "meta.json"
    meta = json.loads(meta_path.read_text())
    sha256 = hashlib.sha256(held_out.read_bytes()).hexdigest()
    meta_path.write_text(json.dumps({**meta, "corpus": [{"name": "x.txt", "sha256": sha256}]}))
    result = run("evaluate", str(held_out), "--json")
    assert result.exit_code == ExitStatus.SUCCESS, result.output
    assert result.stderr == (
        f"warning: {held_out} is text model 'm1' was trained on: these figures are not held-out\n"
    )
    answer = strict_json(result.stdout)
    assert answer["training_text"] is True and answer["sha256"] == sha256 and answer["perplexity"] > 0


def test_cli_evaluate_held_out_text_says_so(make_model, held_out):
    make_model("m1")
    result = run("evaluate", str(held_out), "--json")
    assert result.exit_code == ExitStatus.SUCCESS and result.stderr == ""
    assert strict_json(result.stdout)["training_text"] is False
