"""The REPL's Tab menu and ghost text as plain functions of (text, model): no terminal, the fake model."""

from __future__ import annotations

import pytest
from fakes import FakeModel
from prompt_toolkit.buffer import Buffer
from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document

from autocomplete.repl.autosuggest import Ghost, GhostAutoSuggest, GhostKeeper, ghost_for, ghost_targets
from autocomplete.repl.commands import command_completions
from autocomplete.repl.completer import ModelCompleter, completions, typed_prefix
from autocomplete.repl.state import Answers


@pytest.fixture
def answers():
    return Answers(FakeModel(), 5)


# --- completer ------------------------------------------------------------------------------------


def test_completions_replace_the_partial_word_and_add_a_space(answers):
    got = completions("the c", answers("the c"))
    assert [c.text for c in got] == ["cat ", "cow ", "castle "]
    assert {c.start_position for c in got} == {-1}
    assert [c.display_text for c in got] == ["cat", "cow", "castle"]
    assert [c.display_meta_text for c in got] == ["66.7%", "22.2%", "11.1%"]


def test_next_word_completions_insert_at_the_cursor(answers):
    got = completions("the ", answers("the "))
    assert [c.text for c in got][:2] == ["cat ", "dog "]
    assert {c.start_position for c in got} == {0}
    assert got[0].display_meta_text == "50.0%"


def test_a_next_word_after_punctuation_gets_its_space(answers):
    assert completions("hello,", answers("hello,"))[0].text == " the "
    assert completions("", answers(""))[0].text == "the "


def test_completions_keep_the_case_the_word_was_started_in(answers):
    got = completions("The C", answers("The C"))
    assert [c.text for c in got] == ["Cat ", "Cow ", "Castle "]
    assert got[0].start_position == -1


def test_no_completion_when_no_known_word_starts_with_the_prefix(answers):
    assert completions("the zq", answers("the zq")) == []


@pytest.mark.parametrize(
    "text, prefix, typed",
    [("my lo", "lo", "lo"), ("x", "x", "x"), ("don’", "don'", "don’"), ("my İs", "i̇s", "İs"), ("a", "", "")],
)
def test_typed_prefix_is_what_the_user_typed(text, prefix, typed):
    assert typed_prefix(text, prefix) == typed


def test_model_completer_adapts_completions_and_completes_commands(answers):
    completer = ModelCompleter(answers, command_completions)
    words = list(completer.get_completions(Document("my lo"), CompleteEvent()))
    assert [c.text for c in words] == ["lord ", "love "]
    cmds = list(completer.get_completions(Document(":mo"), CompleteEvent()))
    assert [c.text for c in cmds] == [":model", ":models"] and cmds[0].start_position == -3
    assert list(ModelCompleter(answers).get_completions(Document(":x"), CompleteEvent())) == []


def test_commands_complete_in_any_case_as_they_run(answers, make_model):
    """`:HELP` runs :help, so `:HE` completes to it; `:MODEL ` completes model names like `:model `."""
    make_model("alpha")
    completer = ModelCompleter(answers, command_completions)
    cmds = list(completer.get_completions(Document(":MO"), CompleteEvent()))
    assert [c.text for c in cmds] == [":model", ":models"] and cmds[0].start_position == -3
    names = list(completer.get_completions(Document(":MODEL al"), CompleteEvent()))
    assert [(c.text, c.start_position) for c in names] == [("alpha", -2)]


def test_completions_use_the_text_before_the_cursor(answers):
    completer = ModelCompleter(answers)
    got = list(completer.get_completions(Document("my lo and more", cursor_position=5), CompleteEvent()))
    assert [c.text for c in got] == ["lord ", "love "]


# --- ghost text -----------------------------------------------------------------------------------


def test_ghost_is_the_rest_of_the_best_completion(answers):
    ghost = ghost_for("the c", answers)
    assert ghost.text == "at" and ghost.word == "cat"
    assert ghost.targets == ("the cat", "the cow", "the castle")


def test_ghost_after_a_space_is_the_best_next_word(answers):
    assert ghost_for("the ", answers).text == "cat"
    assert ghost_for("", answers).text == "the"
    assert ghost_for("hello,", answers).text == " the"


def test_a_finished_word_moves_the_ghost_to_the_next_word(answers):
    ghost = ghost_for("my lord", answers)  # "lord" is the best (only) completion of "lord"
    assert ghost.text == " is" and ghost.word == "is"
    assert ghost.targets[:2] == ("my lord is", "my lord and")


