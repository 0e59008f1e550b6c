"""The personal memory on disk: learned, read back, forgotten; safe with two processes at once."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
from conftest import run_at_once, write_model

from autocomplete import memory, store
from autocomplete.adapt import Adaptation, AdaptParams, Rule, suggest_adapted
from autocomplete.errors import CorpusError
from autocomplete.text import BOUNDARY, MARKERS
from autocomplete.vocab import Vocabulary
from autocomplete.wordcounts import Lexicon

MEMORY_ONLY = AdaptParams(0, Rule(), Rule((0.2, 0.3, 0.1), (5.0, 1.0, 1.0)))


class _Uniform:
    def __init__(self, vocab):
        self.vocab, self.context_size = vocab, 2

    def next_word_probs(self, context_ids):
        import numpy as np

        return np.full(len(self.vocab), 1.0 / len(self.vocab), np.float32)


def _session(name: str, vocab: Vocabulary) -> Adaptation:
    return Adaptation(vocab, MEMORY_ONLY, memory.load(name, Lexicon(vocab)))


def _offered(adaptation: Adaptation, text: str) -> list[str]:
    return [s.word for s in suggest_adapted(text, _Uniform(adaptation.vocab), adaptation, 5).items]


def test_a_missing_or_empty_memory_loads_as_empty(store_home):
    empty = Vocabulary(MARKERS)
    assert memory.load("nothing", Lexicon(empty)).total == 0
    memory.memory_dir("blank").mkdir(parents=True)
    assert memory.load("blank", Lexicon(empty)).total == 0
    (memory.memory_dir("blank") / memory.MEMORY_FILE).write_text("")
    assert memory.load("blank", Lexicon(empty)).total == 0
    assert memory.words_learned("nothing") == 0 and not memory.memory_dir("nothing").exists()


def test_learned_lines_are_plain_text_private_and_offered_in_the_next_session(store_home):
    assert memory.learn_line("notes", "I wrote to Quilliam about the harbour.") == 7
    memory.learn_line("notes", "Quilliam answered at once.")
    folder = memory.memory_dir("notes")
    assert (folder / memory.MEMORY_FILE).read_text() == (
        "I wrote to Quilliam about the harbour.\nQuilliam answered at once.\n"
    )
    assert os.stat(folder / memory.MEMORY_FILE).st_mode & 0o777 == 0o600
    assert os.stat(folder).st_mode & 0o777 == 0o700
    assert _offered(_session("notes", Vocabulary(MARKERS + ("the",))), "then qu") == ["Quilliam"]
    assert memory.words_learned("notes") == 11


def test_secrets_never_reach_the_file(store_home):
    memory.learn_line("notes", "the key is a8f3k2q9z7x1 and the door is red")
    memory.learn_line("notes", "curl -u bob:hunter2 https://example.com")
    memory.learn_line("notes", "my password is tulip")
    text = (memory.memory_dir("notes") / memory.MEMORY_FILE).read_text()
    assert text == "the key is\nand the door is red\nmy password\n"


def test_a_forgotten_word_is_never_offered_from_the_memory_again(store_home):
    vocab = Vocabulary(MARKERS + ("the", "met"))
    for line in ["We met Quilliam today.", "Quilliam and Quentin sailed.", "The quay was empty."]:
        memory.learn_line("notes", line)
    assert _offered(_session("notes", vocab), "qu") == ["Quilliam", "quay", "Quentin"]  # ties: a-z
    assert memory.forget("notes", ["QUILLIAM"]) == 2
    session = _session("notes", vocab)
    assert _offered(session, "qu") == ["quay"]
    assert _offered(session, "we met ") == ["the", "met", "quay", "was", "empty"]  # no "met Quilliam" left
    assert "quilliam" not in session.lexicon.ids
    assert (memory.memory_dir("notes") / memory.MEMORY_FILE).read_text() == "The quay was empty.\n"
    memory.forget_all("notes")
    assert _offered(_session("notes", vocab), "qu") == []
    assert memory.words_learned("notes") == 0


def test_the_memory_survives_replacing_the_model(store_home):
    write_model("notes")
    memory.learn_line("notes", "Quilliam sailed")
    write_model("notes", seed=1, force=True)  # what `train --force` does to the model folder
    store.remove("notes")
    assert memory.words_learned("notes") == 2


def test_the_counts_cache_follows_the_text(store_home, monkeypatch):
    monkeypatch.setattr(memory, "REFRESH_BYTES", 0)  # every load writes counts.npz
    memory.learn_line("notes", "alpha beta gamma")
    assert memory.words_learned("notes") == 3
    assert (memory.memory_dir("notes") / memory.COUNTS_FILE).is_file()
    memory.learn_line("notes", "delta")  # appended after the cache was written: read from the text
    assert memory.words_learned("notes") == 4
    (memory.memory_dir("notes") / memory.MEMORY_FILE).write_text("one two\n")  # edited by hand
    counts = memory.load("notes", Lexicon(Vocabulary(MARKERS)))
    assert counts.words() == 2 and sorted(counts.lexicon.words) == [BOUNDARY, "one", "two"]


def test_a_line_cut_short_by_a_crash_is_not_glued_to_the_next(store_home):
    memory.learn_line("notes", "first line")
    with open(memory.memory_dir("notes") / memory.MEMORY_FILE, "a") as f:
        f.write("half a li")
    memory.learn_line("notes", "next line")
    text = (memory.memory_dir("notes") / memory.MEMORY_FILE).read_text()
    assert text == "first line\nhalf a li\nnext line\n"


def test_learn_file_keeps_paragraphs_and_cuts_at_secrets(store_home, tmp_path):
    doc = tmp_path / "doc.txt"
    doc.write_text(
        "The first\nparagraph here.\n\nA token follows: abc\nand more text\nexport API_KEY=x\nlast\n"
    )
    learned = memory.learn_file("notes", doc)
    assert (memory.memory_dir("notes") / memory.MEMORY_FILE).read_text() == (
        "The first paragraph here.\nA token\nand more text\nlast\n"
    )
    assert learned == memory.Learned(units=4, words=10)
    with pytest.raises(CorpusError):
        memory.learn_file("notes", tmp_path / "missing.txt")
    (tmp_path / "empty.txt").write_text("")
    with pytest.raises(CorpusError):
        memory.learn_file("notes", tmp_path / "empty.txt")


def test_two_processes_learning_at_once_keep_every_line(store_home):
    script = textwrap.dedent(
        """
        import sys
        from autocomplete import memory
        who = sys.argv[1]
        sys.stdin.readline()  # both start together
        for i in range(300):
            memory.learn_line("shared", f"line {i} from {who} " + "word " * (i % 7))
        """
    )
    run_at_once(script, ["alice", "bob"])
    lines = (memory.memory_dir("shared") / memory.MEMORY_FILE).read_text().splitlines()
    expected = {f"line {i} from {who} " + "word " * (i % 7) for i in range(300) for who in ("alice", "bob")}
    assert sorted(lines) == sorted(e.strip() for e in expected)
    for who in ("alice", "bob"):  # each process's lines in its own order
        mine = [line for line in lines if f"from {who}" in line]
        assert [int(line.split()[1]) for line in mine] == list(range(300))


def test_the_repl_start_imports_nothing_only_learn_needs():
    script = "import sys, autocomplete.repl.app\nprint('autocomplete.corpus' in sys.modules)\n"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
