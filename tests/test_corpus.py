"""Reading corpus files: refused with a message naming the file, or decoded with bad bytes counted."""

from __future__ import annotations

import codecs
import gzip
import hashlib

import pytest

from autocomplete import corpus
from autocomplete.corpus import check_file, read_lines, read_tokens
from autocomplete.errors import CorpusError
from autocomplete.text import BOUNDARY

TEXT = "The cat sat on the mat.\nThe dog sat on the rug.\n\nA new paragraph, café and naïve.\n"
TOKENS = ["the", "cat", "sat", "on", "the", "mat", BOUNDARY, "the", "dog", "sat", "on", "the", "rug",
          BOUNDARY, "a", "new", "paragraph", "café", "and", "naïve", BOUNDARY]  # fmt: skip


def tokens_of(path):
    return list(read_tokens([check_file(path)]))


def test_missing_file(tmp_path):
    with pytest.raises(CorpusError, match=r"corpus file not found: .*nope\.txt"):
        check_file(tmp_path / "nope.txt")


def test_directory(tmp_path):
    with pytest.raises(CorpusError, match=r"is a directory"):
        check_file(tmp_path)


@pytest.mark.parametrize("content", [b"", b"   \n\n\t \r\n"], ids=["empty", "whitespace only"])
def test_empty_file(tmp_path, content):
    path = tmp_path / "empty.txt"
    path.write_bytes(content)
    with pytest.raises(CorpusError, match=r"empty\.txt is empty"):
        check_file(path)


PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489") + b"\x00" * 20


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("image.png", PNG),
        ("archive.gz", gzip.compress(b"some text " * 200, mtime=0)),
        ("utf16-no-bom.txt", "plain words here".encode("utf-16-le")),
    ],
)
def test_nul_bytes_are_not_text(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(CorpusError, match=rf"{name} is not a text file \(it contains NUL bytes\)"):
        check_file(path)


def test_mostly_undecodable_is_refused(tmp_path):
    path = tmp_path / "noise.bin"
    path.write_bytes(bytes(range(0x80, 0x100)) * 40)  # no NUL, almost nothing decodes as UTF-8
    with pytest.raises(CorpusError, match=r"noise\.bin is not UTF-8 text"):
        check_file(path)


def test_a_few_bad_bytes_are_replaced_and_counted(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes(("The café is open. " * 20).encode("latin-1"))  # é is one invalid byte each time
    corpus_file = check_file(path)
    assert corpus_file.encoding == "utf-8"
    lines = list(read_lines(corpus_file))
    assert corpus_file.replaced == 20
    assert "caf\ufffd is open" in lines[0]


def test_valid_utf8_replaces_nothing(tmp_path):
    path = tmp_path / "ok.txt"
    path.write_text(TEXT, encoding="utf-8")
    corpus_file = check_file(path)
    assert list(read_tokens([corpus_file])) == TOKENS
    assert corpus_file.replaced == 0


def test_utf8_bom(tmp_path):
    path = tmp_path / "bom.txt"
    path.write_bytes(codecs.BOM_UTF8 + TEXT.encode("utf-8"))
    corpus_file = check_file(path)
    assert corpus_file.encoding == "utf-8-sig"
    assert next(iter(read_lines(corpus_file))) == "The cat sat on the mat."
    assert tokens_of(path) == TOKENS


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-be"])
def test_utf16_with_bom(tmp_path, codec):
    path = tmp_path / "wide.txt"
    data = TEXT.encode(codec)
    if codec == "utf-16-be":
        data = codecs.BOM_UTF16_BE + data
    path.write_bytes(data)
    assert tokens_of(path) == TOKENS


def test_crlf(tmp_path):
    path = tmp_path / "dos.txt"
    path.write_bytes(TEXT.replace("\n", "\r\n").encode("utf-8"))
    assert tokens_of(path) == TOKENS


def test_sha256_and_size(tmp_path):
    path = tmp_path / "c.txt"
    data = TEXT.encode("utf-8") * 3
    path.write_bytes(data)
    corpus_file = check_file(path)
    assert corpus_file.size == len(data) and corpus_file.name == "c.txt"
    list(read_lines(corpus_file))
    assert corpus_file.sha256 == hashlib.sha256(data).hexdigest()


def test_characters_split_across_read_chunks(tmp_path, monkeypatch):
    monkeypatch.setattr(corpus, "_CHUNK", 5)  # every multi-byte character straddles a chunk somewhere
    path = tmp_path / "c.txt"
    text = "naïve café — 日本語 テキスト\n\nnext line 👍 here\n" * 3
    path.write_text(text, encoding="utf-8")
    corpus_file = check_file(path)
    assert "".join(line + "\n" for line in read_lines(corpus_file)) == text + "\n"
    assert corpus_file.replaced == 0
    assert corpus_file.sha256 == hashlib.sha256(text.encode()).hexdigest()


def test_no_size_limit(tmp_path):
    # Streamed, a corpus may be as big as the disk: 300 MiB (sparse after its text) is checked like any file.
    path = tmp_path / "big.txt"
    with path.open("wb") as f:
        f.write(b"word " * 20_000)  # the first 64 KiB sniffed are text
        f.truncate(300 * 2**20)
    assert check_file(path).size == 300 * 2**20


def test_files_never_run_sentences_into_each_other(tmp_path):
    first, second = tmp_path / "a.txt", tmp_path / "b.txt"
    first.write_text("no full stop at the end", encoding="utf-8")
    second.write_text("\n\nsecond file. ", encoding="utf-8")
    tokens = list(read_tokens([check_file(first), check_file(second)]))
    assert tokens == ["no", "full", "stop", "at", "the", "end", BOUNDARY, "second", "file", BOUNDARY]


def test_a_long_read_gives_the_heap_back_every_few_mib(tmp_path, monkeypatch):
    path = tmp_path / "long.txt"
    line = "the cat sat on the mat\n"
    path.write_text(line * (5 * (1 << 20) // len(line) + 1))  # a little over 5 chunks of 1 MiB
    given_back = []
    real = corpus.heap.give_back
    monkeypatch.setattr(corpus.heap, "give_back", lambda: (given_back.append(1), real()))
    monkeypatch.setattr(corpus, "GIVE_BACK_EVERY", 2 << 20)
    lines = sum(1 for _ in read_lines(check_file(path)))
    assert lines == 5 * (1 << 20) // len(line) + 2  # the text's lines and the empty one after the last
    assert len(given_back) == 2  # after 2 and 4 MiB read
