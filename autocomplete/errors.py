"""The project's exception types. Core code raises these; the CLI turns them into one-line messages."""


class AutocompleteError(Exception):
    """A problem the user can fix; str(error) is the one-line message shown to them."""


class CorpusError(AutocompleteError):
    """A corpus file is missing, unreadable, empty, not text or too large."""


class StoreError(AutocompleteError):
    """A model is missing, broken, or cannot be saved."""


class UsageError(AutocompleteError):
    """An option value is out of range."""


class Interrupted(AutocompleteError):
    """Ctrl-C or SIGTERM stopped the work before anything worth keeping was done."""


class DiskError(AutocompleteError):
    """A temporary file could not be written: the disk is full, or the folder is not writable."""
