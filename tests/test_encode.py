"""Streaming a corpus to token ids on disk: the same stream as train.prepare, in bounded memory, the temporary
ids removed whatever happens, and a file that changes or a disk that fills reported in one line."""

from __future__ import annotations

import codecs
import contextlib
import os
import subprocess
import sys
import textwrap
import tracemalloc

import numpy as np
import pytest
from conftest import CORPUS_TEXT

from autocomplete import corpus as corpus_module
from autocomplete import encode
from autocomplete.config import TrainConfig
from autocomplete.corpus import check_file
from autocomplete.dataset import prepare
from autocomplete.encode import count_words, encoded_ids
from autocomplete.errors import CorpusError, DiskError
from autocomplete.vocab import Vocabulary


@pytest.fixture
def corpus(tmp_path):
    """Several files: plain, with a BOM and CRLF, one without a final full stop, one with bad bytes."""
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "a.txt").write_text(CORPUS_TEXT, encoding="utf-8")
    (folder / "b.txt").write_bytes(codecs.BOM_UTF8 + "Über den Fluß.\r\nNo full stop here\r\n".encode())
    (folder / "c.txt").write_text("the end of the text without a boundary", encoding="utf-8")
    (folder / "d.txt").write_bytes(b"caf\xe9 and more words. " * 30)
    return [folder / name for name in ("a.txt", "b.txt", "c.txt", "d.txt")]


@pytest.fixture
def workdir(tmp_path):
    path = tmp_path / "work"
    path.mkdir()
    return path


def streamed(paths, workdir, max_vocab=20000, min_count=1, chunk_tokens=encode.CHUNK_TOKENS, **kw):
    files = [check_file(p) for p in paths]
    counted = count_words(files, kw.get("count_progress"))
    vocab = Vocabulary.build(counted.counts, max_vocab, min_count)
    return counted, vocab, encoded_ids(counted, vocab, workdir, kw.get("progress"), chunk_tokens)


@pytest.mark.parametrize("chunk_tokens", [1, 7, encode.CHUNK_TOKENS])
@pytest.mark.parametrize(("max_vocab", "min_count"), [(20000, 1), (15, 2)])
def test_the_stream_is_train_prepares(corpus, workdir, chunk_tokens, max_vocab, min_count):
    expected = prepare(corpus, TrainConfig(max_vocab=max_vocab, min_count=min_count))
    counted, vocab, ids_context = streamed(corpus, workdir, max_vocab, min_count, chunk_tokens)
    assert vocab == expected.vocab and counted.words == expected.words
    with ids_context as ids:
        assert isinstance(ids, np.memmap) and ids.dtype == np.int32 and not ids.flags.writeable
        np.testing.assert_array_equal(ids, expected.ids)
        assert counted.stream_length == len(ids)
    assert [f.sha256 for f in counted.files] == [f.sha256 for f in expected.files]
    assert os.listdir(workdir) == []


def test_progress_counts_the_bytes_of_every_file_in_both_passes(corpus, workdir):
    first, second = [], []
    _, _, ids_context = streamed(
        corpus, workdir, count_progress=lambda *a: first.append(a), progress=lambda *a: second.append(a)
    )
    with ids_context:
        pass
    total = sum(p.stat().st_size for p in corpus)
    sizes = np.cumsum([p.stat().st_size for p in corpus]).tolist()  # each file is one chunk: read at once
    assert first == second == [(done, total) for done in sizes]


def test_the_ids_are_removed_after_an_exception(corpus, workdir):
    _, _, ids_context = streamed(corpus, workdir)
    with pytest.raises(RuntimeError, match="a failure while training"), ids_context as ids:
        folder = os.listdir(workdir)
        assert len(folder) == 1 and os.listdir(workdir / folder[0]) == ["ids.npy"]
        assert ids[0] == 2
        raise RuntimeError("a failure while training")
    assert os.listdir(workdir) == []


def test_the_ids_are_removed_after_ctrl_c_while_encoding(corpus, workdir):
    def interrupt(done, total):
        if done > corpus[0].stat().st_size:  # the first file is encoded, the second read
            assert len(os.listdir(workdir)) == 1
            raise KeyboardInterrupt

    _, _, ids_context = streamed(corpus, workdir, progress=interrupt)
    with pytest.raises(KeyboardInterrupt), ids_context:
        pass
    assert os.listdir(workdir) == []


