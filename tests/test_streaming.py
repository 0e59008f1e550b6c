"""Training reads its corpus streamed (dataset.streamed, issue 16): the same corpus as the in-memory reading
it replaced, the token ids on disk removed whatever happens, and folders and globs given to `train`."""

from __future__ import annotations

import codecs
import itertools
import os
import resource
import signal
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from conftest import CLI_ENV, CORPUS_TEXT, leftovers
from test_hardening import _corpus, _read_until, _train_process
from typer.testing import CliRunner

from autocomplete import dataset, train
from autocomplete.cli import app
from autocomplete.config import TrainConfig
from autocomplete.corpus import check_file, read_tokens
from autocomplete.errors import CorpusError, DiskError, ExitStatus, Interrupted
from autocomplete.text import BOUNDARY
from autocomplete.trainer import NOTHING_SAVED
from autocomplete.vocab import Vocabulary

PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001") + b"\x00" * 20


def old_prepare(paths, config):
    """dataset.prepare before streaming (the reference): counted in memory, encoded in one array."""
    files = [check_file(Path(p)) for p in paths]
    counts = Counter(read_tokens(files))
    files, notes = dataset._without_copies(files)
    if notes:
        counts = Counter(read_tokens(files))
    vocab = Vocabulary.build(counts, config.max_vocab, config.min_count)
    ids = vocab.encode(itertools.chain([BOUNDARY], read_tokens(files)))
    return files, vocab, ids, counts.total() - counts[BOUNDARY], notes


@pytest.fixture
def corpus(tmp_path):
    """Files: plain, a copy of it, a BOM and CRLF, one without a final full stop, one with bad bytes."""
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "a.txt").write_text(CORPUS_TEXT, encoding="utf-8")
    (folder / "copy.txt").write_text(CORPUS_TEXT, encoding="utf-8")
    (folder / "b.txt").write_bytes(codecs.BOM_UTF8 + "Über den Fluß.\r\nNo full stop here\r\n".encode())
    (folder / "c.txt").write_text("the end of the text without a boundary", encoding="utf-8")
    (folder / "d.txt").write_bytes(b"caf\xe9 and more words. " * 30)
    return [folder / name for name in ("a.txt", "b.txt", "copy.txt", "c.txt", "d.txt")]


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """The system's temporary folder, as training uses it, empty."""
    path = tmp_path / "tmp"
    path.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(path))
    return path


@pytest.mark.parametrize(
    "config", [TrainConfig(), TrainConfig(max_vocab=15, min_count=2)], ids=["default", "small vocabulary"]
)
def test_the_streamed_corpus_is_the_one_read_in_memory_before(corpus, workdir, config):
    files, vocab, ids, words, notes = old_prepare(corpus, config)
    assert notes == (f"{corpus[2]} has the same text as {corpus[0]}: read once",)
    with dataset.streamed(corpus, config) as streamed:
        assert isinstance(streamed.ids, np.memmap) and not streamed.ids.flags.writeable
        np.testing.assert_array_equal(streamed.ids, ids)
        assert (streamed.vocab, streamed.words, streamed.notes) == (vocab, words, notes)
        assert [(f.path, f.sha256) for f in streamed.files] == [(f.path, f.sha256) for f in files]
        (folder,) = workdir.iterdir()
        assert [p.name for p in folder.iterdir()] == ["ids.npy"]
    assert list(workdir.iterdir()) == []
    in_memory = dataset.prepare(corpus, config)
    assert type(in_memory.ids) is np.ndarray and in_memory.ids.tolist() == ids.tolist()
    assert list(workdir.iterdir()) == []


def test_the_ids_are_removed_after_a_failure(corpus, workdir):
    with pytest.raises(RuntimeError, match="^a failure$"), dataset.streamed(corpus, TrainConfig()):
        assert len(list(workdir.iterdir())) == 1
        raise RuntimeError("a failure")
    assert list(workdir.iterdir()) == []


def test_progress_tells_each_pass_its_bytes(corpus, workdir):
    told = []
    with dataset.streamed(corpus[:2], TrainConfig(), progress=lambda *a: told.append(a)):
        pass
    sizes = [p.stat().st_size for p in corpus[:2]]
    total = sum(sizes)
    assert told == [
        (dataset.COUNTING, sizes[0], total), (dataset.COUNTING, total, total),
        (dataset.ENCODING, sizes[0], total), (dataset.ENCODING, total, total),
    ]  # fmt: skip


