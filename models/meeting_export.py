"""Printable meeting papers: a participant's agenda and the event's whole grid per table, as XLSX (models/tabular:
no formulas, frozen header) or DOCX (python-docx: a heading, then one table, or one table per meeting table). The
words (title, headers, statuses) come from the caller, in the reader's language."""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import datetime
from itertools import groupby

from docx import Document
from docx.shared import Pt

from models.clock import TIMEZONE
from models.exports import MIME, ExportFile, ExportFormat
from models.tabular import write_xlsx

DOCX_MIME = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
FORMATS = ("xlsx", "docx")


def paper(
    name: str, title: str, header: Sequence[str], rows: Sequence[Sequence[str]], fmt: str, now: datetime,
    *, grouped: bool = False,
) -> ExportFile:
    """The rows as a file named ``name``-date.fmt; ``grouped``: in the DOCX, one table per value of the first
    column (a meeting table), headed by it."""
    stamp = f"{now.astimezone(TIMEZONE):%Y%m%d-%H%M}"
    if fmt == ExportFormat.XLSX.value:
        buffer = io.BytesIO()
        write_xlsx(header, rows, buffer, title=title[:31])
        return ExportFile(f"{name}-{stamp}.xlsx", buffer.getvalue(), MIME[ExportFormat.XLSX], len(rows))
    if fmt != "docx":
        raise ValueError(f"no such format {fmt!r}")
    document = Document()
    document.styles["Normal"].font.size = Pt(10)
    document.add_heading(title, level=1)
    if grouped:
        for group, members in groupby(rows, key=lambda row: row[0]):
            document.add_heading(group, level=2)
            _table(document, header[1:], [row[1:] for row in members])
    else:
        _table(document, header, rows)
    buffer = io.BytesIO()
    document.save(buffer)
    return ExportFile(f"{name}-{stamp}.docx", buffer.getvalue(), DOCX_MIME, len(rows))


def _table(document: object, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    table = document.add_table(rows=1, cols=len(header))  # type: ignore[attr-defined]
    table.style = "Table Grid"
    for cell, text in zip(table.rows[0].cells, header, strict=True):
        cell.text = text
        for run in cell.paragraphs[0].runs:
            run.bold = True
    for row in rows:
        for cell, text in zip(table.add_row().cells, row, strict=True):
            cell.text = str(text)
