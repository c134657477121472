"""Reading and writing spreadsheets people exchange: CSV (any common delimiter, UTF-8 or Windows-1258) and XLSX.

Reading is bounded whatever the file holds: the file's size, the rows, the columns and the length of a CSV line are
capped, and an XLSX is checked before openpyxl opens it (how much its parts unpack to, as their headers declare,
and how much they unpack to while being read: headers can lie). Rows are streamed, never all held at once; a
``Spreadsheet`` can be read again from the start (the importer reads a file twice: checked, then imported), an
XLSX from a copy of its rows in a temporary file made by the first reading (openpyxl is slow).

Writing neutralises what a spreadsheet program would run: a text cell starting with ``= + - @`` TAB or CR gets a
leading ``'`` (and reading takes it off again, so an exported file imports back unchanged); characters XML 1.0
forbids are removed. Dates are written dd/mm/yyyy (real date cells in XLSX); an XLSX sheet has a bold, frozen header
row with filters and columns sized to what they hold.
"""

from __future__ import annotations

import codecs
import csv
import io
import marshal
import re
import tempfile
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any
from xml.etree import ElementTree

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, WriteOnlyCell
from openpyxl.reader.excel import ExcelReader
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from models.errors import ImportProblem

MB = 1024 * 1024
MAX_FILE_BYTES = 20 * MB  # the largest file we read (Telegram lets bots download up to 20 MB)
MAX_COLUMNS = 100  # cells further right are not read
MAX_LINE_CHARS = 256 * 1024  # the longest CSV line
MAX_UNZIPPED_BYTES = 500 * MB  # an XLSX's parts together, unpacked (a 100,000-row export is about 190 MB)
MAX_WHOLE_PART_BYTES = 100 * MB  # any part openpyxl reads whole (shared strings, styles): all but the worksheets
MAX_PART_RATIO = 100  # unpacked / packed size of any part above 1 MB (a zip bomb is near 1000)
MAX_PARTS = 2000  # parts in an XLSX (a workbook has tens)
EXCEL_MAX_ROWS = 1_048_576  # a row number beyond Excel's last row means the file is damaged or hostile
_CONTENT_TYPES = "[Content_Types].xml"
_WORKSHEET_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
_NEUTRALISED = frozenset("=+-@\t\r")  # what makes a spreadsheet program read a cell as a formula
_CHUNK = 64 * 1024


class UnreadableFile(ImportProblem):
    """The file is not a spreadsheet we can read; the code says why, for the person who sent it."""


Row = tuple[int, list[str]]  # (line or row number as the user sees it, cell texts)


class Spreadsheet:
    """A CSV or XLSX file that passed the cheap checks; each iteration reads its rows from the start, streamed (one
    reading at a time).

    Reading raises ``UnreadableFile`` for anything malformed found on the way."""

    def __init__(self, data: bytes, name: str, is_xlsx: bool) -> None:
        self.data = data
        self.name = name
        self.is_xlsx = is_xlsx
        self._encoding = ""
        self._copy: IO[bytes] | None = None  # an XLSX's rows, once read to the end

    def __iter__(self) -> Iterator[Row]:
        if not self.is_xlsx:
            return _csv_rows(self.data, self.encoding)
        if self._copy is not None:
            return _copied_rows(self._copy)
        return self._xlsx_rows_copied()

    def _xlsx_rows_copied(self) -> Iterator[Row]:
        """The XLSX's rows, copied as they are read into a temporary file (on disk beyond a few MB) for the next
        reading; a reading left halfway keeps no copy."""
        copy = tempfile.SpooledTemporaryFile(max_size=8 * MB)  # noqa: SIM115 (kept open for the next readings)
        try:
            for row in _xlsx_rows(self.data):
                marshal.dump(row, copy)
                yield row
        except BaseException:  # an error, or the reading left halfway (GeneratorExit)
            copy.close()
            raise
        self._copy = copy

    @property
    def encoding(self) -> str:
        """A CSV's encoding: UTF-8 when every byte decodes as UTF-8 (checked in chunks), Windows-1258 otherwise."""
        if not self._encoding:
            self._encoding = "utf-8-sig" if _is_utf8(self.data) else "cp1258"
        return self._encoding