def test_the_progress_bar_shows_the_bytes_read_and_the_rate():
    import io

    from rich.console import Console

    from autocomplete import progress

    out, clock = io.StringIO(), itertools.count(0.0, 0.5)  # half a second per look at the clock
    console = Console(file=out, width=100, force_terminal=True, color_system=None)
    reporter = progress.RichReporter(console, get_time=lambda: next(clock))
    for done in (1_000_000, 2_000_000, 3_000_000):
        reporter.reading(dataset.COUNTING, done, 3_000_000)
    reporter.reading(dataset.ENCODING, 1_500_000, 3_000_000)
    reporter.phase("Loading TensorFlow")
    frames = out.getvalue().split("\r")
    counting = [f for f in frames if "Counting words" in f]
    encoding = [f for f in frames if "Encoding" in f]
    assert "1.0/3.0 MB" in counting[0] and "3.0/3.0 MB" in counting[-1]
    assert "B/s" in counting[-1] and encoding and "1.5/3.0 MB" in encoding[-1]
    assert out.getvalue().endswith("… Loading TensorFlow\n") and reporter.bytes is None


def test_each_epoch_line_shows_the_words_per_second():
    import io

    from rich.console import Console

    from autocomplete import progress

    out, clock = io.StringIO(), iter([10.0, 12.0, 16.0])  # epoch 1 takes 2 s, epoch 2 takes 4 s
    console = Console(file=out, width=120, force_terminal=False, color_system=None)
    reporter = progress.RichReporter(console, get_time=lambda: next(clock))
    reporter.start(2, 10, 5000)
    reporter.epoch(1, 5.5, 300.0, True)
    reporter.epoch(2, 5.4, 310.0, False)
    reporter.close()
    lines = [line.rstrip() for line in out.getvalue().splitlines() if line.startswith("epoch")]
    assert lines == [
        "epoch  1/2  loss 5.500  val. perplexity 300.0  2,500 words/s  ✓ best",
        "epoch  2/2  loss 5.400  val. perplexity 310.0  1,250 words/s  no better",
    ]


def test_the_summary_names_ten_files_and_counts_the_rest(tmp_path):
    import io

    from rich.console import Console

    from autocomplete import render
    from autocomplete.corpus import CorpusFile

    files = [CorpusFile(tmp_path / f"n{i:02}.md", 1_500_000, "utf-8", replaced=int(i in (4, 11)))
             for i in range(13)]  # fmt: skip
    result = train.TrainResult(
        name="notes", path=tmp_path, files=files, words=10, vocab_size=9, parameters=1, epochs_run=1,
        best_epoch=1, refit_epochs=0, lstm_vocab_size=9, interrupted=False, interrupted_during=None,
        refit_skipped=False, lstm_weight=1.0, validation=None, validation_lstm=None, seconds=1.0,
    )  # fmt: skip
    out = io.StringIO()
    Console(file=out, width=150, color_system=None).print(render.training_summary(result))
    cells = [line.split("│")[1:3] for line in out.getvalue().splitlines() if "│" in line]
    assert [value.strip() for name, value in cells if name.strip() == "corpus"] == [
        *(f"{f.path}" + (" (1 undecodable bytes replaced)" if f.replaced else "") for f in files[:10]),
        "… and 3 more files, 4.5 MB (1 undecodable bytes replaced in them)",
    ]


def test_id_counts_in_chunks_are_bincounts(monkeypatch):
    monkeypatch.setattr(dataset, "_COUNT_CHUNK", 3)
    ids = np.random.default_rng(0).integers(0, 9, size=100).astype(np.int32)
    np.testing.assert_array_equal(dataset.id_counts(ids, 12), np.bincount(ids, minlength=12))
    np.testing.assert_array_equal(dataset.id_counts(ids, 5), np.bincount(ids, minlength=12)[:5])


class AtEncoding(train.SilentReporter):
    """Calls `act` once, when the second pass (the encoding) has read its first chunk."""

    def __init__(self, act):
        self.act, self.done = act, False

    def reading(self, step, done, total):
        if step == dataset.ENCODING and not self.done:
            self.done = True
            self.act()


