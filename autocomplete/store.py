"""The model store: one folder per model under $AUTOCOMPLETE_HOME (or the user data directory).

What a model folder holds is modelfile.py's business (its format and its checks). models/NAME is a
symbolic link to a hidden version folder (.v-NAME-xxxx): a model is written into a fresh version folder
and the link is swapped in one atomic rename, so a reader, which resolves the link once and reads every
file from that one folder, gets the old model or the new one, never a mixture, and never finds the name
missing. The store deletes only version folders it made that no name points at
(`storefs.delete_version`); a link it did not make is unlinked, never followed.
"""

from __future__ import annotations

import contextlib
import os
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from autocomplete import modelfile
from autocomplete.errors import StoreError, UsageError
from autocomplete.inference import Predictor
from autocomplete.storefs import VERSION_PREFIX, delete_version, name_lock, real_path

_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")
_TEMP_PREFIX = ".tmp-"


def home() -> Path:
    env = os.environ.get("AUTOCOMPLETE_HOME")
    if env is not None:
        if not env.strip():  # a typo'd export must not silently mean the user data folder
            raise StoreError("AUTOCOMPLETE_HOME is set but empty: unset it or give a folder")
        return Path(env).expanduser()
    import platformdirs  # only here: most commands never need it

    return platformdirs.user_data_path("autocomplete")


def models_dir() -> Path:
    return home() / "models"


def history_path() -> Path:
    return home() / "history"


def check_name(name: str) -> str:
    """A model name is 1-64 letters, digits, '-', '_' or '.', not starting with '.' or '-'."""
    if not _NAME.fullmatch(name) or ".." in name:
        shown = name if name.isprintable() and len(name) <= 70 else repr(name[:70])
        raise UsageError(
            f"invalid model name {shown}: use 1-64 letters, digits, '-', '_' or '.', "
            "starting with a letter or digit"
        )
    return name


def name_from_path(path: Path) -> str:
    """A valid model name made from a corpus file's stem ("Hamlet (1603).txt" -> "Hamlet-1603")."""
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "-", path.stem).strip(".-")[:64] or "model"
    return stem.replace("..", ".")


@dataclass(frozen=True)
class ModelInfo:
    """A model folder as listed: its meta.json, or why it cannot be used."""

    name: str
    path: Path  # models/NAME, the link
    meta: dict
    problem: str | None = None
    folder: Path | None = None  # the version folder the link pointed at when meta.json was read
    skipped: tuple[str, ...] = ()  # as the default: the newer models passed over because they do not load

    @property
    def created(self) -> str:
        return str(self.meta.get("created", ""))  # str: a hand-edited number must not break sorting

    @property
    def created_display(self) -> str:
        return modelfile.created_display(self.created)


def list_models(verify: bool = False) -> list[ModelInfo]:
    """All models, newest first; broken ones are listed with their problem, after the healthy ones.

    Without `verify` only meta.json is read and the files' presence checked (fast, for picking the default);
    with it every model is loaded, so corrupt weights or a vocabulary that disagrees with them show too.
    """
    folder = models_dir()
    if not folder.is_dir():
        return []
    links = [p for p in folder.iterdir() if (p.is_dir() or p.is_symlink()) and not p.name.startswith(".")]
    infos = [_read_link(p) for p in links]
    if verify:
        infos = [_check(i)[0] for i in infos]
    healthy = sorted((i for i in infos if not i.problem), key=lambda i: i.created, reverse=True)
    broken = sorted((i for i in infos if i.problem), key=lambda i: i.name)
    return healthy + broken


MAX_REPLACED_WHILE_READING = 100  # versions a load follows before it gives up


def _read_link(link: Path, attempts: int = 5) -> ModelInfo:
    """Read models/NAME through its link; if the version folder vanishes under us (replaced), read the new
    one."""
    for _ in range(attempts):
        folder = real_path(link)
        if folder.is_dir():
            info = _read_info(folder, link.name)
        else:
            info = ModelInfo(link.name, link, {}, f"its link points at {folder}, which does not exist")
        if not info.problem or real_path(link) == folder:
            break  # healthy, or broken for real: the link still points where we read
    return ModelInfo(info.name, link, info.meta, info.problem, folder)


