"""The project's exception types and exit statuses. Core code raises these; the CLI turns them into one-line
messages and the exit status each one names."""

from enum import IntEnum


class ExitStatus(IntEnum):
    """Every exit code a command returns; the README lists the same."""

    SUCCESS = 0
    ERROR = 1  # a problem with a file or a model
    USAGE = 2  # a bad option or argument (typer's own usage errors exit 2 as well)
    INTERRUPTED = 130  # 128 + SIGINT, as shells report a Ctrl-C


class AutocompleteError(Exception):
    """A problem the user can fix; str(error) is the one-line message shown to them."""

    status = ExitStatus.ERROR


class CorpusError(AutocompleteError):
    """A corpus file is missing, unreadable, empty, not text or too large."""


class StoreError(AutocompleteError):
    """A model is missing, broken, or cannot be saved."""


class UsageError(AutocompleteError):
    """An option value is out of range."""

    status = ExitStatus.USAGE


class ClusterError(AutocompleteError):
    """A worker of a multi-worker training died or stopped answering: the cluster cannot go on."""


class Interrupted(AutocompleteError):
    """Ctrl-C or SIGTERM stopped the work; the message says what, if anything, was kept."""

    status = ExitStatus.INTERRUPTED


class DiskError(AutocompleteError):
    """A temporary file could not be written: the disk is full, or the folder is not writable."""
