"""Ghost text, as in fish: the best completion of the word being typed, or the best next word, shown dimmed.

A `Ghost` is prompt_toolkit's Suggestion plus what it came from: the line it extends and every candidate
line ("targets", best first). That is what lets the REPL
- keep the ghost on screen while the typed letters still match it (`Ghost.follow`, called on every text
  change, before any new answer exists: no blank frame). This is exact, not a guess: within one word the
  context is the same, so the best completion of "ca" is the best of the completions of "c" that start
  with "ca";
- cycle through the other candidates with Alt-N / Alt-P (`Ghost.cycle`).

`ghost_for(text, answers)` is a plain function; `GhostAutoSuggest` adapts it (wrapped by the app in
ThreadedAutoSuggest, so the model runs off the UI thread, and DynamicAutoSuggest, so `:model` swaps it).
"""

from __future__ import annotations

from collections.abc import Callable

from prompt_toolkit.auto_suggest import AutoSuggest, Suggestion
from prompt_toolkit.buffer import Buffer
from prompt_toolkit.document import Document

from autocomplete.repl.commands import is_command
from autocomplete.suggest import Suggestions


class Ghost(Suggestion):
    """The ghost text `targets[index][len(line):]` shown after `line`."""

    def __init__(self, line: str, targets: tuple[str, ...], index: int = 0):
        super().__init__(targets[index][len(line) :])
        self.line, self.targets, self.index = line, targets, index

    def __repr__(self) -> str:
        return f"Ghost({self.line!r} + {self.text!r}, {len(self.targets)} targets)"

    def _extending(self, line: str) -> list[int]:
        return [i for i, t in enumerate(self.targets) if len(t) > len(line) and t.startswith(line)]

    def follow(self, line: str) -> Ghost | None:
        """The ghost to show once the line became `line`: the same target while it still extends it,
        else the best one that does; None when none does."""
        target = self.targets[self.index]
        if len(target) > len(line) and target.startswith(line):
            return Ghost(line, self.targets, self.index)
        valid = self._extending(line)
        return Ghost(line, self.targets, valid[0]) if valid else None

    def cycle(self, step: int) -> Ghost:
        """The next (step=1) or previous (step=-1) candidate for the same line, wrapping around."""
        valid = self._extending(self.line)
        if not valid:
            return self
        at = valid.index(self.index) if self.index in valid else -1 if step > 0 else 0
        return Ghost(self.line, self.targets, valid[(at + step) % len(valid)])

    @property
    def word(self) -> str:
        """The word the ghost completes ("long" for "my lo" + "ng") or starts ("the" for "my " + "the")."""
        target, start = self.targets[self.index], len(self.line)
        if self.text[:1].isspace():
            start += len(self.text) - len(self.text.lstrip())
        else:
            while start > 0 and not target[start - 1].isspace():
                start -= 1
        return target[start:].split()[0] if target[start:].split() else ""

    def panel_word(self, answer: Suggestions | None) -> str | None:
        """The panel row the ghost stands for, if any: none when the panel lists completions of the word
        typed but the ghost has moved on to the next word."""
        if answer is None or (answer.prefix and self.text[:1].isspace()):
            return None
        return self.word


def next_word_targets(text: str, answer: Suggestions) -> list[str]:
    sep = "" if not text or text[-1].isspace() else " "
    return [f"{text}{sep}{item.word}" for item in answer.items]


def ghost_targets(text: str, answers: Callable[[str], Suggestions]) -> tuple[str, ...]:
    """Every line the ghost may complete `text` to, best first.

    With a partial word: the user's letters kept, the rest of each suggested word appended. If the word
    typed is already the best guess ("lord" in "my lord"), the ghost moves on to the next word (" is").
    """
    answer = answers(text)
    if not answer.prefix:
        targets = next_word_targets(text, answer)
    else:
        targets = []
        for rank, item in enumerate(answer.items):
            rest = item.word[len(answer.prefix) :]
            if rest:
                targets.append(text + rest)
            elif rank == 0:
                targets.extend(next_word_targets(text + " ", answers(text + " ")))
    return tuple(dict.fromkeys(t for t in targets if len(t) > len(text)))


def ghost_for(text: str, answers: Callable[[str], Suggestions]) -> Ghost | None:
    """The ghost to show after `text` (the whole line, cursor at its end), or None."""
    if is_command(text):
        return None  # a command, not prose
    targets = ghost_targets(text, answers)
    return Ghost(text, targets) if targets else None


def ghost_on_screen(buffer: Buffer | None) -> Ghost | None:
    """The ghost the user sees: prompt_toolkit draws a suggestion only with the cursor at the end."""
    if buffer is None or not isinstance(buffer.suggestion, Ghost):
        return None
    return buffer.suggestion if buffer.document.is_cursor_at_the_end else None


class GhostKeeper:
    """Keeps the ghost on screen across text changes.

    prompt_toolkit drops `buffer.suggestion` on every change and asks the auto-suggest again only after an
    insertion, in a thread: the ghost would blink off on each keystroke. Here, on every change (before the
    new answer exists), the last ghost is followed to the new text (`Ghost.follow`); the auto-suggest then
    sees a suggestion in place and does not replace it.
    """

    def __init__(self) -> None:
        self.last: Ghost | None = None

    def attach(self, buffer: Buffer) -> None:
        buffer.on_text_changed += self._changed
        buffer.on_suggestion_set += self._set

    def show(self, buffer: Buffer, ghost: Ghost | None) -> None:
        buffer.suggestion = ghost
        self.last = ghost

    def forget(self) -> None:
        self.last = None

    def _set(self, buffer: Buffer) -> None:
        self.last = buffer.suggestion if isinstance(buffer.suggestion, Ghost) else None

    def _changed(self, buffer: Buffer) -> None:
        last = self.last
        at_end = buffer.document.is_cursor_at_the_end
        self.show(buffer, last.follow(buffer.text) if last is not None and at_end else None)


class GhostAutoSuggest(AutoSuggest):
    """prompt_toolkit's AutoSuggest over one model's answers."""

    def __init__(self, answers: Callable[[str], Suggestions]):
        self.answers = answers

    def get_suggestion(self, buffer: Buffer, document: Document) -> Suggestion | None:
        if not document.is_cursor_at_the_end:
            return None
        return ghost_for(document.text, self.answers)
