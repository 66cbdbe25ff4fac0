"""ODSQL text → tokens; anything outside the language stops here with its position."""

from __future__ import annotations

import re
from dataclasses import dataclass

from mutuelle.core.errors import QueryError

#: Longest clause text accepted, in characters (a where of 10 kB must pass).
MAX_CLAUSE_CHARS = 32_768

# Token kinds.
IDENT = "ident"        # bare name: field, keyword or function (case kept)
QIDENT = "qident"      # `back-quoted` field name
STRING = "string"
NUMBER = "number"
TYPED = "typed"        # date'...' / geom'...': value is (prefix, text)
OP = "op"
EOF = "eof"

_NUMBER = re.compile(r"\d+(?:\.\d+)?(?:[eE][+-]?\d+)?")
_IDENT = re.compile(r"[^\W\d]\w*")
_OPERATORS = ("..", "<=", ">=", "!=", "<>", "=", "<", ">", ":", "+", "-", "*", "/",
              "(", ")", "[", "]", ",", "?")  # "?" only means something in include()
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", "'": "'", '"': '"', "`": "`"}
_TYPED_PREFIXES = ("date", "geom")


@dataclass(frozen=True)
class Token:
    """One token: its kind, its value and where it starts and ends in the clause."""

    kind: str
    value: str
    pos: int
    end: int
    prefix: str = ""  # for TYPED tokens: "date" or "geom"

    def is_op(self, *ops: str) -> bool:
        """Whether this is one of the given operators."""
        return self.kind == OP and self.value in ops

    def is_word(self, *words: str) -> bool:
        """Whether this is a bare word equal (ignoring case) to one of ``words``."""
        return self.kind == IDENT and self.value.lower() in words


def check_text(text: str, clause: str) -> None:
    """Refuse clause texts that are too long or hold characters SQL cannot carry."""
    if len(text) > MAX_CLAUSE_CHARS:
        raise QueryError(f"query text longer than {MAX_CLAUSE_CHARS} characters",
                         clause=clause, position=MAX_CLAUSE_CHARS)
    for i, ch in enumerate(text):
        code = ord(ch)
        if (code < 32 and ch not in "\t\n\r") or 0xD800 <= code <= 0xDFFF:
            raise QueryError(f"forbidden character U+{code:04X}", clause=clause, position=i)


def tokenize(text: str, clause: str) -> list[Token]:
    """Split a clause into tokens, ending with an EOF token."""
    check_text(text, clause)
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
            continue
        if text.startswith("--", i) or text.startswith("/*", i):
            raise QueryError("comments are not part of ODSQL", clause=clause, position=i)
        if ch in "'\"":
            value, end = _read_quoted(text, i, clause)
            tokens.append(Token(STRING, value, i, end))
            i = end
            continue
        if ch == "`":
            value, end = _read_quoted(text, i, clause)
            if not value:
                raise QueryError("empty field name", clause=clause, position=i)
            tokens.append(Token(QIDENT, value, i, end))
            i = end
            continue
        m = _NUMBER.match(text, i)
        if m:
            tokens.append(Token(NUMBER, m.group(), i, m.end()))
            i = m.end()
            continue
        m = _IDENT.match(text, i)
        if m:
            word = m.group()
            end = m.end()
            if word.lower() in _TYPED_PREFIXES and end < n and text[end] in "'\"":
                value, stop = _read_quoted(text, end, clause)
                tokens.append(Token(TYPED, value, i, stop, prefix=word.lower()))
                i = stop
                continue
            tokens.append(Token(IDENT, word, i, end))
            i = end
            continue
        for op in _OPERATORS:
            if text.startswith(op, i):
                tokens.append(Token(OP, op, i, i + len(op)))
                i += len(op)
                break
        else:
            raise QueryError(f"unexpected character {ch!r}", clause=clause, position=i)
    tokens.append(Token(EOF, "", n, n))
    return tokens


def _read_quoted(text: str, start: int, clause: str) -> tuple[str, int]:
    """Read a quoted run starting at ``start``; backslash escapes the next character."""
    quote = text[start]
    out: list[str] = []
    i = start + 1
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            if i + 1 >= len(text):
                break
            nxt = text[i + 1]
            out.append(_ESCAPES.get(nxt, "\\" + nxt))
            i += 2
            continue
        if ch == quote:
            return "".join(out), i + 1
        out.append(ch)
        i += 1
    raise QueryError("unterminated quoted text", clause=clause, position=start)
