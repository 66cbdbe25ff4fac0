"""Languages of the pages: French by default, English second.

Messages are written in French in the templates and translated from gettext ``.po``
catalogues read at run time; numbers, dates and sizes are formatted per language with Babel.
"""

from __future__ import annotations

import gettext as _gettext
import io
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import dates as babel_dates
from babel import numbers as babel_numbers
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from jinja2 import Environment, pass_context
from jinja2.runtime import Context

LANGUAGES = ("fr", "en")
DEFAULT_LANGUAGE = "fr"
LANGUAGE_COOKIE = "lang"
LOCALE_DIR = Path(__file__).parent / "locale"
#: Dates and times are shown in the portal's time zone (they are stored in UTC).
TIME_ZONE = ZoneInfo("Europe/Paris")
#: Babel date patterns: ``24/11/2026`` in French, ``Nov 24, 2026`` in English.
DATE_FORMATS = {"fr": "dd/MM/yyyy", "en": "medium"}
SIZE_UNITS = {"fr": ("o", "ko", "Mo", "Go", "To"), "en": ("B", "kB", "MB", "GB", "TB")}


@cache
def translations(lang: str) -> _gettext.NullTranslations:
    """The gettext translations of ``lang``, compiled in memory from its ``.po`` catalogue."""
    path = LOCALE_DIR / lang / "LC_MESSAGES" / "messages.po"
    if lang == DEFAULT_LANGUAGE or not path.exists():
        return _FrenchSource()
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=lang)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)  # fuzzy entries are left out, as msgfmt does
    buffer.seek(0)
    return _gettext.GNUTranslations(buffer)


class _FrenchSource(_gettext.NullTranslations):
    """The source language: messages as written, with the French plural rule (0 and 1 singular)."""

    def ngettext(self, msgid1: str, msgid2: str, n: int) -> str:
        return msgid1 if n <= 1 else msgid2


def gettext(lang: str, msgid: str, /, **values: object) -> str:
    """``msgid`` in ``lang``, with ``%(name)s`` placeholders filled from ``values``."""
    text = translations(lang).gettext(msgid)
    return text % values if values else text


def ngettext(lang: str, singular: str, plural: str, count: int, /, **values: object) -> str:
    """The singular or plural form for ``count`` in ``lang``, placeholders filled from ``values``."""
    text = translations(lang).ngettext(singular, plural, count)
    return text % values if values else text


def choose_language(query: str | None, cookie: str | None) -> str:
    """``?lang=`` first, then the cookie (set by the language switch); otherwise French.

    The portal of a French local government speaks French first: a browser's
    ``Accept-Language`` alone does not switch it (English is one click away)."""
    for candidate in (query, cookie):
        if candidate in LANGUAGES:
            return candidate
    return DEFAULT_LANGUAGE


def format_number(value: float | Decimal, lang: str) -> str:
    """``1 234 567,5`` in French, ``1,234,567.5`` in English; every decimal kept."""
    if isinstance(value, float):
        value = Decimal(repr(value))  # the shortest exact form, not the binary expansion
    return babel_numbers.format_decimal(value, locale=lang, decimal_quantization=False)


def _local(value: datetime) -> datetime:
    # SQLite gives back naive datetimes; the catalogue stores UTC.
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    return aware.astimezone(TIME_ZONE)


def format_date(value: date | datetime | None, lang: str) -> str:
    """``24/11/2026`` in French, ``Nov 24, 2026`` in English."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = _local(value).date()
    return babel_dates.format_date(value, DATE_FORMATS.get(lang, "medium"), locale=lang)


def format_datetime(value: datetime | None, lang: str) -> str:
    """The date as ``format_date`` and the time as ``14:05``, in the portal's time zone."""
    if value is None:
        return ""
    local = _local(value)
    return f"{format_date(local, lang)} {babel_dates.format_time(local, 'HH:mm', locale=lang)}"


def format_size(byte_count: int | None, lang: str) -> str:
    """A file size: ``1,2 Mo`` in French, ``1.2 MB`` in English (powers of 1000)."""
    if byte_count is None:
        return ""
    units = SIZE_UNITS.get(lang, SIZE_UNITS["en"])
    size = float(byte_count)
    for unit in units:
        if size < 999.5 or unit == units[-1]:  # 999 999 o reads 1 Mo, not 1 000 ko
            shown = format_number(round(size, 1 if size < 100 and unit != units[0] else 0), lang)
            return f"{shown}\u00a0{unit}"
        size /= 1000
    raise AssertionError("unreachable")


def _lang(context: Context) -> str:
    return str(context.get("lang") or DEFAULT_LANGUAGE)


@pass_context
def _jinja_gettext(context: Context, msgid: str, /, **values: object) -> str:
    return gettext(_lang(context), msgid, **values)


@pass_context
def _jinja_ngettext(context: Context, singular: str, plural: str, count: int, /,
                    **values: object) -> str:
    values.setdefault("num", format_number(count, _lang(context)))
    return ngettext(_lang(context), singular, plural, count, **values)


def install(env: Environment) -> None:
    """Give templates ``_()``, ``ngettext()`` and the ``number``, ``date``, ``datetime`` and
    ``filesize`` filters; each reads the page's ``lang`` from the template context."""
    env.globals["_"] = _jinja_gettext
    env.globals["gettext"] = _jinja_gettext
    env.globals["ngettext"] = _jinja_ngettext
    env.filters["number"] = pass_context(lambda ctx, v: "" if v is None else format_number(v, _lang(ctx)))
    env.filters["date"] = pass_context(lambda ctx, v: format_date(v, _lang(ctx)))
    env.filters["datetime"] = pass_context(lambda ctx, v: format_datetime(v, _lang(ctx)))
    env.filters["filesize"] = pass_context(lambda ctx, v: format_size(v, _lang(ctx)))
