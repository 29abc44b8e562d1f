"""XLSX exports (WhatsApp Business, web forms, SP4N-LAPOR!) read with ``openpyxl`` in read-only mode.

The same ``FileMapping`` as CSV/JSONL says which column holds what; rows become items exactly as CSV rows do
(``FileCollector`` does the row → item conversion), so the same workbook imported twice adds nothing. The first
non-empty row of the sheet is the header. Cells are read as text: ids typed as numbers stay "48213" (not
"48213.0"), a date cell without a zone is read in ``mapping.timezone``, and a "03/11/2026 10.15" date typed as
text is read day first, as Indonesian exports write it. Empty rows are skipped; a row with no text, no date or
a value under no header is quarantined with its row number.

>>> mapping = FileMapping(text="Isi Laporan", id="Nomor Tiket", created_at="Tanggal", author="Pelapor",
...                       default_source="lapor", default_kind="ticket")
>>> run_collector(engine, XlsxCollector("lapor-november.xlsx", mapping))
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

from openpyxl import load_workbook
from openpyxl.utils import get_column_letter
from openpyxl.utils.exceptions import InvalidFileException

from collectors.errors import SourceNotFound
from collectors.files import FileCollector
from suara.errors import InputError

XLSX_SUFFIXES = (".xlsx", ".xlsm")

# "03/11/2026", "3-11-2026 10:15", "03/11/2026 10.15.30": day first, as Indonesian spreadsheets write dates.
_DAY_FIRST = re.compile(
    r"^\s*(\d{1,2})[/\-.](\d{1,2})[/\-.](\d{4})(?:[ T,]+(\d{1,2})[:.](\d{2})(?:[:.](\d{2}))?)?\s*$"
)


def cell_text(value: Any) -> str | None:
    """A cell as the text a CSV export would hold; None for an empty cell.

    >>> cell_text(48213.0), cell_text(datetime(2026, 11, 3, 10, 15)), cell_text("  ")
    ('48213', '2026-11-03T10:15:00', None)
    """
    if value is None:
        return None
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, int | Decimal):
        return str(value)
    text = str(value).strip()
    return text or None


def _unique(header: list[str | None]) -> list[str | None]:
    """Header names with repeats numbered ("Status", "Status (2)") so no column's values are lost."""
    seen: dict[str, int] = {}
    out: list[str | None] = []
    for name in header:
        if name is None:
            out.append(None)
            continue
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    return out


def day_first_timestamp(value: str) -> str:
    """ "03/11/2026 10.15" → "2026-11-03T10:15:00"; any other text is returned unchanged."""
    match = _DAY_FIRST.match(value)
    if not match:
        return value
    day, month, year, hour, minute, second = match.groups()
    try:
        when = datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0))
    except ValueError:
        return value  # "31/02/2026": left for the row check to reject with its own message
    return when.isoformat()


@dataclass
class XlsxCollector(FileCollector):
    """Reads one sheet of an XLSX workbook (the first, or ``sheet=``) and yields its rows as items."""

    sheet: str | None = field(default=None, kw_only=True)

    suffixes: ClassVar[tuple[str, ...]] = XLSX_SUFFIXES

    @property
    def checkpoint_name(self) -> str:
        name = f"file:{Path(self.path).name}"
        return f"{name}#{self.sheet}" if self.sheet else name

    def read_rows(self) -> Iterator[tuple[int, Any, str | None]]:
        """(row number, {header: text}, problem) for each non-empty row after the header."""
        path = Path(self.path)
        try:
            workbook = load_workbook(path, read_only=True, data_only=True)
        except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError) as exc:
            raise InputError(
                f"{path.name}: cannot be read as an XLSX workbook ({exc}); save it from Excel or LibreOffice "
                "as .xlsx (an old .xls must be converted first)"
            ) from exc
        try:
            yield from self._sheet_rows(workbook, path.name)
        finally:
            workbook.close()

    def _sheet_rows(self, workbook: Any, name: str) -> Iterator[tuple[int, Any, str | None]]:
        if self.sheet is not None and self.sheet not in workbook.sheetnames:
            raise SourceNotFound(f"{name}: no sheet {self.sheet!r}; sheets are {workbook.sheetnames}")
        worksheet = workbook[self.sheet] if self.sheet is not None else workbook.worksheets[0]
        worksheet.reset_dimensions()  # exports often carry a wrong <dimension>: read every row there is
        header: list[str | None] | None = None
        for row_no, values in enumerate(worksheet.iter_rows(values_only=True), start=1):
            cells = [cell_text(v) for v in values]
            if not any(cells):
                continue
            if header is None:
                header = _unique(cells)
                if self.mapping.text not in header:
                    raise InputError(
                        f"{name}: no column {self.mapping.text!r} for the text in row {row_no}; columns are "
                        f"{[h for h in header if h]}; set --text-column or the mapping"
                    )
                continue
            row: dict[str, Any] = {}
            stray: list[str] = []
            for index, value in enumerate(cells):
                column = header[index] if index < len(header) else None
                if column is not None:
                    row[column] = value
                elif value is not None:
                    stray.append(get_column_letter(index + 1))
                    row[f"({get_column_letter(index + 1)})"] = value  # kept for the quarantine record
            if stray:
                yield row_no, row, f"row has values in column(s) {', '.join(stray)}, which have no header"
                continue
            created = self.mapping.created_at
            if isinstance(row.get(created), str):
                row[created] = day_first_timestamp(row[created])
            yield row_no, row, None