def test_ctrl_c_while_training_encodes_leaves_nothing(corpus, workdir, store_home):
    reporter = AtEncoding(lambda: os.kill(os.getpid(), signal.SIGINT))
    with pytest.raises(Interrupted, match=NOTHING_SAVED):
        train.train(corpus, TrainConfig(), name="m", reporter=reporter)
    assert reporter.done and list(workdir.iterdir()) == [] and leftovers(store_home) == []


def test_a_file_that_grows_while_training_reads_it(corpus, workdir, store_home):
    def append():
        with corpus[-1].open("a") as f:
            f.write("a few more words")

    size = corpus[-1].stat().st_size
    with pytest.raises(CorpusError) as error:
        train.train(corpus, TrainConfig(), name="m", reporter=AtEncoding(append))
    assert str(error.value) == (
        f"{corpus[-1]} changed while it was being read (it grew from {size:,} to {size + 16:,} bytes): "
        "train on a copy that nothing is writing to"
    )
    assert list(workdir.iterdir()) == [] and leftovers(store_home) == []


def test_a_file_that_shrinks_while_training_reads_it(corpus, workdir, store_home):
    size = corpus[-1].stat().st_size
    reporter = AtEncoding(lambda: corpus[-1].write_bytes(corpus[-1].read_bytes()[:100]))
    with pytest.raises(CorpusError, match=rf"\(it shrank from {size:,} to 100 bytes\): train on a copy"):
        train.train(corpus, TrainConfig(), name="m", reporter=reporter)
    assert list(workdir.iterdir()) == []


def _limit_file_size():  # in the child: a write past 64 kB fails with EFBIG, as on a full disk
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (65536, 65536))


def test_a_disk_that_fills_while_train_encodes_is_one_line_and_leaves_nothing(tmp_path, store_home):
    corpus = _corpus(tmp_path / "words.txt", words=40_000)  # 160 kB of ids: the write fails past 64 kB
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {**os.environ, **CLI_ENV, "AUTOCOMPLETE_HOME": str(store_home), "TMPDIR": str(tmp)}
    done = subprocess.run(
        [sys.executable, "-m", "autocomplete", "train", str(corpus)], capture_output=True, text=True, env=env,
        timeout=60, preexec_fn=_limit_file_size,
    )  # fmt: skip
    assert done.returncode == ExitStatus.ERROR and "Loading TensorFlow" not in done.stdout
    (line,) = done.stderr.splitlines()
    assert line.startswith(f"error: cannot write the corpus's token ids to {tmp}/autocomplete-ids-")
    assert line.endswith(" (File too large): they need 0.2 MiB; free some space there, or set TMPDIR to a "
                         "folder on a disk with room")  # fmt: skip
    assert list(tmp.iterdir()) == [] and leftovers(store_home) == []
    assert not (store_home / "models" / "words").exists()


@pytest.mark.slow
def test_a_real_ctrl_c_during_the_epochs_removes_the_ids(tmp_path, store_home, monkeypatch):
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp))
    proc = _train_process(store_home, _corpus(tmp_path / "c.txt", words=60_000), "--epochs", "50",
                          "--patience", "50")  # fmt: skip
    _read_until(proc, "epoch  1/50")  # the ids are in use: the epochs read their windows
    assert len(list(tmp.iterdir())) == 1
    proc.send_signal(signal.SIGINT)
    out = proc.communicate(timeout=120)[0]
    assert proc.returncode == ExitStatus.INTERRUPTED and "Traceback" not in out, out
    assert list(tmp.iterdir()) == [] and leftovers(store_home) == []


# --- folders and globs given to `train` --------------------------------------------------------------


def run(*args: str):
    return CliRunner().invoke(app, list(args), env=CLI_ENV)


