"""The model store: names, atomic saves, the training lock, listing broken models, loading untrusted files."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from conftest import leftovers, write_model

from autocomplete import modelfile, store, storefs
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


def test_a_plain_folder_made_by_hand_is_read_but_never_replaced(make_model, store_home):
    make_model("m", seed=1)
    link = store_home / "models" / "m"
    real = link.resolve()
    link.unlink()
    real.rename(link)  # a plain folder, as an older tool or a hand copy would leave
    assert store.load("m")[0].meta["seed"] == 1
    with pytest.raises(StoreError, match="models/m is a folder the store did not make"):
        make_model("m", seed=2, force=True)
    assert not link.is_symlink() and store.load("m")[0].meta["seed"] == 1
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
    assert store.find().name == "new" and store.default_name(store.list_models(verify=True)) == "new"
    info, _ = store.load()
    assert info.name == "new" and info.skipped == () and store.default_note(info) == " (most recent)"


def test_the_default_skips_newer_models_that_do_not_load(make_model, store_home):
    make_model("old", created="2024-01-01T00:00:00+00:00")
    make_model("mid", created="2025-01-01T00:00:00+00:00")
    make_model("new", created="2026-01-01T00:00:00+00:00")
    truncate_weights(folder_of(store_home, "new"))
    (folder_of(store_home, "mid") / modelfile.META_FILE).write_text("{oops")
    assert store.default_name(store.list_models(verify=True)) == "old"
    info, _ = store.load()
    assert info.name == "old" and info.skipped == ("new", "mid")
    note = " (the newest that loads; new, mid are broken: see `autocomplete models`)"
    assert store.default_note(info) == note
    truncate_weights(folder_of(store_home, "old"))
    with pytest.raises(StoreError, match=r"^no usable model: model 'new' is broken \("):
        store.load()


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
    "vocab disagrees": (vocab_disagrees, "vocab.json has 19 words but the n-gram has 18", False),
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
    assert (store.list_models()[-1].problem is not None) == seen_without_loading
    info, _ = store.load()
    assert info.name == "good" and info.skipped == ("bad",)  # the default: the newest that loads
    assert store.find().name == "good"
    assert store.default_note(info) == " (the newest that loads; bad is broken: see `autocomplete models`)"


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


# --- deleting only what the store made ------------------------------------------------------------


def precious(root: Path) -> Path:
    """A folder of the user's, full of files, that the store must never touch."""
    folder = root / "precious"
    (folder / "sub").mkdir(parents=True)
    for i in range(3):
        (folder / f"note{i}.txt").write_text(f"note {i}")
    (folder / "sub" / "deep.txt").write_text("deep")
    return folder


def contents(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): p.read_text() for p in sorted(folder.rglob("*")) if p.is_file()}


PRECIOUS = {"note0.txt": "note 0", "note1.txt": "note 1", "note2.txt": "note 2", "sub/deep.txt": "deep"}


def test_remove_a_link_out_of_the_store_unlinks_it_only(store_home, tmp_path):
    target = precious(tmp_path)
    (store_home / "models").mkdir(parents=True)
    (store_home / "models" / "foo").symlink_to(target)
    removed = store.remove("foo")
    assert contents(target) == PRECIOUS
    assert not os.path.lexists(store_home / "models" / "foo")
    assert removed.note == f"the link pointed at {target}, which was left alone"
    assert leftovers(store_home) == []


def test_remove_an_alias_of_another_model_keeps_that_model(make_model, store_home):
    make_model("small", seed=4)
    version = folder_of(store_home, "small")
    (store_home / "models" / "alias").symlink_to(version.name)
    assert store.load("alias")[0].meta["seed"] == 4
    removed = store.remove("alias")
    assert store.load("small")[0].meta["seed"] == 4 and version.is_dir()
    assert [i.name for i in store.list_models()] == ["small"] and leftovers(store_home) == []
    assert removed.note == "its files were kept: small still points at them"


def test_remove_a_model_another_name_still_points_at_keeps_its_files(make_model, store_home):
    make_model("small", seed=4)
    version = folder_of(store_home, "small")
    (store_home / "models" / "alias").symlink_to(version.name)
    removed = store.remove("small")
    assert removed.note == "its files were kept: alias still points at them"
    assert store.load("alias")[0].meta["seed"] == 4
    assert [i.name for i in store.list_models()] == ["alias"]


