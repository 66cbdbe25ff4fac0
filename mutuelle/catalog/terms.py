"""What a catalogue search looks for: the words of its text read by Opendatasoft's ``search()``
rules (each word within its allowed edits, the last one as the start of a word), each with its
French stem, so that "écoles", "École", "ecole" and "ecoles" find the same datasets.

The ``search()`` rules are those of ``mutuelle.query.odsql.fulltext`` (the reference, which a
test compares with these); they are written again here because the catalogue sits below the
query layer. Stems come from a light French stemmer (plural and feminine endings, after
J. Savoy's "light" stemmer for French): enough for catalogue words, never a dictionary.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from mutuelle.core.errors import InvalidInput

#: How a folded text is cut into words: on anything but letters and digits (as DuckDB's
#: ``regexp_split_to_array(..., '[^\p{L}\p{N}]+')`` does in ``fulltext``).
_SEPARATORS = re.compile(r"[\W_]+")
#: The same pattern for DuckDB (RE2 syntax), used to index the catalogue's texts.
WORD_SEPARATORS = r"[^\p{L}\p{N}]+"
#: Most words one search looks for (``fulltext.MAX_WORDS``).
MAX_WORDS = 32
#: Longest search text, in characters.
MAX_SEARCH_CHARS = 500

EXACT, FUZZY, PREFIX = "exact", "fuzzy", "prefix"


@dataclass(frozen=True)
class Term:
    """One word to find: exactly, within ``edits`` edits or as a word start; or any word of
    the same French stem."""

    word: str
    kind: str
    edits: int = 0

    @property
    def stem(self) -> str:
        """The French stem of the word."""
        return french_stem(self.word)


def fold(text: str) -> str:
    """Lower case without accents (``fulltext.fold_text``)."""
    decomposed = unicodedata.normalize("NFD", text.lower())
    return "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")


def words(text: str) -> list[str]:
    """The folded words of ``text``."""
    return [w for w in _SEPARATORS.split(fold(text)) if w]


def allowed_edits(word: str) -> int:
    """Opendatasoft's fuzziness: 2 edits past 5 letters, 1 past 2 letters, none below."""
    return 2 if len(word) > 5 else 1 if len(word) > 2 else 0


def search_terms(text: str) -> tuple[Term, ...]:
    """The terms of a catalogue search, checked: at most ``MAX_SEARCH_CHARS`` characters and
    ``MAX_WORDS`` words; a text without any letter or digit is refused (InvalidInput)."""
    if len(text) > MAX_SEARCH_CHARS:
        raise InvalidInput(f"the search text is {len(text)} characters long; at most "
                           f"{MAX_SEARCH_CHARS}")
    found = words(text)
    if not found:
        raise InvalidInput(f"the search text {text[:50]!r} holds no letter nor digit to look for")
    if len(found) > MAX_WORDS:
        raise InvalidInput(f"a search takes at most {MAX_WORDS} words, not {len(found)}")
    terms = [Term(w, FUZZY, allowed_edits(w)) if allowed_edits(w) else Term(w, EXACT)
             for w in found[:-1]]
    return tuple(terms + [Term(found[-1], PREFIX)])


# -- French stems ----------------------------------------------------------------------------

#: Plural endings, longest first, with what replaces them.
_PLURALS = (("eaux", "eau"), ("aux", "al"), ("x", ""), ("s", ""))
#: Feminine and derived endings folded onto the masculine form, longest first.
_ENDINGS = (("euse", "eux"), ("ieres", "ier"), ("iere", "ier"), ("ives", "if"), ("ive", "if"),
            ("elles", "el"), ("elle", "el"), ("ennes", "en"), ("enne", "en"), ("ees", "e"),
            ("ee", "e"))


def french_stem(word: str) -> str:
    """A light French stem of a folded word: plural, feminine and final ``e`` removed
    ("écoles", "école" → "ecol"; "hôpitaux", "hôpital" → "hopital"; "sportives" → "sportif").
    Words of up to 3 letters and words with digits are kept whole."""
    if len(word) <= 3 or any(ch.isdigit() for ch in word):
        return word
    for ending, replacement in _ENDINGS:
        if word.endswith(ending) and len(word) - len(ending) >= 3:
            word = word[: -len(ending)] + replacement
            break
    else:
        for ending, replacement in _PLURALS:
            if word.endswith(ending) and len(word) - len(ending) >= 3 \
                    and not word.endswith(("ss", "us", "is")):
                word = word[: -len(ending)] + replacement
                break
    if word.endswith("e") and len(word) > 4:
        word = word[:-1]
    return word
