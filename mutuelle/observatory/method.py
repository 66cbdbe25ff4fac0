"""How an indicator is computed, said in full for its page, its API and the command line: the
source dataset and version, the numerator, denominator and filters, the aggregation, the
vintage (and why), statistical secrecy, coverage, and the last computation. These are the
first entries of the algorithm register."""

from __future__ import annotations

from typing import Any

from mutuelle.catalog.observatory_models import Indicator
from mutuelle.observatory import compute

#: Why a vintage was taken, for people.
VINTAGE_REASONS = {
    "given": "given with the definition",
    "metadata": "from the dataset's metadata",
    "codes": "the referential's vintage that its codes match best",
    "contours": "the vintage whose contours the points are attached to",
    "default": "the portal's default vintage",
    "recorded": "recorded with the definition",
}


def aggregation_text(indicator: Indicator) -> str:
    """The aggregation in one English sentence (the pages have their own words)."""
    level = indicator.code_level
    if indicator.points == "count":
        return f"number of points within each {level}, summed upwards"
    if indicator.points == "sum":
        return f"sum of the numerator over the points within each {level}, summed upwards"
    if indicator.points == "mean":
        return (f"mean of the numerator over the points within each {level}: Σ numerator / "
                "number of points, both summed upwards")
    if indicator.aggregation == "median":
        return f"median of the numerator per {level}, not aggregated upwards"
    if indicator.denominator:
        return (f"Σ numerator / Σ denominator over the {level} codes inside each territory, "
                f"× {indicator.scale:g}")
    return f"Σ numerator over the {level} codes inside each territory, × {indicator.scale:g}"


def method_json(indicator: Indicator, computed: compute.Computed | None,
                vintage_reason: str | None = None) -> dict[str, Any]:
    """An indicator's "how it is computed" panel as data (``computed``: its last computation,
    when there was one)."""
    source = indicator.source
    slug = source.slug if source is not None else None
    reason = vintage_reason or ("recorded" if indicator.vintage is not None else "default")
    read = computed.sources[0] if computed is not None and computed.sources else None
    number = read["version"] if read else indicator.version
    out: dict[str, Any] = {
        "dataset": None if source is None else {
            "slug": slug, "title": source.title, "link": f"/datasets/{slug}",
            "version": number, "version_link": None if number is None
            else f"/datasets/{slug}/versions/{number}",
            "pinned": indicator.version is not None,
            "checksum": read["checksum"] if read else None},
        "code_column": indicator.code_column, "code_level": indicator.code_level,
        "numerator": indicator.numerator, "denominator": indicator.denominator,
        "other_sources": [s for s in (computed.sources[1:] if computed else [])],
        "filters": indicator.filters or None, "points": indicator.points,
        "aggregation": indicator.aggregation, "aggregation_text": aggregation_text(indicator),
        "scale": indicator.scale,
        "vintage": computed.referential.vintage if computed is not None else indicator.vintage,
        "vintage_reason": reason, "vintage_reason_text": VINTAGE_REASONS[reason],
        "secrecy": {"threshold": indicator.secrecy_threshold, "on": indicator.secrecy_on},
        "habitat_only": bool(indicator.habitat_only),
        "coverage": None if computed is None else {
            "minimum": computed.min_coverage, "basis": computed.coverage_basis},
        "last_computation": None if computed is None or computed.at is None
        else computed.at.isoformat(timespec="seconds"),
        "seconds": None if computed is None else round(computed.seconds, 3),
    }
    return out
