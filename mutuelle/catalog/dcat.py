"""The catalogue as DCAT-AP (Turtle), written dataset by dataset so that an export of any size
streams: what the national portal (data.gouv.fr) and other DCAT harvesters read."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any

PREFIXES = """@prefix dcat: <http://www.w3.org/ns/dcat#> .
@prefix dct: <http://purl.org/dc/terms/> .
@prefix foaf: <http://xmlns.com/foaf/0.1/> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .

"""
#: Update frequencies as the EU's frequency vocabulary names them.
FREQUENCIES = {
    "continuous": "CONT", "daily": "DAILY", "weekly": "WEEKLY", "monthly": "MONTHLY",
    "quarterly": "QUARTERLY", "annual": "ANNUAL", "irregular": "IRREG", "unknown": "UNKNOWN",
}
_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def literal(text: str) -> str:
    """A Turtle string literal (long texts and any character escaped)."""
    return '"' + "".join(_ESCAPES.get(ch, ch) if ch in _ESCAPES or ch >= " " else f"\\u{ord(ch):04X}"
                         for ch in text) + '"'


def _iri(url: str) -> str:
    return "<" + "".join(ch if ch not in '<>"{}|^`\\ ' else f"%{ord(ch):02X}" for ch in url) + ">"


def _when(value: Any) -> str | None:
    if isinstance(value, datetime):
        return f'"{value.isoformat()}"^^xsd:dateTime'
    return None


def dataset_turtle(record: Mapping[str, Any], base_url: str) -> str:
    """One dataset (a row of the catalogue) with its CSV distribution: ``dct:publisher`` the
    organisation publishing it, ``dct:creator`` its producer when another made the data."""
    page = f"{base_url}/datasets/{record['dataset_id']}"
    publisher = record.get("organisation_name") or record["publisher"]
    lines = [f"{_iri(page)} a dcat:Dataset ;",
             f"    dct:identifier {literal(str(record['dataset_uid']))} ;",
             f"    dct:title {literal(str(record['title']))}@fr ;",
             f"    dct:description {literal(str(record.get('description') or ''))}@fr ;",
             f"    dct:publisher [ a foaf:Organization ; foaf:name {literal(str(publisher))} ] ;",
             f"    dct:license {literal(str(record.get('license') or ''))} ;",
             f"    dcat:landingPage {_iri(page)} ;"]
    if record.get("producer"):
        lines.append(f"    dct:creator [ a foaf:Agent ; foaf:name {literal(str(record['producer']))} ] ;")
    frequency = FREQUENCIES.get(str(record.get("frequency") or "unknown"), "UNKNOWN")
    lines.append(f"    dct:accrualPeriodicity <http://publications.europa.eu/resource/authority/frequency/{frequency}> ;")
    for word in record.get("keywords") or []:
        lines.append(f"    dcat:keyword {literal(str(word))}@fr ;")
    for theme in record.get("themes") or []:
        lines.append(f"    dcat:theme {literal(str(theme))}@fr ;")
    for code in record.get("territories") or []:
        lines.append(f"    dct:spatial {literal(str(code))} ;")
    modified = _when(record.get("modified"))
    if modified:
        lines.append(f"    dct:modified {modified} ;")
    issued = _when(record.get("published"))
    if issued:
        lines.append(f"    dct:issued {issued} ;")
    download = f"{base_url}/api/explore/v2.1/catalog/datasets/{record['dataset_id']}/exports/csv"
    lines.append(f"    dcat:distribution [ a dcat:Distribution ; dct:format {literal('CSV')} ; "
                 f"dcat:mediaType {literal('text/csv')} ; dcat:downloadURL {_iri(download)} ] .")
    return "\n".join(lines) + "\n\n"


def write_turtle(records: Iterable[Iterable[Mapping[str, Any]]], base_url: str) -> Iterator[bytes]:
    """The catalogue (batches of rows) as one Turtle document, a batch at a time."""
    yield PREFIXES.encode()
    yield f"{_iri(base_url + '/')} a dcat:Catalog .\n\n".encode()
    for batch in records:
        yield "".join(dataset_turtle(r, base_url) for r in batch).encode()
