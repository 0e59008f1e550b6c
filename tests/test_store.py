"""The model store: names, atomic saves, the training lock, listing broken models, loading untrusted files."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from conftest import leftovers

from autocomplete import modelfile, store
from autocomplete.errors import StoreError, UsageError


def folder_of(home: Path, name: str) -> Path:
    """The version folder models/NAME points at."""
    return (home / "models" / name).resolve()


# --- names ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["a/b", "/abs", "..", "a..b", "../escape", "with space", "tab\there", "bell\x07", "new\nline", "x" * 300,
     "x" * 65, ".hidden", "-dash", "", "back\\slash", "star*"],
)  # fmt: skip
def test_bad_names_are_refused(name):
    with pytest.raises(UsageError, match="invalid model name") as error:
        store.check_name(name)
    assert "\n" not in str(error.value) and len(str(error.value)) < 250  # one printable line, even for "\n"


@pytest.mark.parametrize("name", ["tiny", "my-model_2", "v1.2", "A", "0", "x" * 64, "notes.md"])
def test_good_names_are_accepted(name):
    assert store.check_name(name) == name


@pytest.mark.parametrize(
    ("filename", "name"),
    [
        ("hamlet.txt", "hamlet"),
        ("Hamlet (1603).txt", "Hamlet-1603"),
        (".bashrc", "bashrc"),
        ("!!!.txt", "model"),
        ("a..b.txt", "a.b"),
        ("x" * 300 + ".txt", "x" * 64),
    ],
)
def test_names_from_corpus_files_are_valid(filename, name):
    assert store.name_from_path(Path(filename)) == name
    store.check_name(name)


def test_home_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("AUTOCOMPLETE_HOME", str(tmp_path / "h"))
    assert store.models_dir() == tmp_path / "h" / "models"
    monkeypatch.delenv("AUTOCOMPLETE_HOME")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert store.home() == tmp_path / "xdg" / "autocomplete"


# --- saving ---------------------------------------------------------------------------------------


def test_a_saved_model_loads(make_model, store_home):
    vocab = make_model("m", seed=3)
    info, predictor = store.load("m")
    assert info.name == "m" and info.meta["seed"] == 3
    assert info.meta["format_version"] == modelfile.FORMAT_VERSION
    assert predictor.vocab == vocab and predictor.context_size == 2 and predictor.lstm_weight == 0.5
    assert predictor.next_word_probs([3, 4]).shape == (len(vocab),)
    assert (store_home / "models" / "m").is_symlink()
    assert leftovers(store_home) == []


def test_a_failure_while_writing_leaves_the_old_model_and_no_temp_folder(make_model, store_home):
    make_model("m", seed=1)
    with pytest.raises(RuntimeError, match="boom"):
        with store.writing("m", force=True) as folder:
            (folder / modelfile.VOCAB_FILE).write_text("{half a file", encoding="utf-8")
            raise RuntimeError("boom")
    assert leftovers(store_home) == []
    assert store.load("m")[0].meta["seed"] == 1


def test_an_os_error_while_writing_is_a_store_error(make_model, store_home):
    make_model("m", seed=1)
    with pytest.raises(
        StoreError, match=r"cannot save model 'm': No space left on device; nothing was changed"
    ):
        with store.writing("m", force=True):
            raise OSError(28, "No space left on device")
    assert leftovers(store_home) == []
    assert store.load("m")[0].meta["seed"] == 1


def test_a_keyboard_interrupt_while_writing_leaves_nothing(store_home):
    with pytest.raises(KeyboardInterrupt):
        with store.writing("m", force=False):
            raise KeyboardInterrupt
    assert leftovers(store_home) == [] and not (store_home / "models" / "m").exists()


def test_an_existing_name_needs_force(make_model, store_home):
    make_model("m", seed=1)
    old_folder = folder_of(store_home, "m")
    with pytest.raises(StoreError, match="exists: pass --force"):
        make_model("m", seed=2)
    assert store.load("m")[0].meta["seed"] == 1
    make_model("m", seed=2, force=True)
    assert store.load("m")[0].meta["seed"] == 2
    assert not old_folder.exists()  # the replaced version is gone
    assert leftovers(store_home) == []


def test_a_plain_folder_made_by_hand_is_replaced_with_force(make_model, store_home):
    make_model("m", seed=1)
    link = store_home / "models" / "m"
    real = link.resolve()
    link.unlink()
    real.rename(link)  # a plain folder, as an older tool or a hand copy would leave
    assert store.load("m")[0].meta["seed"] == 1
    make_model("m", seed=2, force=True)
    assert link.is_symlink() and store.load("m")[0].meta["seed"] == 2
    assert leftovers(store_home) == []


def test_training_lock_refuses_a_second_holder(store_home):
    with store.training_lock("m", force=False):
        with pytest.raises(StoreError, match="another `autocomplete train` is writing model 'm'"):
            with store.training_lock("m", force=False):
                pass  # pragma: no cover
        with store.training_lock("other", force=False):
            pass  # another name is another lock
    with store.training_lock("m", force=False):
        pass  # released


def test_training_lock_refuses_an_existing_name_without_force(make_model):
    make_model("m")
    with pytest.raises(StoreError, match="a model named 'm' exists: pass --force"):
        with store.training_lock("m", force=False):
            pass  # pragma: no cover
    with store.training_lock("m", force=True):
        pass


def test_training_lock_sweeps_what_a_crashed_run_left(make_model, store_home):
    make_model("m")
    crashed = store_home / "models" / ".v-m-deadbeef"
    crashed.mkdir()
    (crashed / "vocab.json").write_text("{}")
    with store.training_lock("m", force=True):
        assert not crashed.exists()
    assert store.load("m")  # the live version was kept


# --- listing, finding, removing -------------------------------------------------------------------


def test_default_model_is_the_most_recent(make_model):
    make_model("old", created="2024-01-01T00:00:00+00:00")
    make_model("new", created="2025-06-01T00:00:00+00:00")
    make_model("middle", created="2024-06-01T00:00:00+00:00")
    assert [i.name for i in store.list_models()] == ["new", "middle", "old"]
    assert store.find().name == "new"
    assert store.load()[0].name == "new"


def test_a_hand_edited_creation_time_does_not_break_listing(make_model, store_home):
    make_model("a", created="2024-01-01T00:00:00+00:00")
    make_model("b")
    edit_meta(folder_of(store_home, "b"), created=5)
    assert sorted(i.name for i in store.list_models(verify=True)) == ["a", "b"]


def test_no_model_yet(store_home):
    assert store.list_models() == []
    with pytest.raises(StoreError, match="no trained model yet: run `autocomplete train FILE`"):
        store.load()


def test_unknown_model_names_the_known_ones(make_model):
    make_model("tiny")
    with pytest.raises(StoreError, match=r"no model named 'nope' \(models: tiny\)"):
        store.load("nope")


def break_meta(folder: Path) -> None:
    (folder / modelfile.META_FILE).write_text("{not json", encoding="utf-8")


def newer_format(folder: Path) -> None:
    meta = json.loads((folder / modelfile.META_FILE).read_text())
    newer = {**meta, "format_version": modelfile.FORMAT_VERSION + 1}
    (folder / modelfile.META_FILE).write_text(json.dumps(newer))


def edit_meta(folder: Path, **fields) -> None:
    meta = json.loads((folder / modelfile.META_FILE).read_text())
    (folder / modelfile.META_FILE).write_text(json.dumps({**meta, **fields}))


def truncate_weights(folder: Path) -> None:
    path = folder / modelfile.WEIGHTS_FILE
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def vocab_disagrees(folder: Path) -> None:
    """A word too many: the LSTM may know fewer words than the vocabulary, so the n-gram's size catches it."""
    data = json.loads((folder / modelfile.VOCAB_FILE).read_text())
    n = len(data["index_word"])
    data["index_word"][str(n)] = "extra"
    data["word_index"]["extra"] = n
    (folder / modelfile.VOCAB_FILE).write_text(json.dumps(data))