def read_rows(path: Path) -> Spreadsheet:
    """The rows of a CSV or XLSX file, every cell as text, numbered as a spreadsheet program numbers them."""
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise UnreadableFile("too_large", limit=MAX_FILE_BYTES // MB)
        data = path.read_bytes()
    except FileNotFoundError:
        raise UnreadableFile("no_such_file") from None
    except OSError:
        raise UnreadableFile("cannot_read") from None
    return read_bytes(data, path.name)


def read_bytes(data: bytes, name: str) -> Spreadsheet:
    """A file received as bytes, after the checks that cost nothing much: size, kind, and an XLSX's declared
    sizes. Raises ``UnreadableFile``."""
    if not data or data.isspace():
        raise UnreadableFile("empty")
    if len(data) > MAX_FILE_BYTES:
        raise UnreadableFile("too_large", limit=MAX_FILE_BYTES // MB)
    if data[:4] == b"PK\x03\x04":
        check_xlsx(data)
        return Spreadsheet(data, name, is_xlsx=True)
    suffix = Path(name).suffix.lower()
    if suffix in {".xls", ".xlsx", ".xlsm", ".ods", ".pdf", ".doc", ".docx"} or b"\x00" in data[:4096]:
        raise UnreadableFile("not_spreadsheet")
    return Spreadsheet(data, name, is_xlsx=False)


# -- CSV ------------------------------------------------------------------------------------------------------------


def _is_utf8(data: bytes) -> bool:
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        for start in range(0, len(data), MB):
            decoder.decode(data[start : start + MB])
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _text(data: bytes, encoding: str) -> io.TextIOWrapper:
    return io.TextIOWrapper(io.BytesIO(data), encoding=encoding, errors="replace", newline="")


def _lines(text: IO[str], first_line: list[int]) -> Iterator[str]:
    """The file's lines, refusing one longer than MAX_LINE_CHARS (the csv module would hold it whole)."""
    while line := text.readline(MAX_LINE_CHARS + 1):
        if len(line) > MAX_LINE_CHARS:
            raise UnreadableFile("malformed_csv", line=first_line[0], detail="line too long")
        yield line


def _csv_rows(data: bytes, encoding: str) -> Iterator[Row]:
    with _text(data, encoding) as text:
        sample = text.read(8192)
    try:
        dialect: Any = csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    line = [1]  # the line the next row starts on, shared with _lines for its message
    with _text(data, encoding) as text:
        reader = csv.reader(_lines(text, line), dialect)
        try:
            for cells in reader:
                if any(cell.strip() for cell in cells):
                    yield line[0], [unneutralise(cell.strip()) for cell in cells[:MAX_COLUMNS]]
                line[0] = reader.line_num + 1
        except csv.Error as exc:
            raise UnreadableFile("malformed_csv", line=line[0], detail=str(exc)) from None


# -- XLSX -----------------------------------------------------------------------------------------------------------


def check_xlsx(data: bytes) -> None:
    """Refuse an XLSX whose parts declare too much before openpyxl opens it: too many parts, too much unpacked in
    all, a part read whole that is too big, or a part that unpacks to far more than it is packed (a zip bomb)."""
    if data.count(b"PK\x01\x02") > MAX_PARTS:  # central directory entries, counted before zipfile lists them
        raise UnreadableFile("unreadable_xlsx", detail="too many parts")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            parts = archive.infolist()
            worksheets = _worksheets(archive)
    except UnreadableFile:
        raise
    except Exception as exc:  # whatever a damaged zip makes zipfile or the XML parser raise
        raise UnreadableFile("unreadable_xlsx", detail=str(exc)[:200]) from None
    if sum(part.file_size for part in parts) > MAX_UNZIPPED_BYTES:
        raise UnreadableFile("xlsx_too_large", limit=MAX_UNZIPPED_BYTES // MB)
    for part in parts:
        if part.file_size > MAX_WHOLE_PART_BYTES and part.filename not in worksheets:
            raise UnreadableFile("xlsx_too_large", limit=MAX_WHOLE_PART_BYTES // MB)
        if part.file_size > MB and part.file_size > MAX_PART_RATIO * max(part.compress_size, 1):
            raise UnreadableFile("xlsx_packed", ratio=MAX_PART_RATIO)


def _worksheets(archive: zipfile.ZipFile) -> set[str]:
    """The parts that openpyxl streams (worksheets), as the package's content types name them."""
    if archive.getinfo(_CONTENT_TYPES).file_size > MB:
        raise UnreadableFile("unreadable_xlsx", detail="content types too large")
    with archive.open(_CONTENT_TYPES) as source:
        root = ElementTree.fromstring(source.read(MB + 1))
    return {
        element.get("PartName", "").lstrip("/")
        for element in root
        if element.tag.endswith("Override") and element.get("ContentType") == _WORKSHEET_TYPE
    }


class _CappedPart(io.RawIOBase):
    """A part being unpacked, never to more than its header declared (``check_xlsx`` capped the declared sizes):
    the cap holds even if the zip module trusted the data over the header."""

    def __init__(self, source: IO[bytes], name: str, declared: int) -> None:
        super().__init__()
        self._source = source
        self._name = name
        self._left = declared

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._source.read(min(len(buffer), _CHUNK))
        self._left -= len(data)
        if self._left < 0:
            raise UnreadableFile("unreadable_xlsx", detail=f"{self._name} unpacks to more than its header says")
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._source.close()
        super().close()


class _CappedZip(zipfile.ZipFile):
    """The archive openpyxl reads from: every part it opens is capped (``_CappedPart``)."""

    def __init__(self, data: bytes) -> None:
        super().__init__(io.BytesIO(data))

    def open(self, name: Any, mode: str = "r", pwd: bytes | None = None, **kw: Any) -> IO[bytes]:  # type: ignore[override]
        source = super().open(name, mode, pwd, **kw)
        if mode != "r":
            return source
        info = name if isinstance(name, zipfile.ZipInfo) else self.getinfo(name)
        return io.BufferedReader(_CappedPart(source, info.filename, info.file_size), _CHUNK)


def _problem(exc: BaseException) -> ImportProblem | None:
    """The ImportProblem behind an exception openpyxl wrapped in its own (it re-raises ValueErrors), if any."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ImportProblem):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def _copied_rows(copy: IO[bytes]) -> Iterator[Row]:
    copy.seek(0)
    while True:
        try:
            line, cells = marshal.load(copy)
        except EOFError:
            return
        yield line, cells


def _xlsx_rows(data: bytes) -> Iterator[Row]:
    number = 0
    try:
        reader = ExcelReader(io.BytesIO(data), read_only=True, data_only=True, keep_links=False)
        reader.archive.close()
        reader.archive = _CappedZip(data)
        reader.valid_files = reader.archive.namelist()
        reader.read()
        workbook = reader.wb
        try:
            sheet = workbook.worksheets[0]
            sheet.reset_dimensions()  # the <dimension> a file declares may be wrong: read every row
            for values in sheet.iter_rows(max_col=MAX_COLUMNS, values_only=True):
                number += 1
                if number > EXCEL_MAX_ROWS:
                    raise UnreadableFile("unreadable_xlsx", detail="row number beyond the last row of Excel")
                cells = _trimmed(values)
                if cells:
                    yield number, [unneutralise(_cell_text(value)) for value in cells]
        finally:
            workbook.close()
    except Exception as exc:  # openpyxl raises what its parsers raise: BadZipFile, ParseError, KeyError, ...
        problem = _problem(exc)
        if isinstance(problem, UnreadableFile):
            raise problem from None
        raise UnreadableFile("unreadable_xlsx", line=number + 1, detail=str(exc)[:200]) from None


def _trimmed(values: Sequence[Any]) -> Sequence[Any]:
    """The row without its empty cells at the right (openpyxl pads every row to MAX_COLUMNS)."""
    end = len(values)
    while end and (values[end - 1] is None or values[end - 1] == ""):
        end -= 1
    return values[:end]


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


# -- Writing --------------------------------------------------------------------------------------------------------


def neutralise(value: Any) -> Any:
    """A cell as it may be written: text without the characters XML 1.0 forbids, and with a leading ``'`` when it
    would be read as a formula (or when it starts with a ``'`` that reading would take off); numbers as they are."""
    if not isinstance(value, str):
        return value
    text = ILLEGAL_CHARACTERS_RE.sub("", value)
    first, second = text[:1], text[1:2]
    if first in _NEUTRALISED or (first == "'" and second and second in _NEUTRALISED | {"'"}):
        return "'" + text
    return text


def unneutralise(text: str) -> str:
    """The text a neutralised cell stood for (``neutralise`` undone); other text as it is."""
    if text[:1] == "'" and text[1:2] and text[1] in _NEUTRALISED | {"'"}:
        return text[1:].strip()
    return text


DATE_FORMAT = "DD/MM/YYYY"  # how people in Vietnam write dates, as an XLSX number format
DATETIME_FORMAT = "DD/MM/YYYY HH:MM"
_MIN_WIDTH, _MAX_WIDTH = 6, 50  # column widths, in characters
_WIDTH_SAMPLE = 1000  # rows looked at to size the columns
_HEADER_FONT = Font(bold=True)


def _csv_cell(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.strftime("%d/%m/%Y %H:%M")
    if isinstance(value, date):
        return value.strftime("%d/%m/%Y")
    return neutralise(value)


def write_csv(header: Sequence[str], rows: Iterable[Sequence[Any]], out: io.TextIOBase | Any) -> None:
    """Rows as CSV; dates as dd/mm/yyyy."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([neutralise(cell) for cell in header])
    for row in rows:
        writer.writerow([_csv_cell(cell) for cell in row])


@dataclass(frozen=True)
class Sheet:
    header: Sequence[str]
    rows: Sequence[Sequence[Any]]
    title: str = ""


def write_xlsx(header: Sequence[str], rows: Iterable[Sequence[Any]], path_or_stream: Path | io.BytesIO,
               title: str = "") -> None:
    write_workbook([Sheet(header, list(rows), title)], path_or_stream)


def write_workbook(sheets: Sequence[Sheet], path_or_stream: Path | io.BytesIO) -> None:
    """Sheets that open ready to read: a bold, frozen header with filters, columns as wide as what they hold, and
    dates as date cells shown dd/mm/yyyy."""
    workbook = Workbook(write_only=True)
    for sheet in sheets:
        _write_sheet(workbook, sheet)
    workbook.save(path_or_stream)


def _write_sheet(workbook: Workbook, sheet: Sheet) -> None:
    out = workbook.create_sheet(_sheet_title(sheet.title) or None)
    for index, width in enumerate(_widths(sheet), start=1):
        out.column_dimensions[get_column_letter(index)].width = width
    out.freeze_panes = "A2"
    header = []
    for text in sheet.header:
        cell = WriteOnlyCell(out, neutralise(text))
        cell.font = _HEADER_FONT
        header.append(cell)
    out.append(header)
    for row in sheet.rows:
        out.append([_xlsx_cell(out, value) for value in row])
    if sheet.header:
        out.auto_filter.ref = f"A1:{get_column_letter(len(sheet.header))}{len(sheet.rows) + 1}"


def _xlsx_cell(sheet: Any, value: Any) -> Any:
    if isinstance(value, datetime):
        cell = WriteOnlyCell(sheet, value.replace(tzinfo=None))
        cell.number_format = DATETIME_FORMAT
        return cell
    if isinstance(value, date):
        cell = WriteOnlyCell(sheet, value)
        cell.number_format = DATE_FORMAT
        return cell
    return neutralise(value)


def _shown_length(value: Any) -> int:
    if isinstance(value, datetime):
        return len(DATETIME_FORMAT)
    if isinstance(value, date):
        return len(DATE_FORMAT)
    if value is None:
        return 0
    return max((len(line) for line in str(value).splitlines()), default=0)


def _widths(sheet: Sheet) -> list[float]:
    """Each column as wide as its header (plus the filter button) or its longest value among the first rows."""
    widths = [len(str(text)) + 3 for text in sheet.header]
    for row in sheet.rows[:_WIDTH_SAMPLE]:
        for index, value in enumerate(row[: len(widths)]):
            widths[index] = max(widths[index], _shown_length(value) + 1)
    return [float(min(max(width, _MIN_WIDTH), _MAX_WIDTH)) for width in widths]


def _sheet_title(title: str) -> str:
    """A title Excel accepts: at most 31 characters, none of ``[]:*?/\\``."""
    return re.sub(r"[\[\]:*?/\\]", " ", title).strip()[:31]
