"""The never-learn filter: secret-shaped tokens and credential lines never reach the cache or the memory,
while ordinary prose is kept."""

from __future__ import annotations

import base64
import string
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autocomplete.adapt import Adaptation, AdaptParams, Rule, suggest_adapted
from autocomplete.secrets import is_clean, safe_pieces
from autocomplete.text import tokenize, tokenize_line
from autocomplete.vocab import Vocabulary
from autocomplete.wordcounts import learnable

PROSE = [
    "The cat sat on the mat, and the dog slept by the fire.",
    "We walked to the harbour in the morning and came back at noon.",
    "Run python3 on the x86 box, then check the utf8 output.",
    "It was the best of times, it was the worst of times.",
    "git rebase -i HEAD~3 squashes the last three commits.",
    "Meet me at 10 on Tuesday; bring 2 copies of the report.",
]
KEYWORDS = [
    "password",
    "passwd",
    "Password",
    "token",
    "secret",
    "api key",
    "api_key",
    "API-KEY",
    "passphrase",
    "passcode",
    "pw",
]
_words = st.from_regex(r"[a-z]{1,10}", fullmatch=True).filter(
    lambda w: not any(k in w for k in ("pass", "pw", "token", "secret", "key", "bearer", "otp", "credential"))
)
_hex = st.text("0123456789abcdef", min_size=16, max_size=64)
_mixed = (
    st.tuples(
        st.text(string.ascii_letters, min_size=2, max_size=20),
        st.text(string.digits, min_size=2, max_size=8),
        st.randoms(use_true_random=False),
    )
    .map(lambda t: "".join(t[2].sample(t[0] + t[1], len(t[0] + t[1]))))
    .filter(lambda s: len(s) >= 8)
)
_base64 = (
    st.binary(min_size=15, max_size=48)
    .map(lambda b: base64.b64encode(b).decode())
    .filter(
        lambda s: (
            any(c.isdigit() for c in s)
            and any(c.isupper() for c in s)
            and any(c.islower() for c in s)
            or s.endswith("=")
        )
    )
)
_prefixed = st.sampled_from(["ghp_", "xoxb-", "sk_live_", "AKIA", "glpat_"]).flatmap(
    lambda p: st.text(string.ascii_uppercase + string.digits, min_size=16, max_size=40).map(lambda s: p + s)
)
SECRETS = st.one_of(_hex, _mixed, _base64, _prefixed, st.text(string.digits, min_size=12, max_size=20))


def _vocab() -> Vocabulary:
    from collections import Counter

    return Vocabulary.build(Counter(tokenize(" ".join(PROSE))))


class _Uniform:
    def __init__(self, vocab):
        self.vocab, self.context_size = vocab, 2

    def next_word_probs(self, context_ids):
        return np.full(len(self.vocab), 1.0 / len(self.vocab), np.float32)


STRONG = AdaptParams(1000, Rule((0.3, 0.3, 0.2), (1.0, 1.0, 1.0)), Rule((0.05, 0.05, 0.0), (1.0, 1.0, 1.0)))


def test_prose_is_kept_whole():
    assert [safe_pieces(line) for line in PROSE] == [[line] for line in PROSE]
    assert all(is_clean(line) for line in PROSE)


@pytest.mark.parametrize(
    "line",
    [
        "curl -u alice:s3cretpw https://api.example.com/v1/items",
        "git clone https://alice:hunter2@github.com/alice/repo.git",
        "export AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMIKbPxRfiCYEXAMPLEKEY",
        "Authorization: Bearer abc.def.ghi",
        'curl -H "Authorization: Basic YWxpY2U6c2VjcmV0" https://x.test',
        "DB_PASSWORD = correcthorse",
        "Password: hunter2",
        "mysql -u root -phunter2 shop",
        "-----BEGIN OPENSSH PRIVATE KEY-----",
        "docker login -u bob -p hunter2 registry.example.com",
        "podman login --username bob -p hunter2 quay.io",
        "PGPASSWORD=hunter2 psql -h db shop",
        "smbclient //host/share -U bob%hunter2",
        "net use z: \\\\host\\share /user:bob hunter2",
        "htpasswd -b users bob hunter2",
        "echo hunter2 | sudo -S apt update",
    ],
)
def test_credential_lines_are_dropped_whole(line):
    assert safe_pieces(line) == []
    assert learnable(line) == []


@pytest.mark.parametrize(
    ("line", "kept"),
    [
        ("my password is hunter2 so do not tell", ["my password"]),
        ("the api key is zebra lion tiger", ["the api key"]),
        ("Token abcdef for the staging box", ["Token"]),
        ("the passcode is tulip", ["the passcode"]),
        ("my pw is tulip", ["my pw"]),
        ("see commit e83c5163316f89bfbde7d9ab23ca2e25604af290 for the fix", ["see commit ", " for the fix"]),
    ],
)
def test_what_follows_a_keyword_and_secret_chunks_are_cut(line, kept):
    assert safe_pieces(line) == kept


def test_no_ngram_spans_a_removed_secret():
    tokens = [t for t, _ in learnable("open the a8f3k2q9z7 door")]
    assert tokens == ["open", "the", "</s>", "door"]


@settings(max_examples=300, deadline=None)
@given(before=st.lists(_words, max_size=6), after=st.lists(_words, max_size=6), secret=SECRETS)
def test_random_secrets_are_never_learned_nor_suggested(before, after, secret):
    line = " ".join([*before, secret, *after])
    adaptation = Adaptation(_vocab(), STRONG)
    adaptation.accept(line)
    adaptation.accept(line)
    secret_tokens = set(tokenize_line(secret)) - set(before) - set(after)
    assert secret_tokens.isdisjoint(adaptation.lexicon.ids)
    assert {t for t, _ in learnable(line)} == set(before) | set(after) | (
        {"</s>"} if before and after else set()
    )
    model = _Uniform(adaptation.vocab)
    for token in secret_tokens - set(adaptation.vocab.words):  # a word the model knows ("2") may be shown
        for j in range(1, len(token) + 1):
            shown = suggest_adapted(f"{line} {token[:j]}", model, adaptation, k=10)
            assert token not in {s.word.lower() for s in shown.items}


@settings(max_examples=200, deadline=None)
@given(keyword=st.sampled_from(KEYWORDS), word=st.from_regex(r"[A-Za-z0-9!@#$%^&*]{1,16}", fullmatch=True),
       tail=st.lists(_words, max_size=4))  # fmt: skip
def test_anything_after_a_password_keyword_is_never_learned(keyword, word, tail):
    line = " ".join(["my", keyword, "is", word, *tail])
    learned = [t for t, _ in learnable(line)]
    assert learned == tokenize_line(f"my {keyword}")


@settings(max_examples=200, deadline=None)
@given(st.lists(_words, min_size=1, max_size=12))
def test_ordinary_words_are_kept(words):
    assert [t for t, _ in learnable(" ".join(words))] == words


def test_the_patterns_are_compiled_at_their_first_use():
    """Importing the filter compiles nothing (the REPL's start needs none of it); a line of prose needs
    the cheap looks alone."""
    script = (
        "from autocomplete import secrets\n"
        "print(secrets._re.cache_info().currsize)\n"
        "secrets.safe_pieces('a line of prose')\n"
        "print(secrets._re.cache_info().currsize)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["0", "3"]
