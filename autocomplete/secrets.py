"""Never learn a secret: the filter every line goes through before the recency cache or the memory sees it.

Three rules, on the raw line (before tokenizing: "ab12+/cd==" or "ghp_x1y2" would split into harmless-looking
words):
- a line that looks like a command or header carrying credentials (`curl -u user:pass`,
  `https://user:pass@host`, `export AWS_SECRET_ACCESS_KEY=...`, `PGPASSWORD=... psql`, `mysql -p...`,
  `docker login -p ...`, `Authorization: Bearer ...`, `echo ... | sudo -S`, a private key's armour) is
  dropped whole;
- after a keyword that announces one (`password`, `passwd`, `token`, `secret`, `api key`, ...), the rest of
  the line is dropped: "my password is hunter2" keeps "my password";
- a whitespace-separated chunk holding a secret-shaped run is dropped: a run of 8+ letters and digits with at
  least 2 of each, a 16+ run with both, 16+ hex digits, 12+ digits, 20+ base64 characters mixing upper case,
  lower case and digits, or a known token prefix (`ghp_`, `xoxb-`, `sk_live_`, `AKIA`, a JWT).
What is left is returned as the pieces between the drops; the caller never joins two pieces into one
n-gram. Long runs of letters alone (no digit) are kept: they are words and identifiers far more often than
keys.
"""

from __future__ import annotations

import functools
import re

_KEYWORD = (
    r"(?i)(?<![^\W_])(?:pass(?:word|wd|phrase|code)s?|pwd|pw|passwort|contrase[ñn]a|senha|пароль|mot de passe"
    r"|secrets?|tokens?|api[\s_-]?keys?|apikey|access[\s_-]?keys?|private[\s_-]?keys?|client[\s_-]?secret"
    r"|credentials?|bearer|otp)(?![^\W_])"
)
_CREDENTIAL_LINE = "|".join(
    [
        r"://[^\s/:@]+:[^\s/@]+@",  # https://user:pass@host
        r"(?:^|\s)(?:-u|--user)[\s=]+\S+:\S+",  # curl -u user:pass
        r"(?i:(?:^|[\s;&|'\"(])(?:export\s+|set\s+|setenv\s+)?(?:[a-z0-9]+[_-])*"
        r"(?:api[_-]?key|key|secret|token|pass|password|passwd|pwd|credentials?|auth)(?:[_-][a-z0-9]+)*"
        r"\s*[:=]\s*\S)",  # export AWS_SECRET_ACCESS_KEY=..., DB_PASSWORD: x
        r"(?i:\bauthorization\s*:)",  # Authorization: Bearer ...
        r"(?i:\bbearer\s+\S)",
        r"-----BEGIN [A-Z ]*PRIVATE KEY-----",
        r"(?i:\b(?:mysql|mysqldump|psql|mongo\w*|redis-cli)\b.*\s-(?:p\S|a\s))",  # mysql -psecret
        r"(?i:\bsshpass\s+-p)",
        r"(?i:\b(?:docker|podman|nerdctl|helm|oc)\b.*\blogin\b.*\s-p(?:\s|=|$))",  # docker login -p x
        r"\b[A-Z0-9_]*(?:PASS|PWD|SECRET|TOKEN|KEY|AUTH)[A-Z0-9_]*=\S",  # PGPASSWORD=x psql
        r"(?:^|\s)-U\s+\S+%\S",  # smbclient -U user%pass
        r"(?i:\s/user:\S+\s+\S)",  # net use ... /user:name password
        r"\bhtpasswd\s+(?:-\w+\s+)*-\w*b",  # htpasswd -b file user password
        r"\|\s*sudo\s+(?:-\w+\s+)*-\w*S",  # echo password | sudo -S
    ]
)
_ALNUM_RUN = r"[^\W_]+"
_HEX_RUN = r"[0-9a-fA-F]{16,}"
_BASE64_RUN = r"[A-Za-z0-9+/_-]{20,}={0,2}|[A-Za-z0-9+/]{16,}={1,2}"
_TOKEN_PREFIX = (
    r"(?:ghp|gho|ghu|ghs|ghr|github_pat|glpat)_\w{10,}|xox[abprs]-[\w-]{8,}|(?:sk|pk|rk)_(?:live|test)_\w{8,}"
    r"|AKIA[0-9A-Z]{12,}|eyJ[\w-]{8,}\.[\w-]{8,}\.[\w-]+|AIza[\w-]{20,}"
)
_CHUNK = r"\S+"
# Cheap first looks, so that a line of prose costs one scan: the full patterns run only where these hit.
_MAY_CARRY_CREDENTIALS = (
    r"(?i)://|-u|--user|key|secret|token|pass|pwd|credential|auth|bearer|-----BEGIN|mysql|psql|mongo|redis"
    r"|login|/user:|sudo"
)
_DIGIT = r"\d"


@functools.cache
def _re(pattern: str) -> re.Pattern[str]:
    """Compiled at its first use: a line needs few of these, and the REPL's start needs none."""
    return re.compile(pattern)


def is_secret(chunk: str) -> bool:
    """Whether a whitespace-free piece of text holds a secret-shaped run (see the module docstring)."""
    if len(chunk) < 8 or (len(chunk) < 16 and not _re(_DIGIT).search(chunk)):
        return False  # too short for any rule below
    if _re(_TOKEN_PREFIX).search(chunk) or _re(_HEX_RUN).search(chunk):
        return True
    for run in _re(_ALNUM_RUN).findall(chunk):
        digits = sum(c.isdigit() for c in run)
        letters = len(run) - digits
        if (len(run) >= 8 and digits >= 2 and letters >= 2) or (len(run) >= 16 and digits and letters):
            return True
        if digits >= 12 and not letters:
            return True
    for run in _re(_BASE64_RUN).findall(chunk):
        if run.endswith("=") or (
            any(c.isdigit() for c in run) and any(c.isupper() for c in run) and any(c.islower() for c in run)
        ):
            return True
    return False


def is_credential_line(line: str) -> bool:
    return bool(_re(_MAY_CARRY_CREDENTIALS).search(line) and _re(_CREDENTIAL_LINE).search(line))


def safe_pieces(line: str) -> list[str]:
    """The parts of one line that may be learned, in order; [] for a credential line. Never join two pieces:
    a secret stood between them."""
    if is_credential_line(line):
        return []
    keyword = _re(_KEYWORD).search(line)
    if keyword is not None:
        line = line[: keyword.end()]
    pieces, start = [], 0
    for chunk in _re(_CHUNK).finditer(line):
        if is_secret(chunk.group()):
            pieces.append(line[start : chunk.start()])
            start = chunk.end()
    pieces.append(line[start:])
    return [p for p in pieces if p.strip()]


def is_clean(line: str) -> bool:
    """True if the filter keeps the whole line as it is."""
    return safe_pieces(line) == ([line] if line.strip() else [])
