"""The model store's two file-system guards: the one recursive delete, and the lock on a model name.

Every folder the store deletes goes through `delete_version`, which follows no link and deletes only a
version folder the store itself made; `name_lock` makes a second writer of a name refuse at once and
leaves no lock file behind.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

from autocomplete.errors import StoreError

VERSION_PREFIX = ".v-"  # models/.v-NAME-xxxxxxxx: a version folder the store made for NAME


def real_path(path: Path) -> Path:
    """`path` with every link followed (a link loop does not raise, unlike Path.resolve on 3.11)."""
    return Path(os.path.realpath(path))


def delete_version(folder: Path, version: Path, name: str) -> bool:
    """Delete `version` only if it is a version folder the store made for `name` (.v-NAME-xxxxxxxx, a real
    folder, not a link, directly inside the resolved models/ `folder`) that no link in `folder` points at.
    True if it was deleted."""
    if (
        not re.fullmatch(rf"{re.escape(VERSION_PREFIX + name)}-[0-9a-f]{{8}}", version.name)
        or version.is_symlink()
        or not version.is_dir()
        or real_path(version).parent != real_path(folder)
        or real_path(version) in {real_path(p) for p in folder.iterdir() if p.is_symlink()}
    ):
        return False
    shutil.rmtree(version, ignore_errors=True)  # rmtree unlinks the links inside; it never follows them
    return True


@contextlib.contextmanager
def name_lock(folder: Path, name: str) -> Iterator[None]:
    """An exclusive flock on models/.NAME.lock, refused at once (StoreError) if held; the file goes on
    release."""
    path = folder / f".{name}.lock"
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise StoreError(
                f"another `autocomplete train` is writing model {name!r} right now: wait for it"
            ) from None
        if _same_file(fd, path):
            break
        os.close(fd)  # its holder unlinked this file as it let go, after we opened it: lock the current one
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)  # while still locked, so a newcomer who opened it sees it gone and retries
        os.close(fd)


def _same_file(fd: int, path: Path) -> bool:
    try:
        on_disk = os.stat(path)
    except FileNotFoundError:
        return False
    held = os.fstat(fd)
    return (on_disk.st_dev, on_disk.st_ino) == (held.st_dev, held.st_ino)
