"""The model store: one folder per model under $AUTOCOMPLETE_HOME (or the user data directory).

What a model folder holds is modelfile.py's business (its format and its checks). models/NAME is a
symbolic link to a hidden version folder (.v-NAME-xxxx): a model is written into a fresh version folder
and the link is swapped in one atomic rename, so a reader, which resolves the link once and reads every
file from that one folder, gets the old model or the new one, never a mixture, and never finds the name
missing.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from autocomplete import modelfile
from autocomplete.errors import StoreError, UsageError
from autocomplete.inference import Predictor

_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")
_TEMP_PREFIX = ".tmp-"
_VERSION_PREFIX = ".v-"


def home() -> Path:
    env = os.environ.get("AUTOCOMPLETE_HOME")
    if env:
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
    infos = [_read_link(p) for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")]
    if verify:
        infos = [_verified(i) for i in infos]
    healthy = sorted((i for i in infos if not i.problem), key=lambda i: i.created, reverse=True)
    broken = sorted((i for i in infos if i.problem), key=lambda i: i.name)
    return healthy + broken


def _read_link(link: Path, attempts: int = 5) -> ModelInfo:
    """Read models/NAME through its link; if the version folder vanishes under us (replaced), read the new
    one."""
    for _ in range(attempts):
        folder = link.resolve()
        info = _read_info(folder, link.name)
        if not info.problem or link.resolve() == folder:
            break  # healthy, or broken for real: the link still points where we read
    return ModelInfo(info.name, link, info.meta, info.problem, folder)


def _read_info(path: Path, name: str | None = None) -> ModelInfo:
    """The model at `path` (its link or its version folder), described by its meta.json."""
    meta, problem = modelfile.read_meta(path)
    return ModelInfo(name or path.name, path, meta, problem)


def _verified(info: ModelInfo) -> ModelInfo:
    if info.problem:
        return info
    try:
        modelfile.load(info.folder, info.meta)
    except modelfile.LOAD_ERRORS as e:
        return ModelInfo(info.name, info.path, info.meta, _describe(e), info.folder)
    return info


def find(name: str | None = None) -> ModelInfo:
    """The named model, or the most recently trained one."""
    if name is None:
        models = list_models()
        if not models:
            raise StoreError(
                "no trained model yet: run `autocomplete train FILE` "
                "(or `autocomplete train` for the bundled corpus)"
            )
        if models[0].problem:
            raise StoreError(f"no usable model: {_advice(models[0])}")
        return models[0]
    path = models_dir() / check_name(name)
    if not path.is_dir():
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


def load(name: str | None = None, retries: int = 3) -> tuple[ModelInfo, Predictor]:
    """The model's numpy predictor (never TensorFlow), read from the one version folder its meta.json came
    from."""
    for attempt in range(retries + 1):
        info = find(name)
        try:
            return info, modelfile.load(info.folder, info.meta)
        except FileNotFoundError:
            # Replaced while we read: the old version folder was deleted under us; the new one is in place.
            if attempt == retries:
                vanished = ModelInfo(info.name, info.path, info.meta, "its files vanished")
                raise StoreError(_advice(vanished)) from None
        except modelfile.LOAD_ERRORS as e:
            raise StoreError(_advice(ModelInfo(info.name, info.path, info.meta, _describe(e)))) from None
    raise AssertionError("unreachable")


def _describe(error: Exception) -> str:
    text = str(error).splitlines()[0] if str(error) else type(error).__name__
    return text[:120]


def remove(name: str) -> Path:
    link = models_dir() / check_name(name)
    if not link.is_symlink() and not link.is_dir():
        raise StoreError(f"no model named {name!r}; see `autocomplete models`")
    version = link.resolve()
    trash = link.with_name(f"{_TEMP_PREFIX}rm-{name}-{uuid.uuid4().hex[:8]}")
    os.rename(link, trash)  # atomic: the name is gone at once, the files go after
    for path in (trash, version):
        if path.is_symlink():
            path.unlink()
        elif path.exists():
            shutil.rmtree(path, ignore_errors=True)
    return link


@contextlib.contextmanager
def training_lock(name: str, force: bool) -> Iterator[None]:
    """Held for a whole training run: a second run to the same name refuses at once instead of racing."""
    folder = _writable_models_dir()
    lock_path = folder / f".{check_name(name)}.lock"
    with open(lock_path, "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise StoreError(
                f"another `autocomplete train` is writing model {name!r} right now: wait for it"
            ) from None
        if (folder / name).exists() and not force:
            raise StoreError(
                f"a model named {name!r} exists: pass --force to replace it, or --name to choose another"
            )
        _sweep(folder, name)
        yield


def _sweep(folder: Path, name: str) -> None:
    """Remove what a crashed run left for this name: version folders the link does not point at."""
    current = (folder / name).resolve() if (folder / name).is_symlink() else None
    for path in folder.glob(f"{_VERSION_PREFIX}{name}-*"):
        if path != current:
            shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def writing(name: str, force: bool) -> Iterator[Path]:
    """A fresh version folder to write the model into; on success models/NAME is switched to it atomically."""
    folder = _writable_models_dir()
    link = folder / check_name(name)
    version = folder / f"{_VERSION_PREFIX}{name}-{uuid.uuid4().hex[:8]}"
    version.mkdir()
    try:
        yield version
        _fsync_folder(version)
        if (link.exists() or link.is_symlink()) and not force:
            raise StoreError(f"a model named {name!r} exists: pass --force to replace it")
        old = link.resolve() if link.is_symlink() else None
        if link.is_dir() and not link.is_symlink():  # a plain folder put there by hand: move it aside first
            old = folder / f"{_TEMP_PREFIX}old-{name}-{uuid.uuid4().hex[:8]}"
            os.rename(link, old)
        new_link = folder / f"{_TEMP_PREFIX}link-{name}-{uuid.uuid4().hex[:8]}"
        os.symlink(version.name, new_link)
        os.replace(new_link, link)  # the one atomic step: readers see the old model or the new one
        if old is not None and old != version:
            shutil.rmtree(old, ignore_errors=True)
    except OSError as e:  # disk full, permissions changed under us, ...
        shutil.rmtree(version, ignore_errors=True)
        raise StoreError(f"cannot save model {name!r}: {e.strerror or e}; nothing was changed") from None
    except BaseException:
        shutil.rmtree(version, ignore_errors=True)
        raise


def _fsync_folder(folder: Path) -> None:
    for path in folder.iterdir():
        with open(path, "rb") as f:
            os.fsync(f.fileno())


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