def stream_in_a_process(code: str, corpus, workdir) -> subprocess.CompletedProcess:
    """Count `corpus` in a fresh Python, then run `code` there (with counted, vocab, workdir defined)."""
    script = textwrap.dedent(STREAM) + textwrap.dedent(code)
    return subprocess.run(
        [sys.executable, "-c", script, str(corpus), str(workdir)], capture_output=True, text=True, timeout=60
    )


STREAM = """
    import os, resource, signal, sys
    from pathlib import Path
    from autocomplete.corpus import check_file
    from autocomplete.encode import count_words, encoded_ids
    from autocomplete.errors import AutocompleteError
    from autocomplete.vocab import Vocabulary
    corpus, workdir = Path(sys.argv[1]), Path(sys.argv[2])
    signal.signal(signal.SIGINT, signal.default_int_handler)  # a shell's background job starts it ignored
    counted = count_words([check_file(corpus)])
    vocab = Vocabulary.build(counted.counts)
"""


def test_the_ids_are_removed_after_a_real_sigint(tmp_path, workdir):
    corpus = tmp_path / "big.txt"
    corpus.write_text("one two three four. " * 200_000)  # 4 MB: read in four chunks
    code = """
    def progress(done, total):
        if done > 2**20:
            os.kill(os.getpid(), signal.SIGINT)
    try:
        with encoded_ids(counted, vocab, workdir, progress, chunk_tokens=1000):
            print("finished")
    except KeyboardInterrupt:
        print("interrupted", os.listdir(workdir))
    """
    done = stream_in_a_process(code, corpus, workdir)
    assert (done.stdout, done.stderr, done.returncode) == ("interrupted []\n", "", 0)


def test_a_disk_that_fills_while_encoding_is_one_line_and_leaves_nothing(tmp_path, workdir):
    corpus = tmp_path / "words.txt"
    corpus.write_text("one two three four. " * 1000)  # 5000 tokens: 20 kB of ids
    # The file-size limit stands in for a full disk: write() fails with EFBIG past 8 kB (SIGXFSZ is ignored).
    code = """
    resource.setrlimit(resource.RLIMIT_FSIZE, (8192, 8192))
    try:
        with encoded_ids(counted, vocab, workdir, chunk_tokens=100):
            print("finished")
    except AutocompleteError as e:
        print(type(e).__name__, e, os.listdir(workdir), sep="|")
    """
    done = stream_in_a_process(code, corpus, workdir)
    expected = f"DiskError|cannot write the corpus's token ids to {workdir}/autocomplete-ids-"
    assert done.stdout.startswith(expected) and done.stderr == "" and done.returncode == 0
    message, leftovers = done.stdout.split("|")[1:]
    assert message.endswith(
        " (File too large): they need 0.0 MiB; free some space there, or set TMPDIR to a folder on a disk "
        "with room"
    )
    assert leftovers == "[]\n"


def test_a_disk_without_room_for_the_ids_is_refused_before_encoding(corpus, workdir, monkeypatch):
    counted, vocab, ids_context = streamed(corpus, workdir)
    need = counted.stream_length * 4 + 128
    usage = encode.shutil.disk_usage(workdir)
    monkeypatch.setattr(encode.shutil, "disk_usage", lambda path: usage._replace(free=need - 1))
    with pytest.raises(DiskError) as error, ids_context:
        pass
    folder = str(error.value).split(" in ", 1)[1].split(",")[0]
    assert folder.startswith(f"{workdir}/autocomplete-ids-")
    assert str(error.value) == (
        f"the corpus's token ids need 0.0 MiB in {folder}, which has 0.0 MiB free: free some space there, "
        "or set TMPDIR to a folder on a disk with room"
    )
    assert os.listdir(workdir) == []


def test_a_workdir_that_cannot_hold_a_folder(corpus, tmp_path):
    _, _, ids_context = streamed(corpus, tmp_path / "missing")
    with pytest.raises(DiskError) as error, ids_context:
        pass
    assert str(error.value) == (
        f"cannot create a temporary folder in {tmp_path / 'missing'}: No such file or directory"
    )


