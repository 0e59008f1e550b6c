"""The Tab menu: prompt_toolkit Completions adapted from suggest()'s answer, and `:command` completion.

`completions(text, answer)` is a plain function of the text before the cursor and the answer for it, so
tests call it without a terminal; `ModelCompleter` only feeds it. The app wraps the completer in
ThreadedCompleter (the model never runs on the UI thread) and DynamicCompleter (`:model` swaps it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document

from autocomplete.repl.commands import is_command
from autocomplete.suggest import Suggestions
from autocomplete.text import normalize


def typed_prefix(text: str, prefix: str) -> str:
    """The characters at the end of `text` that the (normalized, lower-cased) `prefix` was made from.

    Almost always the last len(prefix) characters; not when normalizing changed the length ("İ".lower() is
    two characters, NFC may join two into one), and then it is the shortest tail that normalizes to it.
    """
    if not prefix:
        return ""
    tail = text[-len(prefix) :]
    if normalize(tail) == prefix:
        return tail
    for n in range(1, min(len(text), 2 * len(prefix) + 2) + 1):
        if normalize(text[-n:]) == prefix:
            return text[-n:]
    return tail


def completions(text: str, answer: Suggestions) -> list[Completion]:
    """Completions that replace the partial word (or start the next one) with each suggested word and a space.

    The menu shows the word alone and its probability in the meta column.
    """
    typed = typed_prefix(text, answer.prefix)
    # A next word after "end." or "well," needs a space first; after a space or at the start it does not.
    lead = " " if not typed and text and not text[-1].isspace() else ""
    return [
        Completion(
            f"{lead}{item.word} ",
            start_position=-len(typed),
            display=item.word,
            display_meta=f"{item.probability:.1%}",
        )
        for item in answer.items
    ]


class ModelCompleter(Completer):
    """Completions from one model's answers (see state.Answers); `commands` completes `:` lines."""

    def __init__(
        self,
        answers: Callable[[str], Suggestions],
        commands: Callable[[str], Iterable[Completion]] | None = None,
    ):
        self.answers = answers
        self.commands = commands

    def get_completions(self, document: Document, complete_event: CompleteEvent) -> Iterator[Completion]:
        text = document.text_before_cursor
        if is_command(text):
            if self.commands is not None:
                yield from self.commands(text)
            return
        yield from completions(text, self.answers(text))