def vocab_too_short(folder: Path) -> None:
    """A word too few: the LSTM would predict ids the vocabulary does not have."""
    data = json.loads((folder / modelfile.VOCAB_FILE).read_text())
    n = len(data["index_word"]) - 1
    word = data["index_word"].pop(str(n))
    del data["word_index"][word]
    (folder / modelfile.VOCAB_FILE).write_text(json.dumps(data))


def pickled_weights(folder: Path) -> None:
    np.savez(folder / modelfile.WEIGHTS_FILE, embedding=np.array([{"payload": 1}], dtype=object))


# name: (damage, what the problem says, found from meta.json and the files' presence alone, without loading)
BREAKAGES = {
    "missing weights": (lambda f: (f / modelfile.WEIGHTS_FILE).unlink(), "weights.npz missing", True),
    "missing meta": (lambda f: (f / modelfile.META_FILE).unlink(), "meta.json is missing", True),
    "bad meta": (break_meta, "meta.json is unreadable", True),
    "newer format": (newer_format, "made by a newer autocomplete", True),
    "config not an object": (
        lambda f: edit_meta(f, config=None), "meta.json has bad values for config", True
    ),
    "config without context": (
        lambda f: edit_meta(f, config={"ngram": True}), "bad values for config.context", True
    ),
    "truncated weights": (truncate_weights, "", False),
    "vocab disagrees": (vocab_disagrees, "vocab.json has 19 words but ngram.npz has 18", False),
    "vocab too short": (vocab_too_short, "vocab.json has 17 words but the weights have 18", False),
    "pickled npz": (pickled_weights, "pickle", False),
}


