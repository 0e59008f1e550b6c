"""The conventions of a polished CLI: --version, shell completion of model names (bash in a real bash; zsh and
fish through the protocol their scripts speak), `models --json`, every `train` default in its help, help and
the `models` table at 80 columns and piped without a cut name."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import pytest
from conftest import write_model
from typer.testing import CliRunner

from autocomplete import __version__, modelfile, store
from autocomplete.cli import app
from autocomplete.config import TrainConfig

EXECUTABLE = Path(sys.executable).with_name("autocomplete")  # the installed command (pip install -e .)
LONG_NAME = "the-longest-name-a-model-may-have-" + "x" * 30  # 64 characters


def run80(*args: str):
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "80"})


def collapsed(text: str) -> str:
    """Help text with the boxes and the wrapping taken out: words separated by single spaces."""
    return " ".join(re.sub(r"[│╭╮╰╯─]", " ", text).split())


def test_version():
    result = run80("--version")
    assert result.exit_code == 0 and result.stdout == f"autocomplete {__version__}\n"


# --- models --json ---------------------------------------------------------------------------------


def test_models_json_lists_every_model_with_its_problem(store_home):
    write_model("old", created="2024-01-01T00:00:00+00:00")
    write_model("new", created="2025-01-01T00:00:00+00:00")
    write_model("broken", created="2026-01-01T00:00:00+00:00")
    (store_home / "models" / "broken" / modelfile.WEIGHTS_FILE).write_bytes(b"not a zip file")
    result = run80("models", "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [(r["name"], r["default"]) for r in rows] == [("new", True), ("old", False), ("broken", False)]
    assert set(rows[0]) == {"name", "default", "corpus", "vocab_size", "context", "validation_perplexity",
                            "created", "words_learned", "problem"}  # fmt: skip
    assert rows[0]["created"] == "2025-01-01T00:00:00+00:00" and rows[0]["context"] == 2
    assert rows[0]["validation_perplexity"] is None and rows[0]["problem"] is None
    assert rows[2]["problem"] == store.list_models(verify=True)[2].problem != None  # noqa: E711


def test_models_json_with_no_store_is_an_empty_list(store_home):
    result = run80("models", "--json")
    assert result.exit_code == 0 and json.loads(result.stdout) == []


# --- help ------------------------------------------------------------------------------------------


def test_train_help_shows_every_default():
    text = collapsed(run80("train", "--help").stdout)
    for field in fields(TrainConfig):
        value = getattr(TrainConfig(), field.name)
        option = field.name.replace("_", "-")
        if isinstance(value, bool):
            shown = f"--{option}" if value else f"--no-{option}"
        else:
            shown = str(value)
        assert f"[default: ({shown})]" in text, (field.name, shown)
    assert "[default: default]" in text  # --preset


COMMANDS = [
    [],
    ["train"],
    ["predict"],
    ["evaluate"],
    ["repl"],
    ["generate"],
    ["lsp"],
    ["models"],
    ["models", "rm"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "autocomplete")
def test_help_fits_80_columns_with_whole_option_names(command):
    result = run80(*command, "--help")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert "…" not in result.stdout
    import typer.main

    click_command = typer.main.get_command(app)
    for name in command:
        click_command = click_command.commands[name]
    for param in click_command.params:
        for option in param.opts + param.secondary_opts:
            if option.startswith("--"):
                assert re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", result.stdout), option


# --- the models table ------------------------------------------------------------------------------


def test_models_table_at_80_columns_shows_whole_names(store_home):
    write_model(LONG_NAME)
    write_model("notes")
    result = run80("models")
    assert result.exit_code == 0, result.output
    assert "…" not in result.stdout
    assert LONG_NAME in result.stdout and "notes" in result.stdout
    assert max(len(line) for line in result.stdout.splitlines()) <= 80


def test_models_table_piped_shows_whole_names_and_headers(store_home):
    write_model("shakespeare-complete-works")
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    result = subprocess.run([sys.executable, "-m", "autocomplete", "models"], capture_output=True, text=True,
                            env=env, timeout=60)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "…" not in result.stdout and "shakespeare-complete-works" in result.stdout
    header = next(line for line in result.stdout.splitlines() if "name" in line)
    assert "vocabulary" in header and "created" in header  # 80 columns hold these whole; context may go


# --- shell completion ------------------------------------------------------------------------------


@pytest.fixture
def three_models(store_home):
    for name in ("notes", "novel", "poems"):
        write_model(name)
    (store_home / "models" / "novel" / modelfile.WEIGHTS_FILE).write_bytes(b"broken: listed all the same")
    return store_home


def complete(shell: str, words: str, home: Path) -> str:
    """What the completion protocol answers for the command line `words` (the cursor after its last word)."""
    env = {**os.environ, "AUTOCOMPLETE_HOME": str(home), "_AUTOCOMPLETE_COMPLETE": f"complete_{shell}",
           "_TYPER_COMPLETE_ARGS": words, "_TYPER_COMPLETE_FISH_ACTION": "get-args"}  # fmt: skip
    result = subprocess.run([str(EXECUTABLE)], capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.parametrize(
    ("words", "names"),
    [
        ("autocomplete predict --model no", ["notes", "novel"]),
        ("autocomplete repl -m p", ["poems"]),
        ("autocomplete generate x --model ", ["notes", "novel", "poems"]),
        ("autocomplete lsp --model n", ["notes", "novel"]),
        ("autocomplete models rm no", ["notes", "novel"]),
    ],
)
def test_bash_completes_model_names(three_models, words, names):
    # The shell named, not detected: detection walks the process tree, which a detached run lacks.
    script = subprocess.run([str(EXECUTABLE), "--show-completion", "bash"], capture_output=True, text=True,
                            env={**os.environ, "_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"},
                            timeout=60)  # fmt: skip
    assert "_AUTOCOMPLETE_COMPLETE=complete_bash" in script.stdout, script.stdout + script.stderr
    parts = words.split() + ([""] if words.endswith(" ") else [])
    program = (
        f"{script.stdout}\nCOMP_WORDS=({' '.join(map(shlex.quote, parts))}); COMP_CWORD={len(parts) - 1}\n"
        '_autocomplete_completion autocomplete\nprintf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    env = {**os.environ, "AUTOCOMPLETE_HOME": str(three_models),
           "PATH": f"{EXECUTABLE.parent}{os.pathsep}{os.environ['PATH']}"}  # fmt: skip
    result = subprocess.run(["bash", "-c", program], capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == names


def test_zsh_and_fish_complete_model_names(three_models):
    zsh = complete("zsh", "autocomplete predict --model no", three_models)
    assert '"notes"' in zsh and '"novel"' in zsh and "poems" not in zsh
    fish = complete("fish", "autocomplete models rm p", three_models)
    assert fish.split() == ["poems"]


def test_completion_with_no_store_offers_nothing(store_home):
    assert complete("fish", "autocomplete predict --model ", store_home).split() == []