@pytest.fixture
def notes(tmp_path):
    root = tmp_path / "notes"
    (root / "sub" / ".git").mkdir(parents=True)
    (root / "b.md").write_text(CORPUS_TEXT, encoding="utf-8")
    (root / "sub" / "a.txt").write_text(CORPUS_TEXT.upper(), encoding="utf-8")
    (root / "sub" / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (root / "photo.png").write_bytes(PNG)
    (root / "raw").write_bytes(PNG)
    return root


def test_a_folder_is_read_as_its_text_files_and_what_was_skipped_is_shown(notes, store_home):
    result = run("train", str(notes), "--name", "../x")  # stops at the name check, after the expansion
    assert result.stdout.splitlines()[0] == (
        "… 2 files to read, 3 skipped: 1 binary (NUL bytes), 1 binary extension, 1 hidden folder"
    )
    assert result.stderr.startswith("error: invalid model name ../x")


def test_a_folder_with_no_text_files_is_one_line(tmp_path, store_home):
    (tmp_path / "pictures").mkdir()
    (tmp_path / "pictures" / "a.png").write_bytes(PNG)
    result = run("train", str(tmp_path / "pictures"))
    assert result.exit_code == ExitStatus.ERROR
    assert result.stderr == (
        f"error: {tmp_path / 'pictures'} has no text files (1 skipped: 1 binary extension): give files or a "
        "folder of UTF-8 text\n"
    )
    assert leftovers(store_home) == []


def test_a_quoted_glob_matching_nothing_is_one_line(tmp_path, store_home):
    result = run("train", str(tmp_path / "*.md"))
    assert result.exit_code == ExitStatus.ERROR
    assert result.stderr == f"error: no file matches {tmp_path / '*.md'}: check the pattern\n"


@pytest.mark.slow
def test_training_a_folder_and_a_glob(notes, tmp_path, store_home):
    from autocomplete import store

    result = run("train", str(notes), "--preset", "tiny", "--epochs", "1", "--refit-epochs", "0")
    assert result.exit_code == ExitStatus.SUCCESS, result.output
    assert [f["name"] for f in store.find("notes").meta["corpus"]] == ["b.md", "a.txt"]
    result = run("train", str(notes / "**" / "*.txt"), "--name", "globbed", "--preset", "tiny", "--epochs",
                 "1", "--refit-epochs", "0")  # fmt: skip
    assert result.exit_code == ExitStatus.SUCCESS, result.output
    assert [f["name"] for f in store.find("globbed").meta["corpus"]] == ["a.txt"]


def test_disk_error_is_the_one_streaming_raises(corpus, workdir, monkeypatch):
    from autocomplete import encode

    usage = encode.shutil.disk_usage(workdir)
    monkeypatch.setattr(encode.shutil, "disk_usage", lambda path: usage._replace(free=0))
    with (
        pytest.raises(DiskError, match="free some space there, or set TMPDIR"),
        dataset.streamed(corpus, TrainConfig()),
    ):
        pass
    assert list(workdir.iterdir()) == []


# --- the n-gram's pruning above a corpus size ---------------------------------------------------------


@pytest.mark.parametrize("context", [1, 2])
def test_above_the_size_the_top_orders_singletons_are_pruned(tmp_path, monkeypatch, context):
    from autocomplete.ngram import KneserNey

    path = tmp_path / "corpus.txt"
    path.write_text(CORPUS_TEXT + "The dog saw the sea in the evening. My lord walked to the gate.\n")
    config = TrainConfig(context=context)
    corpus = dataset.prepare([path], config)
    seen = corpus.ids[: len(corpus.ids) // 2]
    for ids in (corpus.ids, seen):  # the held-out n-gram as the final one: the corpus's size decides
        unpruned = KneserNey.fit(ids, len(corpus.vocab), context + 1, discount=None)
        assert_same(train._ngram(corpus, config, ids), unpruned)
        with monkeypatch.context() as patch:
            patch.setattr(train, "PRUNE_ABOVE_TOKENS", len(corpus.ids) - 1)
            pruned = train._ngram(corpus, config, ids)
        assert_same(pruned, KneserNey.fit(ids, len(corpus.vocab), context + 1, discount=None, prune=1))
        assert len(pruned.levels[-1].ids) < len(unpruned.levels[-1].ids)


def assert_same(model, expected) -> None:
    arrays, reference = model.to_arrays(), expected.to_arrays()
    assert arrays.keys() == reference.keys()
    for name, array in arrays.items():
        np.testing.assert_array_equal(array, reference[name], err_msg=name)


# --- freed memory given back between the steps ----------------------------------------------------------


def test_give_back_returns_the_free_heap_pages_where_glibc_can(monkeypatch):
    from autocomplete import heap

    heap._malloc_trim.cache_clear()
    assert heap.give_back() is None  # glibc here: malloc_trim ran
    monkeypatch.setattr(heap.ctypes, "CDLL", lambda name: object())  # a C library without malloc_trim
    heap._malloc_trim.cache_clear()
    assert heap._malloc_trim() is None and heap.give_back() is None
    heap._malloc_trim.cache_clear()
