"""Numbers and CSV files written as French open data writes them: decimal commas, ``;`` or
``,`` separators, the column order of the field dictionary, the encoding and line ends asked for.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from mutuelle.demo.manifest import columns


def dec(value: float | None, places: int = 1, comma: bool = True) -> str:
    """A number as written in French files (decimal comma) or with a point; '' for missing."""
    if value is None:
        return ""
    text = f"{value:.{places}f}"
    return text.replace(".", ",") if comma else text


def write_csv(path: Path, kind: str, rows: list[dict], *, delimiter: str = ";",
              encoding: str = "utf-8", newline: str = "\n") -> Path:
    """Rows written in the column order of the field dictionary of ``kind``."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns(kind), delimiter=delimiter,
                            lineterminator=newline, extrasaction="raise")
    writer.writeheader()
    writer.writerows(rows)
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path