def test_ghost_keeps_the_typed_case(answers):
    assert ghost_for("The C", answers).text == "at"


def test_no_ghost_for_commands_or_unknown_prefixes(answers):
    assert ghost_for(":model", answers) is None
    assert ghost_for("the zq", answers) is None


def test_ghost_follows_typed_letters_that_match_it(answers):
    ghost = ghost_for("the c", answers)
    assert ghost.follow("the ca").text == "t"
    assert ghost.follow("the cas").text == "tle"  # no longer "cat": the best target that still matches
    assert ghost.follow("the cat") is None  # nothing left to add
    assert ghost.follow("the cx") is None
    assert ghost.follow("the ").text == "cat"  # Backspace: the same target, longer ghost


def test_following_the_ghost_is_exact(answers):
    """Within one word the kept ghost equals a fresh answer for every prefix of every candidate."""
    for target in ghost_targets("the c", answers):
        ghost = ghost_for("the c", answers)
        for end in range(len("the c") + 1, len(target)):
            text = target[:end]
            ghost = ghost.follow(text)
            assert ghost.text == ghost_for(text, answers).text, text


def test_alt_n_and_alt_p_cycle_through_the_candidates(answers):
    ghost = ghost_for("the c", answers)
    assert [ghost.cycle(1).text, ghost.cycle(1).cycle(1).text, ghost.cycle(-1).text] == [
        "ow",
        "astle",
        "astle",
    ]
    assert ghost.cycle(1).cycle(1).cycle(1).text == "at"  # wraps
    chosen = ghost.cycle(1)
    assert chosen.follow("the co").text == "w"  # the chosen one is kept while it matches


def test_ghost_word_marks_the_panel_row_only_for_the_listed_words(answers):
    assert ghost_for("the c", answers).panel_word(answers("the c")) == "cat"
    assert ghost_for("the ", answers).panel_word(answers("the ")) == "cat"
    assert ghost_for("my lord", answers).panel_word(answers("my lord")) is None  # panel lists "lord…"


def test_auto_suggest_only_at_the_end_of_the_line(answers):
    auto = GhostAutoSuggest(answers)
    assert auto.get_suggestion(Buffer(), Document("the c")).text == "at"
    assert auto.get_suggestion(Buffer(), Document("the c x", cursor_position=5)) is None


def test_keeper_keeps_the_ghost_across_text_changes(answers):
    buffer, keeper = Buffer(), GhostKeeper()
    keeper.attach(buffer)
    buffer.document = Document("the c")
    keeper.show(buffer, ghost_for("the c", answers))
    buffer.document = Document(
        "the ca"
    )  # prompt_toolkit clears buffer.suggestion here; the keeper restores it
    assert isinstance(buffer.suggestion, Ghost) and buffer.suggestion.text == "t"
    buffer.document = Document("the cx")
    assert buffer.suggestion is None and keeper.last is None
    buffer.document = Document("the c")  # a lost ghost does not come back by itself: a new answer brings it
    assert buffer.suggestion is None


# --- the shared answers -------------------------------------------------------------------------


def test_answers_are_computed_once_per_text():
    model = FakeModel()
    answers = Answers(model, 5, size=2)
    answers("the c"), answers("the c"), answers("the c")
    assert model.calls == 1
    answers("a "), answers("b ")  # evicts "the c"
    answers("the c")
    assert model.calls == 4


# --- any text (hypothesis) ------------------------------------------------------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from autocomplete.text import split_typed  # noqa: E402


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=40) | st.builds(lambda a, b: a + b, st.text(max_size=20), st.sampled_from(
    ["the ", "the c", "my lo", "İ", "e\u0301", "[/x] ", ":top ", "don'"])))
def test_any_text_gets_completions_that_replace_only_the_word_being_typed(text):
    answers = Answers(FakeModel(), 5)
    got = list(ModelCompleter(answers, command_completions).get_completions(Document(text), CompleteEvent()))
    if text.lstrip().startswith(":"):
        return  # command lines complete commands, tested above
    answer = answers(text)
    assert [c.display_text for c in got] == [item.word for item in answer.items]
    for completion in got:
        assert 0 <= -completion.start_position <= len(text)
        kept = text[: len(text) + completion.start_position]
        assert split_typed(kept)[1] == ""  # the whole partial word is replaced, nothing of it is left
        tokens, prefix = split_typed(kept + completion.text)
        assert prefix == "" and completion.text.endswith(" ")  # the word is complete, the next may start
        assert tokens == split_typed(text)[0] + [completion.display_text.lower()]  # the context it was for