@pytest.mark.parametrize("breakage", BREAKAGES)
def test_a_broken_model_is_refused_with_what_to_do(make_model, store_home, breakage):
    make_model("good", created="2024-01-01T00:00:00+00:00")
    make_model("bad", created="2025-01-01T00:00:00+00:00")  # the most recent, but broken
    damage, problem, seen_without_loading = BREAKAGES[breakage]
    damage(folder_of(store_home, "bad"))
    advice = r"model 'bad' is broken \(.*\): remove it with `autocomplete models rm bad` and train it again"
    with pytest.raises(StoreError, match=advice) as error:
        store.load("bad")
    assert problem in str(error.value) and "\n" not in str(error.value)
    listed = {info.name: info.problem for info in store.list_models(verify=True)}
    assert listed["good"] is None and problem in listed["bad"]
    assert [i.name for i in store.list_models(verify=True)] == ["good", "bad"]  # healthy first
    if seen_without_loading:
        assert store.load()[0].name == "good"  # the default skips a model it can tell is broken
    else:
        with pytest.raises(StoreError, match=advice):
            store.load()  # the most recent by meta.json: refused with the same advice, never a traceback


def test_pickles_are_never_unpickled(make_model, store_home, monkeypatch):
    make_model("evil")
    pickled_weights(folder_of(store_home, "evil"))
    import pickle

    def refuse(*args, **kwargs):
        raise AssertionError("pickle.loads was called")

    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "load", refuse)
    with pytest.raises(StoreError, match="Object arrays cannot be loaded when allow_pickle=False"):
        store.load("evil")


def test_remove(make_model, store_home):
    make_model("m")
    version = folder_of(store_home, "m")
    store.remove("m")
    assert not (store_home / "models" / "m").exists() and not version.exists()
    assert leftovers(store_home) == [] and store.list_models() == []
    with pytest.raises(StoreError, match="no model named 'm'"):
        store.remove("m")
    with pytest.raises(UsageError):
        store.remove("../m")


def test_remove_a_broken_model(make_model, store_home):
    make_model("m")
    break_meta(folder_of(store_home, "m"))
    store.remove("m")
    assert store.list_models() == [] and leftovers(store_home) == []
    assert not [p for p in os.listdir(store_home / "models") if not p.endswith(".lock")]
