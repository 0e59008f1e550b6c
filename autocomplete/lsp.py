"""A Language Server Protocol server on stdio: the model's suggestions as completion items, in any editor.

Needs the `lsp` extra (pygls, lsprotocol). The model is loaded once, before the server starts; a request
costs one `suggest` call on the text before the cursor (its last CONTEXT_CHARS characters, which hold the
context many times over). A missing or broken model is shown to the user (`window/showMessage`) and every
request then gets an empty list: the editor keeps working, only without suggestions.
"""

from __future__ import annotations

from urllib.parse import unquote

from lsprotocol import types
from pygls.lsp.server import LanguageServer

from autocomplete import __version__
from autocomplete.suggest import NextWordModel, suggest
from autocomplete.text import split_typed, typed_word

CONTEXT_CHARS = 4096  # the most text before the cursor a request reads: bounds a huge document's cost
SHORT_TAIL = 256  # usually enough: tokenizing 4 KB on every keystroke would cost more than the model
EMPTY = types.CompletionList(is_incomplete=False, items=[])


def line_start(source: str, line: int) -> int | None:
    """The offset where `line` (0-based) starts, as pygls splits lines; None past the document's end."""
    lines = source.splitlines(True)
    if line < len(lines):
        return sum(map(len, lines[:line]))
    if line == len(lines) and (not lines or lines[-1][-1:] in ("\n", "\r")):
        return len(source)  # the empty line after a final line break (or an empty document)
    return None


def before_cursor(source: str, position: types.Position, units) -> tuple[str, types.Position] | None:
    """The document text before the cursor (its last CONTEXT_CHARS characters) and the cursor itself, or None
    when the line is past the end. A character past the line's end means its end, as the LSP spec says;
    `units` counts the client's code units (UTF-16 by default)."""
    start = line_start(source, position.line)
    if start is None:
        return None
    rest = source[start:]
    content = rest.splitlines()[0] if rest else ""
    if content.isascii():
        column = used = min(position.character, len(content))
    else:
        column = used = 0
        while (
            column < len(content) and used + units.code_units_for_char(content[column]) <= position.character
        ):
            used += units.code_units_for_char(content[column])
            column += 1
    text = source[max(0, start + column - CONTEXT_CHARS) : start + column]
    return text, types.Position(position.line, used)


def typed_length(text: str) -> int:
    """How many characters at the end of `text` are the word being typed (its raw form, before NFC)."""
    typed = typed_word(text)
    if not typed:
        return 0
    for k in range(len(typed), min(len(text), 4 * len(typed) + 4) + 1):
        if typed_word(text[-k:]) == typed:
            return k
    return len(typed)


def context_tail(text: str, context_size: int) -> str:
    """The end of `text` that gives `suggest` the same answer: its last SHORT_TAIL characters when they hold
    more words than the context (a word cut in two at the start is then outside it), else all of `text`."""
    tail = text[-SHORT_TAIL:]
    if len(tail) < len(text) and len(split_typed(tail)[0]) <= context_size:
        return text
    return tail


def completions(model: NextWordModel, text: str, position: types.Position, units, k: int):
    """The completion list for `text` (everything before the cursor at `position`): items in rank order,
    each replacing the partial word being typed."""
    text = context_tail(text, model.context_size)
    answer = suggest(text, model, k)
    typed = text[len(text) - typed_length(text) :]
    start = types.Position(position.line, position.character - units.num_units(typed))
    replace = types.Range(start, position)
    items = [
        types.CompletionItem(
            label=item.word,
            kind=types.CompletionItemKind.Text,
            detail=f"{item.probability:.1%}",
            sort_text=f"{rank:04d}",
            filter_text=item.word,
            text_edit=types.TextEdit(range=replace, new_text=item.word),
        )
        for rank, item in enumerate(answer.items)
    ]
    # Incomplete: the ranking changes with every letter, so the editor asks again rather than filtering.
    return types.CompletionList(is_incomplete=True, items=items)


def make_server(model: NextWordModel | None, problem: str | None, k: int) -> LanguageServer:
    """A server answering completions from `model`; with `problem` (no model) it says so and answers empty."""
    server = LanguageServer(
        "autocomplete", __version__, text_document_sync_kind=types.TextDocumentSyncKind.Incremental
    )

    @server.feature(types.INITIALIZED)
    def initialized(ls: LanguageServer, params: types.InitializedParams) -> None:
        if problem:
            ls.window_show_message(
                types.ShowMessageParams(types.MessageType.Error, f"autocomplete: {problem}")
            )

    @server.feature(types.TEXT_DOCUMENT_COMPLETION, types.CompletionOptions(trigger_characters=[" "]))
    def complete(ls: LanguageServer, params: types.CompletionParams) -> types.CompletionList:
        document = ls.workspace.text_documents.get(unquote(params.text_document.uri))
        if model is None or document is None:  # never opened: pygls would read the file from disk
            return EMPTY
        try:
            return _complete(document, params.position)
        except Exception as error:  # a bug must cost one answer, never the editor's server
            ls.window_log_message(types.LogMessageParams(types.MessageType.Error, f"autocomplete: {error!r}"))
            return EMPTY

    def _complete(document, position: types.Position) -> types.CompletionList:
        units = document.position_codec.impl
        found = before_cursor(document.source, position, units)
        if found is None:
            return EMPTY
        text, cursor = found
        return completions(model, text, cursor, units, k)

    return server


def serve(model_name: str | None, k: int) -> None:
    """Load the model once and answer on stdin/stdout until the editor says exit."""
    from autocomplete import store
    from autocomplete.blas import use_one_blas_thread
    from autocomplete.errors import AutocompleteError

    model, problem = None, None
    try:
        model = store.load(model_name)[1]
    except AutocompleteError as error:
        problem = str(error)
    use_one_blas_thread()  # one small product per answer, as in `predict`
    make_server(model, problem, k).start_io()
