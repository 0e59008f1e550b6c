"""`autocomplete lsp` end to end: pygls's own client talks to the real server process over stdio (documents
opened and changed incrementally, completions checked against `suggest`), a broken or missing model, documents
never opened, positions past the end, a huge document, UTF-16 positions, no TensorFlow, and no pygls."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from contextlib import asynccontextmanager

import pytest
from conftest import write_model
from fakes import FakeModel
from hypothesis import given, settings
from hypothesis import strategies as st
from lsprotocol import types
from pygls.lsp.client import LanguageClient
from test_imports import heavy, imported

from autocomplete import modelfile, store
from autocomplete.lsp import CONTEXT_CHARS, context_tail
from autocomplete.suggest import suggest

URI = "file:///notes/today.txt"
SERVER = (sys.executable, "-m", "autocomplete", "lsp")


@asynccontextmanager
async def server(home, *args: str, python_flags: tuple[str, ...] = ()):
    """A started, initialized server; yields (client, shown messages, initialize result)."""
    client = LanguageClient("autocomplete-tests", "1")
    shown: list = []
    arrived = asyncio.Event()

    @client.feature(types.WINDOW_SHOW_MESSAGE)
    def show_message(params):
        shown.append(params)
        arrived.set()

    env = {**os.environ, "AUTOCOMPLETE_HOME": str(home)}
    await client.start_io(SERVER[0], *python_flags, *SERVER[1:], *args, env=env)
    result = await asyncio.wait_for(
        client.initialize_async(types.InitializeParams(capabilities=types.ClientCapabilities())), 60
    )
    client.initialized(types.InitializedParams())
    client.arrived = arrived
    try:
        yield client, shown, result
    finally:
        await asyncio.wait_for(client.shutdown_async(None), 30)
        client.exit(None)
        await asyncio.wait_for(client.stop(), 30)


def open_document(client, text: str, uri: str = URI) -> None:
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(types.TextDocumentItem(uri, "plaintext", 1, text))
    )


def change(client, version: int, start: tuple[int, int], end: tuple[int, int], text: str) -> None:
    replaced = types.Range(types.Position(*start), types.Position(*end))
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            types.VersionedTextDocumentIdentifier(version=version, uri=URI),
            [types.TextDocumentContentChangePartial(range=replaced, text=text)],
        )
    )


async def complete(client, line: int, character: int, uri: str = URI):
    params = types.CompletionParams(types.TextDocumentIdentifier(uri), types.Position(line, character))
    return await asyncio.wait_for(client.text_document_completion_async(params), 30)


def expected(text_before: str, k: int = 10) -> list[tuple[str, str, str]]:
    """(label, detail, sortText) of what `suggest` gives the model "m" for the text before the cursor."""
    _, predictor = store.load("m")
    return [
        (s.word, f"{s.probability:.1%}", f"{r:04d}")
        for r, s in enumerate(suggest(text_before, predictor, k).items)
    ]


def items_of(answer) -> list[tuple[str, str, str]]:
    return [(i.label, i.detail, i.sort_text) for i in answer.items]


def ranges_of(answer) -> set[tuple[int, int, int, int]]:
    r = [i.text_edit.range for i in answer.items]
    return {(x.start.line, x.start.character, x.end.line, x.end.character) for x in r}


def run(coroutine):
    return asyncio.run(coroutine)


def test_completions_follow_incremental_edits_and_equal_suggest(store_home):
    write_model("m")

    async def session():
        async with server(store_home) as (client, shown, init):
            sync = init.capabilities.text_document_sync
            assert sync.change == types.TextDocumentSyncKind.Incremental
            assert init.capabilities.completion_provider.trigger_characters == (" ",)
            open_document(client, "The cat sat on the mat.\nthe d")
            first = await complete(client, 1, 5)
            change(client, 2, (1, 5), (1, 5), "og ")  # "the dog "
            second = await complete(client, 1, 8)
            change(client, 3, (0, 4), (0, 7), "bird")  # "The bird sat on the mat."
            change(client, 4, (0, 23), (0, 24), " a")  # the "." replaced: "... the mat a"
            third = await complete(client, 0, 25)
            return shown, first, second, third

    shown, first, second, third = run(session())
    assert shown == []
    assert items_of(first) == expected("The cat sat on the mat.\nthe d") != []
    assert [i.label for i in first.items] == ["dog"]
    assert ranges_of(first) == {(1, 4, 1, 5)}  # the "d" being typed is replaced
    assert items_of(second) == expected("The cat sat on the mat.\nthe dog ") and len(second.items) == 10
    assert ranges_of(second) == {(1, 8, 1, 8)}  # a next word: inserted at the cursor
    assert items_of(third) == expected("The bird sat on the mat a")
    assert ranges_of(third) == {(0, 24, 0, 25)}
    assert [i.text_edit.new_text for i in third.items] == [i.label for i in third.items]
    assert first.is_incomplete and second.is_incomplete  # the editor asks again at the next letter


def test_a_typed_capital_is_kept_and_positions_count_utf16_units(store_home):
    write_model("m")
    line = "😀 bird: the C"  # the emoji is 2 UTF-16 code units, 1 Python character

    async def session():
        async with server(store_home) as (client, _, _):
            open_document(client, line)
            return await complete(client, 0, len(line) + 1)

    answer = run(session())
    assert items_of(answer) == expected(line) and [i.label for i in answer.items] == ["Cat"]
    assert ranges_of(answer) == {(0, len(line), 0, len(line) + 1)}


def test_never_opened_documents_and_positions_past_the_end(store_home):
    write_model("m")

    async def session():
        async with server(store_home) as (client, _, _):
            never = await complete(client, 0, 0, uri="file:///never/opened.txt")
            open_document(client, "the cat\nsat on the ")
            past_line = await complete(client, 5, 0)
            past_character = await complete(client, 0, 99)  # means the end of the line (the LSP spec)
            after_last_break = await complete(client, 2, 0)
            open_document(client, "the cat\n", uri="file:///notes/b.txt")
            empty_last_line = await complete(client, 1, 0, uri="file:///notes/b.txt")
            return never, past_line, past_character, after_last_break, empty_last_line

    never, past_line, past_character, after_last_break, empty_last_line = run(session())
    assert list(never.items) == list(past_line.items) == list(after_last_break.items) == []
    assert items_of(past_character) == expected("the cat") and ranges_of(past_character) == {(0, 4, 0, 7)}
    assert items_of(empty_last_line) == expected("the cat\n") != []


def test_a_huge_document_uses_its_tail(store_home):
    write_model("m")
    text = "the cat sat on the mat and the dog ran to the red barn. " * 40_000 + "a bird sang while the "

    async def session():
        async with server(store_home) as (client, _, _):
            open_document(client, text)
            return await complete(client, 0, len(text))

    answer = run(session())
    assert len(text) > 100 * CONTEXT_CHARS
    assert items_of(answer) == expected(text) != []


@pytest.mark.parametrize("problem", ["missing", "broken"])
def test_no_usable_model_is_shown_and_answers_are_empty(store_home, problem):
    if problem == "broken":
        write_model("m")
        (store_home / "models" / "m" / modelfile.WEIGHTS_FILE).write_bytes(b"not a zip file")

    async def session():
        async with server(store_home) as (client, shown, _):
            await asyncio.wait_for(client.arrived.wait(), 30)
            open_document(client, "the cat ")
            first, second = await complete(client, 0, 8), await complete(client, 0, 4)
            return shown, first, second

    shown, first, second = run(session())
    assert [m.type for m in shown] == [types.MessageType.Error]
    message = {
        "missing": "autocomplete: no trained model yet",
        "broken": "autocomplete: no usable model: model 'm' is broken",
    }[problem]
    assert shown[0].message.startswith(message), shown[0].message
    assert list(first.items) == list(second.items) == []  # the server keeps answering


def frame(message: dict) -> bytes:
    body = json.dumps(message).encode()
    return b"Content-Length: %d\r\n\r\n%s" % (len(body), body)


def test_the_server_never_imports_tensorflow(store_home):
    write_model("m")
    messages = [
        {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"capabilities": {}}},
        {"jsonrpc": "2.0", "method": "initialized", "params": {}},
        {"jsonrpc": "2.0", "method": "textDocument/didOpen",
         "params": {"textDocument": {"uri": URI, "languageId": "plaintext", "version": 1, "text": "the "}}},
        {"jsonrpc": "2.0", "id": 2, "method": "textDocument/completion",
         "params": {"textDocument": {"uri": URI}, "position": {"line": 0, "character": 4}}},
        {"jsonrpc": "2.0", "id": 3, "method": "shutdown"},
        {"jsonrpc": "2.0", "method": "exit"},
    ]  # fmt: skip
    env = {**os.environ, "AUTOCOMPLETE_HOME": str(store_home)}
    result = subprocess.run(
        [SERVER[0], "-X", "importtime", *SERVER[1:]],
        input=b"".join(map(frame, messages)), capture_output=True, env=env, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert b'"label": "' in result.stdout  # it answered the completion
    names = imported(result.stderr.decode())
    assert "autocomplete.lsp" in names and heavy(names) == []


def test_without_pygls_one_line_says_to_install_the_extra(store_home):
    script = "import sys; sys.modules['pygls'] = None; from autocomplete.cli import app; app(['lsp'])"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.splitlines() == [
        'error: the language server needs pygls: pip install "autocomplete[lsp]"'
    ]


# --- a real editor ---------------------------------------------------------------------------------

# Neovim 0.7 (Debian's): start_client + buf_attach_client (vim.lsp.start is 0.8+). The script opens a file,
# attaches the server, types through the buffer API (incremental didChange), asks for completions and writes
# what it got, or why it got nothing, to $OUT as JSON.
NVIM_CONFIG = r"""
local function finish(result)
  vim.fn.writefile({vim.fn.json_encode(result)}, os.getenv("OUT"))
  vim.cmd("qall!")
