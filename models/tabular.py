"""Reading and writing spreadsheets people exchange: CSV (any common delimiter, UTF-8 or Windows-1258) and XLSX."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.utils.exceptions import InvalidFileException

from models.errors import ImportProblem

MAX_FILE_BYTES = 20 * 1024 * 1024


class UnreadableFile(ImportProblem):
    """The file is not a spreadsheet we can read; the code says why, for the person who sent it."""


Row = tuple[int, list[str]]  # (line or row number as the user sees it, cell texts)


def read_rows(path: Path) -> Iterator[Row]:
    """Rows of a CSV or XLSX file, every cell as text, numbered as a spreadsheet program numbers them."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise UnreadableFile("no_such_file") from None
    except OSError:
        raise UnreadableFile("cannot_read") from None
    return read_bytes(data, path.name)


def read_bytes(data: bytes, name: str) -> Iterator[Row]:
    if not data.strip():
        raise UnreadableFile("empty")
    if len(data) > MAX_FILE_BYTES:
        raise UnreadableFile("too_large", limit=MAX_FILE_BYTES // (1024 * 1024))
    if data[:4] == b"PK\x03\x04":
        return _xlsx_rows(data)
    suffix = Path(name).suffix.lower()
    if suffix in {".xls", ".xlsx", ".xlsm", ".ods", ".pdf", ".doc", ".docx"} or b"\x00" in data[:4096]:
        raise UnreadableFile("not_spreadsheet")
    return _csv_rows(data)


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1258", errors="replace")


def _csv_rows(data: bytes) -> Iterator[Row]:
    text = _decode(data)
    sample = text[:8192]
    try:
        dialect: Any = csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text, newline=""), dialect)
    line = 1
    try:
        for cells in reader:
            yield line, [cell.strip() for cell in cells]
            line = reader.line_num + 1
    except csv.Error as exc:
        raise UnreadableFile("malformed_csv", line=line, detail=str(exc)) from None


def _xlsx_rows(data: bytes) -> Iterator[Row]:
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise UnreadableFile("unreadable_xlsx", detail=str(exc)) from None
    try:
        sheet = workbook.worksheets[0]
        for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            yield number, [_cell_text(value) for value in values]
    finally:
        workbook.close()


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def write_csv(header: Sequence[str], rows: Iterable[Sequence[Any]], out: io.TextIOBase | Any) -> None:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)


def write_xlsx(header: Sequence[str], rows: Iterable[Sequence[Any]], path_or_stream: Path | io.BytesIO) -> None:
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet()
    sheet.append(list(header))
    for row in rows:
        sheet.append(list(row))
    workbook.save(path_or_stream)
