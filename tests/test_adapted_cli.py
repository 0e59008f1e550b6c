"""Adaptation through the real commands: predict's recency cache and memory, --no-adapt, learn, forget and
the memory column of `models`, with models from conftest.write_model (random weights, milliseconds)."""

from __future__ import annotations

import json

import pytest
from conftest import CLI_ENV, write_model
from test_cli import assert_one_line_error
from typer.testing import CliRunner

from autocomplete import adapted, memory, modelfile, store
from autocomplete.adapt import DEFAULT_PARAMS, AdaptParams, Rule
from autocomplete.cli import app
from autocomplete.errors import ExitStatus
from autocomplete.suggest import suggest

TWICE = "I met Zorblax at the gate. Later Zorblax sat on the mat. Then Zo"


def run(*args: str, input: str | None = None, env: dict | None = None):
    return CliRunner().invoke(app, list(args), input=input, env={**CLI_ENV, **(env or {})})


def predict_json(*args: str, input: str | None = None) -> dict:
    result = run("predict", *args, "--json", input=input)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def words(answer: dict) -> list[str]:
    return [s["word"] for s in answer["suggestions"]]


def test_a_name_typed_twice_is_offered_the_third_time_as_typed(make_model):
    make_model("m")
    answer = predict_json(TWICE)
    assert answer["adapted"] is True
    assert words(answer) == ["Zorblax"]
    assert predict_json(TWICE, "--no-adapt")["suggestions"] == []


def test_no_adapt_gives_exactly_the_unadapted_answer(make_model, tmp_path):
    make_model("m")
    notes = tmp_path / "notes.txt"
    notes.write_text("the red barn and the red dog. the red cat sat on the red mat.\n", encoding="utf-8")
    assert run("learn", str(notes)).exit_code == 0
    text = "the red barn and the red dog ran to the red "
    expected = suggest(text, store.load("m")[1], 5).to_json()
    answer = predict_json(text, "--no-adapt")
    assert answer == {**expected, "model": "m", "adapted": False}
    assert predict_json(text) != answer  # the cache and the memory do change this one


def test_each_stdin_line_is_self_contained(make_model):
    make_model("m")
    lines = [
        json.loads(line)
        for line in run("predict", "--stdin", "--json", input=f"{TWICE}\nZo\n").stdout.splitlines()
    ]
    assert words(lines[0]) == ["Zorblax"]
    assert lines[1] == predict_json("Zo")
    assert lines[1]["suggestions"] == []


def test_a_learned_word_is_offered_and_a_forgotten_one_never(make_model, tmp_path):
    make_model("m")
    notes = tmp_path / "notes.txt"
    notes.write_text("We sailed on the Quixotic.\n\nThe Quixotic sank.\n\nThe cat sat.\n", encoding="utf-8")
    result = run("learn", str(notes), "--model", "m")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "Learned 11 words (3 paragraphs, 1 file) into the memory of m"
    assert words(predict_json("the Qu")) == ["Quixotic"]
    result = run("forget", "quixotic", "--model", "m")
    assert result.stdout.strip() == "Removed 2 lines holding quixotic from the memory of m"
    assert words(predict_json("the Qu")) == []
    assert memory.words_learned("m") == 3
    result = run("forget", "--all")
    assert result.stdout.strip() == "Emptied the memory of m (3 words removed)"
    assert memory.words_learned("m") == 0


def test_forget_needs_words_or_all(make_model):
    make_model("m")
    assert_one_line_error(run("forget"), ExitStatus.USAGE, "give the words to forget, or --all")
    assert_one_line_error(run("forget", "x", "--all"), ExitStatus.USAGE, "give the words to forget")


def test_no_learn_switch_refuses_learn(make_model, corpus_file):
    make_model("m")
    result = run("learn", str(corpus_file), env={"AUTOCOMPLETE_NO_LEARN": "1"})
    assert_one_line_error(result, ExitStatus.USAGE, "learning is off (AUTOCOMPLETE_NO_LEARN is set)")
    assert memory.words_learned("m") == 0


@pytest.mark.parametrize("kind", ["missing", "directory", "empty", "binary"])
def test_learn_refuses_bad_files_as_train_does(make_model, tmp_path, corpus_file, kind):
    make_model("m")
    path = tmp_path / f"bad-{kind}.txt"
    if kind == "directory":
        path.mkdir()
    elif kind == "empty":
        path.write_text("")
    elif kind == "binary":
        path.write_bytes(b"\x00\x01\x02" * 100)
    trained = run("train", str(path), "--name", "x")
    assert trained.exit_code == ExitStatus.ERROR
    message = trained.stderr.strip()  # a folder (here an empty one) too: learn reads its text files as train
    learned = run("learn", str(corpus_file), str(path), "--model", "m")  # the good file is not learned either
    assert_one_line_error(learned, ExitStatus.ERROR, message.removeprefix("error: "))
    assert memory.words_learned("m") == 0


SAILED = "We sailed on the Quixotic.\n\nThe Quixotic sank.\n\nThe cat sat.\n"  # 11 words, 3 paragraphs


def test_learn_reads_a_folders_text_files_and_counts_what_it_skipped(make_model, tmp_path):
    make_model("m")
    folder = tmp_path / "notes"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "sailed.txt").write_text(SAILED, encoding="utf-8")
    (folder / "blob.dat").write_bytes(b"\x00\x01\x02" * 100)
    (folder / ".draft.txt").write_text("Zorblax met Zorblax.\n", encoding="utf-8")
    result = run("learn", str(folder), "--model", "m")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "… 1 file to read, 2 skipped: 1 binary (NUL bytes), 1 hidden",
        "Learned 11 words (3 paragraphs, 1 file) into the memory of m",
    ]
    assert memory.words_learned("m") == 11
    assert words(predict_json("the Zo")) == []  # the hidden file was not learned