def test_remove_a_version_link_that_leaves_the_store_never_follows_it(store_home, tmp_path):
    """models/foo -> .v-foo-12345678 -> /precious: the store's pattern, but not a folder the store made."""
    target = precious(tmp_path)
    models = store_home / "models"
    models.mkdir(parents=True)
    (models / ".v-foo-12345678").symlink_to(target)
    (models / "foo").symlink_to(".v-foo-12345678")
    store.remove("foo")
    assert contents(target) == PRECIOUS and (models / ".v-foo-12345678").is_symlink()
    with store.training_lock("foo", force=False):  # the sweep does not follow it either
        pass
    assert contents(target) == PRECIOUS


@pytest.mark.parametrize("target", ["/nonexistent/where", ".v-ghost-deadbeef"])
def test_a_dangling_link_is_listed_as_broken_and_removed(store_home, target):
    (store_home / "models").mkdir(parents=True)
    (store_home / "models" / "ghost").symlink_to(target)
    problem = f"its link points at {store_home / 'models' / target}, which does not exist"
    assert [(i.name, i.problem) for i in store.list_models()] == [("ghost", problem)]
    with pytest.raises(StoreError, match="model 'ghost' is broken .*: remove it with `autocomplete models"):
        store.load("ghost")
    with pytest.raises(StoreError, match="a model named 'ghost' exists: pass --force"):
        with store.training_lock("ghost", force=False):
            pass  # pragma: no cover: refused before a training, not after it
    removed = store.remove("ghost")
    assert not os.path.lexists(store_home / "models" / "ghost") and leftovers(store_home) == []
    assert removed.note == f"the link pointed at {store_home / 'models' / target}, which does not exist"


def test_remove_refuses_a_plain_folder_put_there_by_hand(store_home):
    hand = precious(store_home / "models").rename(store_home / "models" / "hand")
    message = r"^models/hand is a folder the store did not make: move it away or remove it yourself"
    with pytest.raises(StoreError, match=message):
        store.remove("hand")
    assert contents(hand) == PRECIOUS


def test_force_onto_a_link_out_of_the_store_replaces_the_link_only(store_home, tmp_path):
    target = precious(tmp_path)
    (store_home / "models").mkdir(parents=True)
    (store_home / "models" / "foo").symlink_to(target)
    write_model("foo", seed=2, force=True)
    assert contents(target) == PRECIOUS
    assert store.load("foo")[0].meta["seed"] == 2 and leftovers(store_home) == []


def test_force_onto_an_alias_keeps_the_model_it_pointed_at(make_model, store_home):
    make_model("small", seed=4)
    version = folder_of(store_home, "small")
    (store_home / "models" / "alias").symlink_to(version.name)
    make_model("alias", seed=5, force=True)
    assert store.load("small")[0].meta["seed"] == 4 and store.load("alias")[0].meta["seed"] == 5
    assert leftovers(store_home) == []


def test_force_onto_a_model_an_alias_points_at_keeps_the_old_version_for_the_alias(make_model, store_home):
    make_model("small", seed=4)
    (store_home / "models" / "alias").symlink_to(folder_of(store_home, "small").name)
    make_model("small", seed=5, force=True)
    assert store.load("small")[0].meta["seed"] == 5 and store.load("alias")[0].meta["seed"] == 4


def test_force_onto_a_dangling_link(store_home):
    (store_home / "models").mkdir(parents=True)
    (store_home / "models" / "ghost").symlink_to("/nonexistent/where")
    write_model("ghost", seed=2, force=True)
    assert store.load("ghost")[0].meta["seed"] == 2 and leftovers(store_home) == []


def test_force_onto_a_plain_folder_is_refused_before_training(store_home):
    hand = precious(store_home / "models").rename(store_home / "models" / "hand")
    message = r"^models/hand is a folder the store did not make: move it away or remove it yourself"
    with pytest.raises(StoreError, match=message):
        with store.training_lock("hand", force=True):
            pass  # pragma: no cover
    with pytest.raises(StoreError, match=message):
        write_model("hand", force=True)
    assert contents(hand) == PRECIOUS and leftovers(store_home) == []