@pytest.mark.parametrize(
    ("change", "how"),
    [
        (lambda p: p.write_text(p.read_text() + " more words"), "it grew from 38 to 49 bytes"),
        (lambda p: p.write_text("the end"), "it shrank from 38 to 7 bytes"),
        (lambda p: p.write_text(p.read_text().upper()), "it was modified"),
    ],
    ids=["grew", "shrank", "modified"],
)
def test_a_file_that_changes_between_the_passes(corpus, workdir, change, how):
    counted, vocab, ids_context = streamed(corpus, workdir)
    stamp = corpus[2].stat()
    change(corpus[2])
    os.utime(corpus[2], ns=(stamp.st_atime_ns, stamp.st_mtime_ns + 1))  # a clock can tick too slowly to show
    with pytest.raises(CorpusError) as error, ids_context:
        pass
    assert str(error.value) == (
        f"{corpus[2]} changed while it was being read ({how}): train on a copy that nothing is writing to"
    )
    assert os.listdir(workdir) == []


def test_a_file_changed_with_its_size_and_time_kept_is_caught_by_its_sha256(corpus, workdir):
    counted, vocab, ids_context = streamed(corpus, workdir)
    stamp = corpus[2].stat()
    corpus[2].write_text(corpus[2].read_text().upper())
    os.utime(corpus[2], ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
    with pytest.raises(CorpusError) as error, ids_context:
        pass
    assert str(error.value) == (
        f"{corpus[2]} changed while it was being read (its text is not what was read the first time): "
        "train on a copy that nothing is writing to"
    )


def test_a_file_that_grows_while_it_is_encoded(corpus, workdir):
    size = corpus[0].stat().st_size

    def append(done, total):
        if done == size:  # a.txt read once; it is read to its end, so its new end too
            with corpus[0].open("a") as f:
                f.write("\nand a few more words")

    counted, vocab, ids_context = streamed(corpus, workdir, progress=append)
    with pytest.raises(CorpusError) as error, ids_context:
        pass
    assert str(error.value) == (
        f"{corpus[0]} changed while it was being read (it grew from {size:,} to {size + 21:,} bytes): "
        "train on a copy that nothing is writing to"
    )
    assert os.listdir(workdir) == []


def test_memory_does_not_grow_with_the_corpus(tmp_path, workdir, monkeypatch):
    corpus = tmp_path / "big.txt"
    corpus.write_text("the quick brown fox jumps over the lazy dog.\n" * 30_000)  # 300k tokens: 1.2 MB of ids
    monkeypatch.setattr(corpus_module, "_CHUNK", 4096)  # reading's own buffers (1 MiB) would hide the ids'
    counted, vocab, ids_context = streamed([corpus], workdir, chunk_tokens=10_000)
    tracemalloc.start()
    try:
        with ids_context as ids:
            peak = tracemalloc.get_traced_memory()[1]
            assert len(ids) == 300_001
    finally:
        tracemalloc.stop()
    assert peak < 200_000  # a chunk of ids (40 kB) and a few lines; a list of every token would be 2.4 MB


@pytest.fixture
def small_disk(tmp_path):
    """A real 1 MiB file system (tmpfs), where mounting one is allowed (root); skipped elsewhere."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)],
                                           capture_output=True).returncode:  # fmt: skip
        pytest.skip("cannot mount a tmpfs here")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def test_a_real_disk_filled_by_another_writer_while_encoding(tmp_path, small_disk):
    corpus = tmp_path / "words.txt"
    corpus.write_text("one two three four.\n" * 40_000)  # 200k tokens: 800 kB of ids, read in chunks
    filler = small_disk / "another-program.tmp"

    def fill_the_disk(done, total):
        if not filler.exists():  # the ids are being written: something else takes the rest of the disk
            with filler.open("wb") as f, contextlib.suppress(OSError):
                while f.write(b"\0" * 65536):
                    f.flush()

    _, _, ids_context = streamed([corpus], small_disk, progress=fill_the_disk, chunk_tokens=1000)
    with pytest.raises(DiskError) as error, ids_context:
        pass
    message = str(error.value)
    assert message.startswith(f"cannot write the corpus's token ids to {small_disk}/autocomplete-ids-")
    assert message.endswith(
        " (No space left on device): they need 0.8 MiB; free some space there, or set TMPDIR to a folder on "
        "a disk with room"
    )
    assert sorted(os.listdir(small_disk)) == ["another-program.tmp"]


def test_a_real_disk_too_small_for_the_ids(tmp_path, small_disk):
    corpus = tmp_path / "words.txt"
    corpus.write_text("one two three four.\n" * 80_000)  # 1.6 MB of ids
    _, _, ids_context = streamed([corpus], small_disk)
    with pytest.raises(DiskError, match=r"need 1\.5 MiB in .*, which has 1\.0 MiB free: free some space"):
        with ids_context:
            pass
    assert os.listdir(small_disk) == []
