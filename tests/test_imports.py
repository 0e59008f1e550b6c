"""No TensorFlow on the interactive path: predict, models and --help run in fresh processes without it."""

from __future__ import annotations

import json
import os
import pkgutil
import subprocess
import sys

import pytest

import autocomplete

HEAVY = ("tensorflow", "keras")
SLOW = ("pydantic",)  # typer 0.29 parses arguments with it: 0.15 s of a 0.5 s `predict`
SLOW_MODULES = ("rich.progress",)  # training's and learn's bars only: ~9 ms of every `predict` otherwise
TRAINING_MODULES = {"autocomplete.train", "autocomplete.trainer", "autocomplete.model"}  # may import Keras


def python(*args: str, home=None, input: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "100"}
    if home is not None:
        env["AUTOCOMPLETE_HOME"] = str(home)
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, env=env, input=input, timeout=120
    )


def imported(importtime_stderr: str) -> set[str]:
    """Module names from `-X importtime` lines ("import time: self | cumulative | name")."""
    names = set()
    for line in importtime_stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip())
    return names


def heavy(names) -> list[str]:
    return sorted(n for n in names if n.split(".")[0] in HEAVY)


@pytest.mark.parametrize(
    "args",
    [
        ["predict", "to be or", "--model", "m"],
        ["predict", "the c", "--json"],
        ["--help"],
        ["models"],
        ["predict", "--help"],
        ["generate", "the", "--words", "5", "--model", "m"],
        ["models", "--json"],
        ["--version"],
    ],
    ids=[
        "predict",
        "predict --json",
        "--help",
        "models",
        "predict --help",
        "generate",
        "models --json",
        "--version",
    ],
)
def test_commands_never_import_tensorflow_pydantic_or_progress_bars(make_model, store_home, args):
    make_model("m")
    result = python("-X", "importtime", "-m", "autocomplete", *args, home=store_home)
    assert result.returncode == 0, result.stderr[-2000:]
    names = imported(result.stderr)
    assert "autocomplete.cli" in names  # the parse worked
    assert heavy(names) == []
    assert sorted(n for n in names if n.split(".")[0] in SLOW) == []
    assert sorted(n for n in names if n in SLOW_MODULES) == []


def test_predict_stdin_never_imports_tensorflow(make_model, store_home):
    make_model("m")
    script = (
        "import sys\n"
        "from autocomplete.cli import app\n"
        "try:\n"
        "    app(['predict', '--stdin', '--json'])\n"
        "except SystemExit as e:\n"
        "    assert not e.code, e.code\n"
        "print('HEAVY', sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras')))\n"
    )
    result = python("-c", script, home=store_home, input="the c\nthe \n")
    assert result.returncode == 0, result.stderr[-2000:]
    answers, last = result.stdout.splitlines()[:-1], result.stdout.splitlines()[-1]
    assert [json.loads(a)["text"] for a in answers] == ["the c", "the "]
    assert last == "HEAVY []"


def test_no_core_module_imports_tensorflow_at_import_time():
    modules = sorted(
        m.name
        for m in pkgutil.walk_packages(autocomplete.__path__, "autocomplete.")
        if m.name not in TRAINING_MODULES and m.name != "autocomplete.__main__"
    )
    script = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras')))\n"
    )
    result = python("-c", script)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "[]"
    assert "autocomplete.cli" in modules and "autocomplete.store" in modules
