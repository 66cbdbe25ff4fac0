"""Checking text that people write (titles, names, comments): no NUL or control characters,
a bounded length, and a clear message naming the field when it is refused."""

from __future__ import annotations

import re

from mutuelle.core.errors import InvalidText

# C0 controls but tab, line feed and carriage return; DEL and the C1 controls.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_LINE_BREAK = re.compile(r"[\r\n\t]")


def check_text(value: object, field: str, *, max_length: int, multiline: bool = False,
               required: bool = False) -> str:
    """``value`` as clean text, else ``InvalidText`` (422) naming ``field``: a string, without NUL
    or control characters (line breaks only where ``multiline``), at most ``max_length``
    characters, not blank when ``required``."""
    if not isinstance(value, str):
        raise InvalidText(f"{field} must be text, not {type(value).__name__}")
    bad = _CONTROL.search(value) or (None if multiline else _LINE_BREAK.search(value))
    if bad:
        raise InvalidText(f"{field} holds a control character (U+{ord(bad.group()):04X}) "
                           f"at position {bad.start() + 1}")
    if len(value) > max_length:
        raise InvalidText(f"{field} is {len(value)} characters long; at most {max_length}")
    if required and not value.strip():
        raise InvalidText(f"{field} must not be empty")
    return value
