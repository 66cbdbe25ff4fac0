"""Spreadsheets (xlsx, xls, ods) read with python-calamine: pick the sheet and the header
row, then hand the table to the CSV reader as UTF-8 text so typing happens in one place."""

from __future__ import annotations

import csv
import datetime as dt
import json
import logging
import math
import os
import re
import tempfile
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from decimal import Decimal
from itertools import islice
from pathlib import Path

import python_calamine as calamine

from mutuelle.core.config import Settings
from mutuelle.core.errors import ImportFailed, TooLarge
from mutuelle.ingest import encoding as enc
from mutuelle.ingest.csv import read_csv
from mutuelle.ingest.model import ImportOptions, Progress, StagedTable

log = logging.getLogger(__name__)

#: Rows looked at to find the header and to judge whether a sheet holds a table.
HEADER_SCAN_ROWS = 200
#: Rows under a header candidate that must share its width.
_FOLLOWING_ROWS = 5

Cell = object


def list_sheets(source: Path) -> list[str]:
    """Names of the sheets of a workbook, in order."""
    return list(_open(source).sheet_names)


def read_spreadsheet(source: Path, dest_parquet: Path, settings: Settings, options: ImportOptions,
                     progress: Progress | None = None, *, format: str = "xlsx") -> StagedTable:
    """Read one sheet of an xlsx/xls/ods workbook into ``dest_parquet``."""
    if options.encoding and not enc.lookup(options.encoding).is_utf8:
        raise ImportFailed(f"the encoding {options.encoding.strip()!r} cannot apply to a "
                           f"spreadsheet ({format}): it stores its own text in Unicode. Leave the "
                           "encoding empty; if its text looks garbled (such as 'Ã©' for 'é'), "
                           "import it with fix_text (--fix-text)")
    workbook = _open(source)
    names = list(workbook.sheet_names)
    sheet_name, warnings = _choose_sheet(workbook, names, options)
    sheet = workbook.get_sheet_by_name(sheet_name)
    header_index = _header_index(sheet, sheet_name, options, warnings)

    settings.work_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix="sheet-", suffix=".csv", dir=settings.work_dir)
    tmp_csv = Path(tmp_name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
            line_rows, multiline = _write_table(sheet.iter_rows(), header_index, out, settings,
                                                sheet_name, warnings)
        csv_options = replace(options, encoding="utf-8", delimiter=",", sheet=None, header_row=None)
        try:
            staged = read_csv(tmp_csv, dest_parquet, settings, csv_options, progress, format=format)
        except ImportFailed as exc:
            raise _located(exc, sheet_name, line_rows, multiline) from exc
    finally:
        tmp_csv.unlink(missing_ok=True)

    for key in ("encoding", "delimiter"):  # those were ours, not the user's file's
        staged.detected.pop(key, None)
    staged.detected.update({
        "sheet": sheet_name,
        "header_row": str(header_index + 1),
        "sheets": json.dumps(names, ensure_ascii=False),
    })
    staged.warnings[:0] = warnings
    staged.format = format
    log.info("spreadsheet_read source=%s sheet=%s header_row=%d rows=%d",
             source.name, sheet_name, header_index + 1, staged.row_count)
    return staged


def detect_header_row(rows: Sequence[Sequence[Cell]]) -> int | None:
    """0-based index of the header in ``rows``: the first row mostly filled with text and
    followed by rows of the same width; None when no row fits."""
    widths = [_width(r) for r in rows]
    nonzero = [w for w in widths if w]
    if not nonzero:
        return None
    counts = Counter(nonzero)
    table_width = max(counts, key=lambda w: (counts[w], w))
    for i, row in enumerate(rows):
        width = widths[i]
        if width == 0 or width < table_width:
            continue
        filled = [c for c in row[:width] if not _is_empty(c)]
        if len(filled) < max(1, math.ceil(0.5 * width)):
            continue
        if sum(_is_label(c) for c in filled) < 0.5 * len(filled):
            continue
        following = [w for w in widths[i + 1:i + 1 + _FOLLOWING_ROWS * 2] if w][:_FOLLOWING_ROWS]
        if following and math.ceil(width / 2) <= max(following) <= width:
            return i
    return None


def looks_like_data(rows: Sequence[Sequence[Cell]]) -> bool:
    """True when the rows hold a header followed by at least one data row."""
    return detect_header_row(rows) is not None


def cell_text(value: Cell) -> str:
    """A cell as CSV text: dates in ISO 8601, numbers with a '.', text as is."""
    if value is None or value == "":
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return ""
        if value.is_integer() and abs(value) < 2**53:
            return str(int(value))
        text = repr(value)
        return format(Decimal(text), "f") if "e" in text else text
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    return str(value)


def _open(source: Path) -> calamine.CalamineWorkbook:
    try:
        return calamine.CalamineWorkbook.from_path(str(source))
    except Exception as exc:  # calamine raises its own error classes per format
        raise ImportFailed(f"the spreadsheet cannot be read: {exc}") from exc


def _choose_sheet(workbook: calamine.CalamineWorkbook, names: list[str],
                  options: ImportOptions) -> tuple[str, list[str]]:
    if not names:
        raise ImportFailed("the workbook has no sheet")
    if options.sheet is not None:
        wanted = options.sheet.strip().casefold()
        for name in names:
            if name.strip().casefold() == wanted:
                return name, []
        raise ImportFailed(f"there is no sheet named {options.sheet!r}; the sheets are: "
                           + ", ".join(repr(n) for n in names))
    visible = [m.name for m in workbook.sheets_metadata
               if m.typ == calamine.SheetTypeEnum.WorkSheet
               and m.visible == calamine.SheetVisibleEnum.Visible]
    candidates = visible + [n for n in names if n not in visible]
    first_nonempty = None
    for name in candidates:
        sample = _sample(workbook.get_sheet_by_name(name))
        if looks_like_data(sample):
            skipped = [n for n in names[:names.index(name)]]
            notes = [f"sheet {name!r} chosen; sheets skipped as not tabular: "
                     + ", ".join(repr(n) for n in skipped)] if skipped else []
            return name, notes
        if first_nonempty is None and any(_width(r) for r in sample):
            first_nonempty = name
    if first_nonempty is None:
        raise ImportFailed("every sheet of the workbook is empty; sheets: "
                           + ", ".join(repr(n) for n in names))
    return first_nonempty, [f"no sheet looks like a table; sheet {first_nonempty!r} read as is"]


def _sample(sheet: calamine.CalamineSheet) -> list[list[Cell]]:
    return [list(r) for r in islice(sheet.iter_rows(), HEADER_SCAN_ROWS)]


def _header_index(sheet: calamine.CalamineSheet, sheet_name: str, options: ImportOptions,
                  warnings: list[str]) -> int:
    if options.header_row is not None:
        if options.header_row < 1:
            raise ImportFailed(f"the header row is counted from 1, not {options.header_row}",
                               where=f"sheet {sheet_name!r}")
        return options.header_row - 1
    sample = _sample(sheet)
    found = detect_header_row(sample)
    if found is not None:
        return found
    first = next((i for i, r in enumerate(sample) if _width(r)), None)
    if first is None:
        raise ImportFailed("the sheet is empty", where=f"sheet {sheet_name!r}")
    warnings.append(f"no clear header row in sheet {sheet_name!r}; row {first + 1} used "
                    "as the header")
    return first


def _write_table(rows: Iterable[Sequence[Cell]], header_index: int, out: object,
                 settings: Settings, sheet_name: str,
                 warnings: list[str]) -> tuple[list[int], bool]:
    """Write the header and the data rows; returns the sheet row of every CSV line
    (1-based, index 0 is the header) and whether any cell held a line break."""
    writer = csv.writer(out, lineterminator="\n")  # type: ignore[arg-type]
    rows_iter: Iterator[Sequence[Cell]] = iter(rows)
    header = next(islice(rows_iter, header_index, None), None)
    if header is None:
        raise ImportFailed("the header row is past the end of the sheet",
                           where=f"sheet {sheet_name!r}")
    width = _width(header)
    if width > settings.max_columns:
        raise TooLarge(f"the sheet has {width} columns, more than the {settings.max_columns} "
                       "accepted (MUTUELLE_MAX_COLUMNS)")
    writer.writerow([" ".join(cell_text(c).split()) for c in header[:width]])
    line_rows = [header_index + 1]
    multiline = False
    pending: list[tuple[int, list[str]]] = []   # rows held back: maybe notes under the table
    extra_cells = 0
    for number, row in enumerate(rows_iter, start=header_index + 2):
        cells = [cell_text(c) for c in row[:width]]
        extra_cells += sum(1 for c in row[width:] if not _is_empty(c))
        filled = sum(1 for c in cells if c)
        if filled == 0:
            pending.append((number, cells))
            continue
        if pending and width > 1 and filled == 1 and cells[0] and not any(pending[0][1]):
            pending.append((number, cells))   # a single-cell line after a blank: maybe a note
            continue
        for held_number, held in pending:
            if any(held):
                writer.writerow(held)
                line_rows.append(held_number)
        pending.clear()
        multiline = multiline or any("\n" in c or "\r" in c for c in cells)
        writer.writerow(cells)
        line_rows.append(number)
    notes = [n for n, cells in pending if any(cells)]
    if notes:
        warnings.append(f"{len(notes)} note line(s) under the table skipped "
                        f"(sheet {sheet_name!r}, rows {notes[0]}–{notes[-1]})")
    if extra_cells:
        warnings.append(f"{extra_cells} cell(s) right of the last header column ignored "
                        f"(sheet {sheet_name!r})")
    return line_rows, multiline


def _located(exc: ImportFailed, sheet_name: str, line_rows: list[int],
             multiline: bool) -> ImportFailed:
    """The CSV reader's error, with its line turned into the sheet's row when we can."""
    where = exc.where or ""
    match = re.search(r"(near )?line (\d+)", where)
    if match and not multiline and 1 <= int(match.group(2)) <= len(line_rows):
        row = line_rows[int(match.group(2)) - 1]
        return ImportFailed(exc.reason,
                            where=f"sheet {sheet_name!r}, {match.group(1) or ''}row {row}")
    return ImportFailed(exc.reason, where=f"sheet {sheet_name!r}" + (f", {where}" if where else ""))


def _is_empty(cell: Cell) -> bool:
    return cell is None or (isinstance(cell, str) and not cell.strip())


def _is_label(cell: Cell) -> bool:
    """Text, or a year (headers like ``Commune | 2019 | 2020`` are common)."""
    if isinstance(cell, (int, float)) and not isinstance(cell, bool):
        return float(cell).is_integer() and 1900 <= cell <= 2100
    if not isinstance(cell, str):
        return False
    try:
        float(cell.replace(",", ".").replace(" ", ""))
    except ValueError:
        return True
    return False


def _width(row: Sequence[Cell]) -> int:
    for i in range(len(row) - 1, -1, -1):
        if not _is_empty(row[i]):
            return i + 1
    return 0