end
local id = vim.lsp.start_client({
  name = "autocomplete",
  cmd = {os.getenv("PYTHON"), "-m", "autocomplete", "lsp"},
  root_dir = os.getenv("DIR"),
})
if not id then finish({error = "start_client failed"}) end
vim.cmd("edit " .. os.getenv("DIR") .. "/note.txt")
local buf = vim.api.nvim_get_current_buf()
vim.lsp.buf_attach_client(buf, id)
local client = vim.lsp.get_client_by_id(id)
local ready = vim.wait(30000, function() return client.initialized end, 50)
if not ready then finish({error = "no initialize"}) end
vim.api.nvim_buf_set_lines(buf, 0, -1, false, {"the cat sat on the mat.", "the"})
vim.api.nvim_buf_set_text(buf, 1, 3, 1, 3, {" c"})
local params = {textDocument = {uri = vim.uri_from_bufnr(buf)}, position = {line = 1, character = 5}}
local answers, err = vim.lsp.buf_request_sync(buf, "textDocument/completion", params, 30000)
if not answers then finish({error = tostring(err)}) end
local answer = answers[id] or {}
finish({result = answer.result or vim.NIL, error = answer.err and vim.inspect(answer.err) or vim.NIL})
"""


def test_neovim_gets_the_suggestions(store_home, tmp_path):
    nvim = shutil.which("nvim")
    if nvim is None:
        pytest.skip("nvim is not installed (Debian: apt-get install neovim; .ci/run installs it)")
    write_model("m")
    config, out = tmp_path / "test.lua", tmp_path / "out.json"
    config.write_text(NVIM_CONFIG)
    env = {**os.environ, "AUTOCOMPLETE_HOME": str(store_home), "PYTHON": sys.executable, "OUT": str(out),
           "DIR": str(tmp_path), "XDG_STATE_HOME": str(tmp_path / "state")}  # fmt: skip
    done = subprocess.run(
        [nvim, "--headless", "-n", "-i", "NONE", "-u", str(config)],
        env=env, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert out.exists(), (done.returncode, done.stdout[-2000:], done.stderr[-2000:])
    got = json.loads(out.read_text())
    assert got["error"] is None, got
    items = got["result"]["items"]
    assert items, "the editor got no completion item"
    assert [(i["label"], i["detail"], i["sortText"]) for i in items] == expected(
        "the cat sat on the mat.\nthe c"
    )
    assert {json.dumps(i["textEdit"]["range"], sort_keys=True) for i in items} == {
        json.dumps({"start": {"line": 1, "character": 4}, "end": {"line": 1, "character": 5}}, sort_keys=True)
    }


# --- the text a request reads ----------------------------------------------------------------------

PIECES = [
    "the",
    "cat",
    "my",
    "lord",
    "to",
    "Be",
    "x" * 300,
    " ",
    "  ",
    ". ",
    "!",
    "\n",
    "\n\n",
    "’s",
    "é",
    "e\u0301",
]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=400))
def test_the_short_tail_gives_the_answer_the_whole_text_gives(pieces):
    model = FakeModel()
    text = "".join(pieces)
    short, whole = suggest(context_tail(text, model.context_size), model, 5), suggest(text, model, 5)
    assert (short.context, short.unknown, short.prefix, short.items) == (
        whole.context, whole.unknown, whole.prefix, whole.items,
    )  # fmt: skip
