"""Which files a training reads: files as given, directories as their text files, what was skipped counted."""

from __future__ import annotations

import codecs
import os
import socket

import pytest

from autocomplete import sources
from autocomplete.errors import CorpusError
from autocomplete.sources import expand

PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001") + b"\x00" * 20


def write(root, relative, content: bytes | str = "some words here\n"):
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


@pytest.fixture
def notes(tmp_path):
    """A folder tree like a user's notes, with a .git folder, a picture and the usual clutter."""
    root = tmp_path / "notes"
    write(root, "b.md")
    write(root, "a.txt")
    write(root, "sub/deeper/z.txt")
    write(root, "sub/c.md")
    write(root, "sub/no-extension")
    write(root, "sub/README", "é utf-8 ok, and a few bad bytes \xff".encode("utf-8", "surrogateescape"))
    write(root, "utf16.txt", codecs.BOM_UTF16_LE + "words in utf-16".encode("utf-16-le"))
    write(root, ".git/config", "[core]\n")
    write(root, ".git/objects/ab/cdef", b"x\x00y")
    write(root, ".hidden.txt")
    write(root, "sub/.obsidian/workspace.json", "{}")
    write(root, "photo.PNG", PNG)  # the extension alone decides, in any case
    write(root, "photo-without-extension", PNG)  # NUL bytes
    write(root, "latin1.txt", bytes(range(0x80, 0x100)) * 10)  # no NUL, does not decode
    write(root, "empty.txt", b"")
    write(root, "blank.txt", b"  \n\n\t\r\n")
    return root


def test_a_directory_becomes_its_text_files_sorted_with_the_rest_counted(notes):
    files, skipped = expand([notes])
    assert [f.relative_to(notes).as_posix() for f in files] == [
        "a.txt", "b.md", "sub/README", "sub/c.md", "sub/deeper/z.txt", "sub/no-extension", "utf16.txt",
    ]  # fmt: skip
    assert skipped == {
        "binary (NUL bytes)": 1, "binary extension": 1, "empty": 2, "hidden": 1, "hidden folder": 2,
        "not UTF-8": 1,
    }  # fmt: skip


def test_files_keep_the_order_given_and_are_never_filtered(tmp_path, notes):
    # Named on the command line, a file goes to corpus.check_file as it is, even a picture or a missing one.
    missing = tmp_path / "missing.txt"
    files, skipped = expand([notes / "photo.PNG", missing, notes / "b.md", notes / "a.txt"])
    assert files == [notes / "photo.PNG", missing, notes / "b.md", notes / "a.txt"]
    assert skipped == {}


def test_a_file_reached_twice_is_read_once(notes):
    files, skipped = expand([notes / "sub" / "c.md", notes, notes / "a.txt"])
    assert files[0] == notes / "sub" / "c.md"
    assert files.count(notes / "a.txt") == 1 and files.count(notes / "sub" / "c.md") == 1
    assert len(files) == 7 and skipped["listed twice"] == 2


def test_a_hidden_directory_named_explicitly_is_read(tmp_path):
    root = tmp_path / ".notes"
    write(root, "a.txt")
    write(root, ".git/HEAD", "ref: refs/heads/main\n")
    assert expand([root]) == ([root / "a.txt"], {"hidden folder": 1})


def test_links_to_folders_are_not_followed_and_links_to_files_are(tmp_path):
    root = tmp_path / "notes"
    target = write(tmp_path / "elsewhere", "t.txt")
    write(root, "a.txt")
    (root / "loop").symlink_to(root, target_is_directory=True)
    (root / "link.txt").symlink_to(target)
    (root / "broken.txt").symlink_to(tmp_path / "gone.txt")
    files, skipped = expand([root])
    assert files == [root / "a.txt", root / "link.txt"]
    assert skipped == {"link to a folder": 1, "not a regular file": 1}


def test_fifos_and_sockets_are_not_read(tmp_path):
    root = tmp_path / "notes"
    write(root, "a.txt")
    os.mkfifo(root / "pipe")  # opening it would block forever
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(root / "sock"))
        assert expand([root]) == ([root / "a.txt"], {"not a regular file": 2})


def test_a_directory_with_no_text_files_is_refused_with_what_was_skipped(tmp_path):
    root = tmp_path / "pictures"
    write(root, "a.png", PNG)
    write(root, "b.jpg", PNG)
    write(root, "raw/c", PNG)
    write(root, ".DS_Store", b"\x00\x00")
    message = (
        f"{root} has no text files (4 skipped: 1 binary (NUL bytes), 2 binary extension, 1 hidden): "
        "give files or a folder of UTF-8 text"
    )
    with pytest.raises(CorpusError) as error:
        expand([tmp_path / "pictures"])
    assert str(error.value) == message


def test_an_empty_directory_is_refused(tmp_path):
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    with pytest.raises(CorpusError) as error:
        expand([tmp_path / "empty"])
    assert str(error.value) == f"{tmp_path / 'empty'} has no text files (it is empty): " + (
        "give files or a folder of UTF-8 text"
    )


def test_one_directory_without_text_among_others_is_still_refused(tmp_path, notes):
    write(tmp_path / "bin", "tool.exe", b"MZ")
    with pytest.raises(CorpusError, match=r"bin has no text files \(1 skipped: 1 binary extension\)"):
        expand([notes, tmp_path / "bin"])


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_an_unreadable_file_is_skipped(tmp_path):
    root = tmp_path / "notes"
    write(root, "a.txt")
    secret = write(root, "secret.txt")
    secret.chmod(0)
    assert expand([root]) == ([root / "a.txt"], {"unreadable": 1})


@pytest.mark.parametrize(
    ("bad", "verdict"), [(6553, None), (6556, "not UTF-8")], ids=["just under 10%", "just over 10%"]
)
def test_the_utf8_threshold_is_ten_percent_of_the_characters(tmp_path, bad, verdict):
    # 65536 bytes: the last 3 characters are ignored (a cut may split one), so 65533 are judged.
    path = write(tmp_path, "t.txt", b"\xff" * bad + b"a" * (sources.SNIFF_BYTES - bad) + b"tail")
    assert sources.why_not_text(path) == verdict


def test_describe():
    assert sources.describe({}) == "0 skipped"
    assert sources.describe({"empty": 2, "hidden": 1}) == "3 skipped: 2 empty, 1 hidden"