def test_learn_reads_the_files_a_quoted_glob_matches(make_model, tmp_path):
    make_model("m")
    (tmp_path / "a.md").write_text(SAILED, encoding="utf-8")
    (tmp_path / "b.txt").write_text("Zorblax met Zorblax.\n", encoding="utf-8")
    result = run("learn", str(tmp_path / "*.md"))
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "… 1 file to read, 0 skipped",
        "Learned 11 words (3 paragraphs, 1 file) into the memory of m",
    ]
    assert memory.words_learned("m") == 11


def test_learn_of_a_folder_without_text_is_trains_one_line_and_learns_nothing(make_model, tmp_path):
    make_model("m")
    (tmp_path / "sailed.txt").write_text(SAILED, encoding="utf-8")
    assert run("learn", str(tmp_path / "sailed.txt")).exit_code == 0
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "photo.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    result = run("learn", str(tmp_path / "sailed.txt"), str(empty))
    message = f"{empty} has no text files (1 skipped: 1 binary extension): give files or a folder of UTF-8 "
    message += "text"
    assert_one_line_error(result, ExitStatus.ERROR, message)
    assert result.stderr == f"error: {message}\n"
    assert_one_line_error(run("train", str(empty)), ExitStatus.ERROR, message)  # train's line
    assert memory.words_learned("m") == 11  # as before: the good file given with it was not learned again


def test_learn_refuses_a_file_without_words(make_model, tmp_path, corpus_file):
    make_model("m")
    path = tmp_path / "dots.txt"
    path.write_text("... !!! ???\n", encoding="utf-8")
    learned = run("learn", str(corpus_file), str(path))
    assert_one_line_error(learned, ExitStatus.ERROR, f"{path} has no words to learn: give a text with words")
    assert memory.words_learned("m") == 0


def test_models_lists_the_words_learned(make_model, corpus_file):
    make_model("m")
    make_model("n")
    assert run("learn", str(corpus_file), "--model", "n").exit_code == 0
    cells = [[c.strip() for c in line.split("│")] for line in run("models").stdout.splitlines()]
    rows = {c[2]: c[-2] for c in cells if len(c) > 3 and c[2] in ("m", "n")}
    assert rows == {"m": "0", "n": f"{memory.words_learned('n'):,}"}
    assert memory.words_learned("n") == 426


def test_the_memory_survives_train_force(make_model, corpus_file):
    make_model("m")
    assert run("learn", str(corpus_file)).exit_code == 0
    held = memory.words_learned("m")
    write_model("m", seed=1, force=True)
    assert memory.words_learned("m") == held > 0


def test_a_model_from_before_adaptation_loads_with_an_empty_memory(make_model):
    make_model("m")
    info, predictor = store.load("m")
    assert "adaptation" not in info.meta
    assert not (store.home() / "memory").exists()
    assert adapted.params_of(info.meta) == DEFAULT_PARAMS
    assert adapted.adaptation_for("m", info.meta, predictor).memory.total == 0
    assert predict_json("the ")["adapted"] is True


def test_the_rule_is_read_from_meta_and_a_bad_one_falls_back():
    chosen = AdaptParams(
        500, Rule((0.1, 0.2, 0.0), (10.0, 1.0, 1.0)), Rule((0.05, 0.0, 0.0), (1.0, 1.0, 1.0))
    )
    assert adapted.params_of({"adaptation": chosen.to_json()}) == chosen
    for bad in ({"window": 1}, "x", {**chosen.to_json(), "window": -1}, {**chosen.to_json(), "cache": 3}):
        assert adapted.params_of({"adaptation": bad}) == DEFAULT_PARAMS
    assert modelfile.FORMAT_VERSION == 2  # the rule is a meta.json field: no format of its own


@pytest.mark.slow
def test_training_stores_the_adaptation_rule_it_chose(trained_model):
    from autocomplete.adapt_tune import WINDOWS

    meta = modelfile.read_meta(trained_model.folder)[0]
    chosen = AdaptParams.from_json(meta["adaptation"])
    assert chosen.window in WINDOWS
    assert adapted.params_of(meta) == chosen


def test_evaluate_adapt_gives_both_and_leaves_the_memory_alone(make_model, tmp_path):
    make_model("m")
    text = tmp_path / "held.txt"
    text.write_text("Zorblax met the cat. Zorblax met the dog. Zorblax met the bird.\n", encoding="utf-8")
    notes = tmp_path / "notes.txt"
    notes.write_text("the red barn.\n", encoding="utf-8")
    assert run("learn", str(notes)).exit_code == 0
    before = (memory.memory_dir("m") / memory.MEMORY_FILE).read_bytes()
    result = run("evaluate", str(text), "--adapt", "--json")
    assert result.exit_code == 0, result.output
    both = json.loads(result.stdout)
    plain = json.loads(run("evaluate", str(text), "--json").stdout)
    assert {**both["unadapted"], "seconds": 0, "words_per_second": 0} == {
        **{k: v for k, v in plain.items() if k != "model"},
        "seconds": 0,
        "words_per_second": 0,
    }
    assert (
        both["adapted"]["ksr"]["accepted"] > both["unadapted"]["ksr"]["accepted"]
    )  # "zorblax" from the cache
    assert both["adapted"]["scored"] == both["unadapted"]["scored"]
    assert (memory.memory_dir("m") / memory.MEMORY_FILE).read_bytes() == before
    assert json.loads(run("evaluate", str(text), "--no-adapt", "--json").stdout).keys() == plain.keys()
    table = run("evaluate", str(text), "--adapt").stdout
    assert "unadapted" in table and "adapted" in table and "keystroke savings (K=3)" in table