def _read_info(path: Path, name: str | None = None) -> ModelInfo:
    """The model at `path` (its link or its version folder), described by its meta.json."""
    meta, problem = modelfile.read_meta(path)
    return ModelInfo(name or path.name, path, meta, problem)


def _check(info: ModelInfo, retries: int = 3) -> tuple[ModelInfo, Predictor | None]:
    """The model's predictor, or the model with why it does not load (the one test of "healthy"). Files
    vanishing while we read mean the model was replaced: read the new version, as long as the link moves
    on (a model retrained over and over), and `retries` more times when it does not."""
    misses = 0
    for _ in range(MAX_REPLACED_WHILE_READING):
        if info.problem:
            return info, None
        try:
            return info, modelfile.load(info.folder, info.meta)
        except FileNotFoundError:
            newer = _read_link(info.path)
            misses += newer.folder == info.folder
            if misses > retries:
                break
            info = newer
        except modelfile.LOAD_ERRORS as e:
            return replace(info, problem=_describe(e)), None
    return replace(info, problem="its files vanished"), None


def default_name(infos: list[ModelInfo]) -> str | None:
    """The default model among list_models(verify=True): the newest that loads (what load(None) picks)."""
    return next((info.name for info in infos if not info.problem), None)


def default_note(info: ModelInfo) -> str:
    """What a front end adds to the default model's name: whether it is the newest, or what was skipped."""
    if not info.skipped:
        return " (most recent)"
    verb = "is" if len(info.skipped) == 1 else "are"
    return f" (the newest that loads; {', '.join(info.skipped)} {verb} broken: see `autocomplete models`)"


def find(name: str | None = None) -> ModelInfo:
    """The named model, or the default one (the newest that loads)."""
    if name is None:
        return load()[0]
    path = models_dir() / check_name(name)
    if not os.path.lexists(path):
        known = ", ".join(i.name for i in list_models()) or "none yet"
        raise StoreError(f"no model named {name!r} (models: {known}); see `autocomplete models`")
    info = _read_link(path)
    if info.problem:
        raise StoreError(_advice(info))
    return info


def _advice(info: ModelInfo) -> str:
    return (
        f"model {info.name!r} is broken ({info.problem}): "
        f"remove it with `autocomplete models rm {info.name}` and train it again"
    )


def load(name: str | None = None) -> tuple[ModelInfo, Predictor]:
    """The model's numpy predictor (never TensorFlow), read from the one version folder its meta.json came
    from. Without a name, the newest model that loads; its `skipped` names the newer ones that do not."""
    if name is not None:
        info, predictor = _check(find(name))
        if predictor is None:
            raise StoreError(_advice(info))
        return info, predictor
    infos = list_models()
    if not infos:
        raise StoreError(
            "no trained model yet: run `autocomplete train FILE` "
            "(or `autocomplete train` for the bundled corpus)"
        )
    failed = []
    for info in infos:  # newest first: loading stops at the first that works
        checked, predictor = _check(info)
        if predictor is None:
            failed.append(checked)
            continue
        # also the models broken from their meta.json alone (listed last), when newer or of unknown age
        newer = [i.name for i in infos if i.problem and (not i.created or i.created > checked.created)]
        return replace(checked, skipped=tuple(i.name for i in failed) + tuple(newer)), predictor
    raise StoreError(f"no usable model: {_advice(failed[0])}")


def _describe(error: Exception) -> str:
    text = str(error).splitlines()[0] if str(error) else type(error).__name__
    return text[:120]


@dataclass(frozen=True)
class Removed:
    path: Path  # models/NAME, now gone
    note: str | None = None  # why its target was left in place, if it was


