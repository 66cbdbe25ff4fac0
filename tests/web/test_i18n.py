"""Languages of the pages: every message translated, language negotiation, local formats."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from pathlib import Path

import jinja2.ext
import pytest
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po

from mutuelle.web import i18n

WEB = Path(i18n.__file__).parent
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def template_and_code_messages() -> dict[tuple[str, str | None], str]:
    """(msgid, plural) of every ``_()``/``ngettext()`` call in the templates and pages.py."""
    found: dict[tuple[str, str | None], str] = {}

    def add(message: str | tuple[str | None, ...], where: str) -> None:
        if isinstance(message, tuple):
            plural = message[1] if len(message) > 1 and isinstance(message[1], str) else None
            found.setdefault((str(message[0]), plural), where)
        else:
            found.setdefault((message, None), where)

    options = {"trim_blocks": "true", "lstrip_blocks": "true"}
    for template in sorted((WEB / "templates").rglob("*.html")):
        with template.open("rb") as handle:
            for line, _func, message, _c in jinja2.ext.babel_extract(
                    handle, jinja2.ext.GETTEXT_FUNCTIONS, [], options):
                add(message, f"{template.name}:{line}")
    # The page modules call _(request, "message") (the message is the second argument) or
    # _("message") with ``_ = gettext_for(request)``.
    for module in sorted(WEB.glob("*.py")):
        for spec in ((2,), None):
            for line, message, _c, _ctx in extract_from_file("python", module, keywords={"_": spec}):
                if isinstance(message, str) and message:
                    add(message, f"{module.name}:{line}")
    return found


def english_catalogue():  # type: ignore[no-untyped-def]
    with (WEB / "locale" / "en" / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        return read_po(handle, locale="en")


def test_the_templates_hold_translatable_messages() -> None:
    messages = template_and_code_messages()
    assert len(messages) > 100
    assert ("Catalogue", None) in messages
    assert ("Choisissez un fichier à importer.", None) in messages  # from pages.py


def test_every_message_of_the_pages_is_translated_into_english() -> None:
    catalogue = english_catalogue()
    problems = []
    for (msgid, plural), where in template_and_code_messages().items():
        entry = catalogue.get(msgid)
        if entry is None or entry.fuzzy:
            problems.append(f"{where}: not translated: {msgid!r}")
            continue
        strings = entry.string if isinstance(entry.string, tuple) else (entry.string,)
        if plural is not None and not isinstance(entry.id, tuple):
            problems.append(f"{where}: {msgid!r} needs plural forms")
        if not all(strings):
            problems.append(f"{where}: empty translation of {msgid!r}")
        wanted = set(PLACEHOLDER.findall(msgid + (plural or "")))
        for text in strings:
            if not set(PLACEHOLDER.findall(text)) <= wanted | {"num"}:
                problems.append(f"{where}: placeholders of {msgid!r} changed in {text!r}")
    assert not problems, "\n".join(problems)


def test_the_english_catalogue_holds_no_stale_messages() -> None:
    used = {msgid for msgid, _plural in template_and_code_messages()}
    stale = [m.id for m in english_catalogue() if m.id and
             (m.id[0] if isinstance(m.id, tuple) else m.id) not in used]
    assert not stale


def test_language_comes_from_query_then_cookie_and_is_french_otherwise() -> None:
    assert i18n.choose_language("en", "fr") == "en"
    assert i18n.choose_language(None, "en") == "en"
    assert i18n.choose_language("de", "xx") == "fr"
    assert i18n.choose_language(None, None) == "fr"


def test_numbers_are_written_the_french_way_in_french_and_the_english_way_in_english() -> None:
    assert i18n.format_number(1234567, "fr") == "1\u202f234\u202f567"
    assert i18n.format_number(12345.67, "fr") == "12\u202f345,67"
    assert i18n.format_number(1234567, "en") == "1,234,567"
    assert i18n.format_number(45.7512345678, "en") == "45.7512345678"  # no digit lost


def test_dates_are_written_the_french_way_in_french_and_the_english_way_in_english() -> None:
    assert i18n.format_date(date(2026, 11, 24), "fr") == "24/11/2026"
    assert i18n.format_date(date(2026, 11, 24), "en") == "Nov 24, 2026"
    # Catalogue times are UTC; shown in Paris time, so 23:30 UTC is already the next day.
    late = datetime(2026, 11, 24, 23, 30, tzinfo=UTC)
    assert i18n.format_date(late, "fr") == "25/11/2026"
    assert i18n.format_datetime(datetime(2026, 11, 24, 13, 5), "fr") == "24/11/2026 14:05"
    assert i18n.format_date(None, "fr") == ""


@pytest.mark.parametrize(("size", "fr", "en"), [
    (0, "0\u00a0o", "0\u00a0B"),
    (1234, "1,2\u00a0ko", "1.2\u00a0kB"),
    (999_999, "1\u00a0Mo", "1\u00a0MB"),
    (3_500_000_000, "3,5\u00a0Go", "3.5\u00a0GB"),
])
def test_file_sizes_are_written_in_each_language(size: int, fr: str, en: str) -> None:
    assert i18n.format_size(size, "fr") == fr
    assert i18n.format_size(size, "en") == en


def test_plurals_follow_each_language_rule() -> None:
    one, many = "%(num)s jeu de données", "%(num)s jeux de données"
    assert i18n.ngettext("fr", one, many, 0, num="0") == "0 jeu de données"  # French: 0 is singular
    assert i18n.ngettext("fr", one, many, 2, num="2") == "2 jeux de données"
    assert i18n.ngettext("en", one, many, 0, num="0") == "0 datasets"
    assert i18n.ngettext("en", one, many, 1, num="1") == "1 dataset"


def test_messages_without_translation_fall_back_to_french() -> None:
    assert i18n.gettext("en", "Catalogue des jeux de données") == "Dataset catalogue"
    assert i18n.gettext("en", "pas dans le catalogue") == "pas dans le catalogue"
    assert i18n.gettext("fr", "Erreur %(status)s", status=404) == "Erreur 404"
