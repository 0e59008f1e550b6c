"""Start-up without the cyclic garbage collector (autocomplete/gcpause.py): paused by `main`, collecting
again once a command's own work begins, or, for the REPL, once its prompt is drawn."""

from __future__ import annotations

import gc
import sys

import pytest
from typer.testing import CliRunner

from autocomplete import cli, gcpause
from autocomplete.errors import ExitStatus


@pytest.fixture
def paused_gc():
    """The collector paused as `main` leaves it; afterwards the test process's objects are collectable
    again (unfrozen) and the collector on."""
    gc.disable()
    yield
    gc.unfreeze()
    gc.enable()


def test_main_pauses_the_collector_while_the_command_line_is_parsed(monkeypatch):
    monkeypatch.setattr(sys, "argv", ["autocomplete", "--version"])  # answered while parsing
    try:
        with pytest.raises(SystemExit):
            cli.main()
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_a_command_runs_with_the_collector_on_and_start_up_frozen(paused_gc):
    @cli.friendly_errors
    def command():
        return gc.isenabled(), gc.get_freeze_count()

    enabled, frozen = command()
    assert enabled
    assert frozen > 0


def test_resume_is_a_no_op_when_the_collector_runs():
    assert gc.isenabled()
    gcpause.resume()
    assert gc.isenabled()
    assert gc.get_freeze_count() == 0


def test_a_repl_that_cannot_start_leaves_the_collector_on(store_home):
    result = CliRunner().invoke(cli.app, ["repl", "--model", "nope"])  # no terminal here, and no model
    assert result.exit_code == ExitStatus.USAGE
    assert gc.isenabled()