def remove(name: str) -> Removed:
    """Unlink models/NAME, and delete its version folder if the store made it and no other name uses it."""
    folder = models_dir()
    link = folder / check_name(name)
    if not os.path.lexists(link):
        raise StoreError(f"no model named {name!r}; see `autocomplete models`")
    _refuse_plain_folder(link)
    try:
        with name_lock(folder, name):
            target = real_path(link)
            os.unlink(link)  # atomic: the name is gone at once, the files go after
    except OSError as e:
        raise StoreError(f"cannot remove model {name!r}: {e.strerror or e} (in {folder})") from None
    if delete_version(folder, target, name):
        return Removed(link)
    users = sorted(p.name for p in folder.iterdir() if p.is_symlink() and not p.name.startswith("."))
    users = [user for user in users if real_path(folder / user) == target]
    if users:
        verb = "points" if len(users) == 1 else "point"
        return Removed(link, f"its files were kept: {', '.join(users)} still {verb} at them")
    if not os.path.lexists(target):
        return Removed(link, f"the link pointed at {target}, which does not exist")
    return Removed(link, f"the link pointed at {target}, which was left alone")


def _refuse_plain_folder(link: Path) -> None:
    if link.is_dir() and not link.is_symlink():
        raise StoreError(
            f"models/{link.name} is a folder the store did not make: move it away or remove it yourself "
            f"({link})"
        )


@contextlib.contextmanager
def training_lock(name: str, force: bool) -> Iterator[None]:
    """Held for a whole training run: a second run to the same name refuses at once instead of racing."""
    folder = _writable_models_dir()
    link = folder / check_name(name)
    with name_lock(folder, name):
        _refuse_plain_folder(link)
        if os.path.lexists(link) and not force:
            raise StoreError(
                f"a model named {name!r} exists: pass --force to replace it, or --name to choose another"
            )
        _sweep(folder, name)
        yield


def _sweep(folder: Path, name: str) -> None:
    """Remove what a crashed run left for this name: its version folders that no link points at."""
    for path in folder.iterdir():
        delete_version(folder, path, name)


@contextlib.contextmanager
def writing(name: str, force: bool) -> Iterator[Path]:
    """A fresh version folder to write the model into; on success models/NAME is switched to it atomically."""
    folder = _writable_models_dir()
    link = folder / check_name(name)
    _refuse_plain_folder(link)
    version = folder / f"{VERSION_PREFIX}{name}-{uuid.uuid4().hex[:8]}"
    new_link = folder / f"{_TEMP_PREFIX}link-{name}-{uuid.uuid4().hex[:8]}"
    version.mkdir()
    try:
        yield version
        _fsync_folder(version)
        if os.path.lexists(link) and not force:
            raise StoreError(f"a model named {name!r} exists: pass --force to replace it")
        _refuse_plain_folder(link)
        old = real_path(link) if link.is_symlink() else None
        os.symlink(version.name, new_link)
        os.replace(new_link, link)  # the one atomic step: readers see the old model or the new one
        if old is not None:
            delete_version(folder, old, name)  # only the store's own, and only if no other name uses it
    except OSError as e:  # disk full, permissions changed under us, ...
        _discard(folder, version, new_link, name)
        raise StoreError(f"cannot save model {name!r}: {e.strerror or e}; nothing was changed") from None
    except BaseException:
        _discard(folder, version, new_link, name)
        raise


def _discard(folder: Path, version: Path, new_link: Path, name: str) -> None:
    with contextlib.suppress(OSError):
        new_link.unlink(missing_ok=True)
    delete_version(folder, version, name)


def _fsync_folder(folder: Path) -> None:
    """Every file of `folder` and its subfolders (the n-gram's) on disk, and the subfolders' entries."""
    for path in folder.iterdir():
        if path.is_dir():
            _fsync_folder(path)
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _writable_models_dir() -> Path:
    folder = models_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f"{_TEMP_PREFIX}probe-{uuid.uuid4().hex[:8]}"
        probe.touch()
        probe.unlink()
    except OSError as e:
        raise StoreError(
            f"cannot write to the model store {folder}: {e.strerror or e} "
            "(set AUTOCOMPLETE_HOME to a writable folder)"
        ) from None
    return folder
