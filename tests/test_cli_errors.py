"""The CLI's error path: each error names its exit status, and user text in a message (model names, file
names, typed text) is shown as it is, never read as rich markup."""

from __future__ import annotations

import pytest
import typer

from autocomplete.cli import friendly_errors
from autocomplete.errors import CorpusError, ExitStatus, Interrupted, StoreError, UsageError


def test_the_exit_statuses_are_the_readme_list():
    assert {s.name: int(s) for s in ExitStatus} == {"SUCCESS": 0, "ERROR": 1, "USAGE": 2, "INTERRUPTED": 130}


@pytest.mark.parametrize(
    ("raised", "status"),
    [
        (CorpusError("x"), ExitStatus.ERROR),
        (StoreError("x"), ExitStatus.ERROR),
        (UsageError("x"), ExitStatus.USAGE),
        (Interrupted("x"), ExitStatus.INTERRUPTED),
        (KeyboardInterrupt(), ExitStatus.INTERRUPTED),
    ],
)
def test_each_error_exits_with_its_status(raised, status, capsys):
    @friendly_errors
    def command():
        raise raised

    with pytest.raises(typer.Exit) as exit_:
        command()
    assert exit_.value.exit_code == status
    assert capsys.readouterr().out == ""
