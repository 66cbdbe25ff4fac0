"""Full-text matching as Opendatasoft does it, as SQLGlot conditions over text columns.

Texts are compared word by word, lower case and without accents. ``search()`` (and a bare
string in a where clause) finds every word of its text, the short ones exactly, the longer
ones within one or two edits, the last one as the start of a word; ``suggest()`` finds words
starting with each word of its text; ``like`` finds words matching a pattern where ``*`` is
any run of letters. ``text_search`` is the entry point other searches (the catalogue) reuse.

User text only ever becomes SQL string literals; the word splitting pattern is ours.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import pairwise

from sqlglot import exp

from mutuelle.core.errors import QueryError
from mutuelle.query.odsql.typed import fn, fold

#: How DuckDB (RE2) cuts a folded text into words: on anything but letters and digits.
WORD_SEPARATORS = r"[^\p{L}\p{N}]+"
#: The same cut in Python's ``re`` (whose ``\w`` is Unicode letters, digits and ``_``).
_PY_SEPARATORS = re.compile(r"[\W_]+")
_PY_PATTERN_SEPARATORS = re.compile(r"(?:[^\w*]|_)+")
#: The lambda parameter naming one word of a row in generated SQL.
_WORD = "odsql_word"
#: Most words one search (or like pattern) looks for: each one is a scan of every row's words.
MAX_WORDS = 32

EXACT, FUZZY, PREFIX, PATTERN = "exact", "fuzzy", "prefix", "pattern"


@dataclass(frozen=True)
class Term:
    """One word to find: exactly, within ``edits`` edits, as a word start or as a pattern."""

    word: str
    kind: str
    edits: int = 0


def fold_text(text: str) -> str:
    """Lower case without accents (the Python twin of ``typed.fold``)."""
    decomposed = unicodedata.normalize("NFD", text.lower())
    return "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")


def words(text: str) -> list[str]:
    """The folded words of ``text``, as the generated SQL cuts a field's value."""
    return [w for w in _PY_SEPARATORS.split(fold_text(text)) if w]


def allowed_edits(word: str) -> int:
    """Opendatasoft's fuzziness: 2 edits past 5 letters, 1 past 2 letters, none below."""
    return 2 if len(word) > 5 else 1 if len(word) > 2 else 0


def search_terms(text: str) -> tuple[Term, ...]:
    """``search()``: each word within its allowed edits, the last one as a word start."""
    found = words(text)
    terms = [Term(w, FUZZY, allowed_edits(w)) if allowed_edits(w) else Term(w, EXACT)
             for w in found[:-1]]
    return tuple(terms + [Term(w, PREFIX) for w in found[-1:]])


def suggest_terms(text: str) -> tuple[Term, ...]:
    """``suggest()``: every word as the start of a word."""
    return tuple(Term(w, PREFIX) for w in words(text))


def like_terms(pattern: str) -> tuple[Term, ...]:
    """``like``: every word of the pattern, ``*`` standing for any run of letters."""
    found = [w for w in _PY_PATTERN_SEPARATORS.split(fold_text(pattern)) if w]
    return tuple(Term(w.replace("*", "%"), PATTERN) if "*" in w else Term(w, EXACT)
                 for w in found)


#: The terms of each kind of text search.
MODES: dict[str, Callable[[str], tuple[Term, ...]]] = {
    "search": search_terms,
    "suggest": suggest_terms,
}


def text_search(text: str, columns: Sequence[exp.Expr], *, mode: str = "search",
                clause: str = "where", position: int | None = None) -> exp.Expr:
    """Rows where every term of ``text`` (read as ``mode`` does) is in one of ``columns``;
    a text of more than ``MAX_WORDS`` words is a QueryError at ``clause``/``position``."""
    return match_terms(checked(MODES[mode](text), clause=clause, position=position), columns)


def checked(terms: tuple[Term, ...], *, clause: str, position: int | None) -> tuple[Term, ...]:
    """``terms``, unless there are more than ``MAX_WORDS`` of them."""
    if len(terms) > MAX_WORDS:
        raise QueryError(f"a text search takes at most {MAX_WORDS} words, not {len(terms)}",
                         clause=clause, position=position)
    return terms


def match_terms(terms: Sequence[Term], columns: Sequence[exp.Expr]) -> exp.Expr:
    """Every term matches a word of one of the columns (no terms: every row).

    Cheap substring tests come first: DuckDB only splits into words the rows they keep."""
    if not terms:
        return exp.Boolean(this=True)
    if not columns:
        return exp.Boolean(this=False)
    quick = [exp.or_(*(fn("contains", row_text(columns), fold(exp.Literal.string(part)))
                       for part in parts)) for parts in map(_needles, terms) if parts]
    exact = [_MATCHERS[term.kind](row_words(columns), term) for term in terms]
    return exp.and_(*quick, *exact)


def row_text(columns: Sequence[exp.Expr]) -> exp.Expr:
    """The columns' values as one folded text (null when a lone column is)."""
    text = columns[0].copy() if len(columns) == 1 else fn(
        "concat_ws", exp.Literal.string(" "), *(c.copy() for c in columns))
    return fold(text)


def row_words(columns: Sequence[exp.Expr]) -> exp.Expr:
    """The folded words of the columns' values, as a list (null when a lone column is)."""
    return fn("regexp_split_to_array", row_text(columns), exp.Literal.string(WORD_SEPARATORS))


def _needles(term: Term) -> list[str]:
    """Texts one of which a row holding ``term`` surely contains (none: no such test).

    A word within k edits of a fuzzy term keeps one of its k + 1 pieces intact, since one
    edit can only touch one piece."""
    if term.kind == FUZZY:
        size, pieces = len(term.word), term.edits + 1
        cuts = [size * i // pieces for i in range(pieces + 1)]
        return [term.word[a:b] for a, b in pairwise(cuts)]
    longest = max(term.word.split("%"), key=len)
    return [longest] if longest else []


def _any_word(row: exp.Expr, test: exp.Expr) -> exp.Expr:
    """Whether one word of ``row`` passes ``test`` (written over the ``_WORD`` parameter)."""
    kept = fn("list_filter", row, exp.Lambda(this=test, expressions=[exp.to_identifier(_WORD)]))
    return exp.GT(this=exp.Length(this=kept), expression=exp.Literal.number(0))


def _word() -> exp.Expr:
    return exp.column(_WORD)


def _literal(term: Term) -> exp.Expr:
    return fold(exp.Literal.string(term.word))


def _exact(row: exp.Expr, term: Term) -> exp.Expr:
    return fn("list_contains", row, _literal(term))


def _fuzzy(row: exp.Expr, term: Term) -> exp.Expr:
    size, edits = len(term.word), term.edits
    near = exp.Between(this=exp.Length(this=_word()),
                       low=exp.Literal.number(size - edits),
                       high=exp.Literal.number(size + edits))
    close = exp.LTE(this=exp.Levenshtein(this=_word(), expression=_literal(term)),
                    expression=exp.Literal.number(edits))
    return _any_word(row, exp.and_(near, close))


def _prefix(row: exp.Expr, term: Term) -> exp.Expr:
    return _any_word(row, exp.StartsWith(this=_word(), expression=_literal(term)))


def _pattern(row: exp.Expr, term: Term) -> exp.Expr:
    return _any_word(row, exp.Like(this=_word(), expression=_literal(term)))


#: How each kind of term is looked for among a row's words.
_MATCHERS: dict[str, Callable[[exp.Expr, Term], exp.Expr]] = {
    EXACT: _exact,
    FUZZY: _fuzzy,
    PREFIX: _prefix,
    PATTERN: _pattern,
}