def test_the_sweep_spares_a_model_whose_name_starts_with_this_one(make_model, store_home):
    make_model("a-b", seed=3)  # its version folder .v-a-b-xxxxxxxx matches the glob .v-a-*
    with store.training_lock("a", force=False):
        pass
    assert store.load("a-b")[0].meta["seed"] == 3


def test_the_sweep_spares_a_version_folder_another_name_points_at(make_model, store_home):
    make_model("m", seed=1)
    old = folder_of(store_home, "m")
    (store_home / "models" / "keep").symlink_to(old.name)
    (store_home / "models" / "m").unlink()  # m's link is gone (say, removed): keep still uses the folder
    with store.training_lock("m", force=False):
        pass
    assert store.load("keep")[0].meta["seed"] == 1


def test_a_models_folder_that_is_a_link_still_works(tmp_path, monkeypatch):
    real = tmp_path / "elsewhere"
    real.mkdir()
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "models").symlink_to(real)
    monkeypatch.setenv("AUTOCOMPLETE_HOME", str(tmp_path / "home"))
    write_model("m", seed=1)
    write_model("m", seed=2, force=True)
    assert store.load("m")[0].meta["seed"] == 2 and len(list(real.glob(".v-m-*"))) == 1
    store.remove("m")
    assert list(real.iterdir()) == []


# --- no leftovers: lock files ---------------------------------------------------------------------


def lock_files(home: Path) -> list[str]:
    return sorted(p.name for p in (home / "models").glob(".*.lock"))


def test_the_lock_file_goes_when_the_lock_is_released(make_model, store_home):
    with store.training_lock("m", force=False):
        assert lock_files(store_home) == [".m.lock"]
        with pytest.raises(StoreError, match="another `autocomplete train` is writing"):
            with store.training_lock("m", force=False):
                pass  # pragma: no cover
        assert lock_files(store_home) == [".m.lock"]  # the refused one did not take the holder's file
    assert lock_files(store_home) == []
    make_model("m")
    with pytest.raises(StoreError, match="exists: pass --force"):
        with store.training_lock("m", force=False):
            pass  # pragma: no cover
    with pytest.raises(RuntimeError, match="boom"):
        with store.training_lock("m", force=True):
            raise RuntimeError("boom")
    store.remove("m")
    assert lock_files(store_home) == [] and leftovers(store_home) == []


def test_remove_refuses_while_a_training_holds_the_name(make_model, store_home):
    make_model("m")
    with store.training_lock("m", force=True):
        with pytest.raises(StoreError, match="another `autocomplete train` is writing model 'm'"):
            store.remove("m")
    assert store.load("m")


# --- the environment ------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["", "  "])
def test_an_empty_autocomplete_home_is_refused(monkeypatch, value):
    monkeypatch.setenv("AUTOCOMPLETE_HOME", value)
    with pytest.raises(StoreError, match="^AUTOCOMPLETE_HOME is set but empty: unset it or give a folder$"):
        store.models_dir()


def test_a_lock_file_its_holder_unlinked_is_never_held(store_home, monkeypatch):
    """The holder lets go (unlinks, closes) between a newcomer's open and flock: the newcomer must not keep
    a lock on the unlinked file, or a third run would lock a fresh file beside it and both would write."""
    import fcntl

    folder = store.models_dir()
    folder.mkdir(parents=True)
    holder = storefs.name_lock(folder, "m")
    holder.__enter__()
    real_flock, calls = fcntl.flock, []

    def release_first(fd, operation):  # the one way to force this interleaving in one process
        if not calls:
            holder.__exit__(None, None, None)
        calls.append(os.fstat(fd).st_ino)
        return real_flock(fd, operation)

    monkeypatch.setattr(fcntl, "flock", release_first)
    with storefs.name_lock(folder, "m"):
        assert len(calls) == 2 and calls[1] == os.stat(folder / ".m.lock").st_ino
        with pytest.raises(StoreError, match="another `autocomplete train` is writing model 'm'"):
            with storefs.name_lock(folder, "m"):
                pass  # pragma: no cover
    assert lock_files(store_home) == []
