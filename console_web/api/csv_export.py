"""CSV text that is safe to open in a spreadsheet, written in bounded chunks.

Cells that a spreadsheet would run as a formula (they start with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return) are prefixed with a single quote, as OWASP recommends against CSV injection; every cell is quoted.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

Cell = str | int | float | None


def safe_cell(value: Cell) -> str:
    """The text of one cell: '' for None, numbers as they are, risky text prefixed with ``'``."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def csv_lines(rows: Iterable[Iterable[Cell]]) -> str:
    """``rows`` as CSV text (CRLF line ends, every cell quoted and made safe)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    for row in rows:
        writer.writerow([safe_cell(cell) for cell in row])
    return buffer.getvalue()
