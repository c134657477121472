"""Files built to exhaust the machine: refused with a clear reason, without the memory they were built to take.

Memory is measured in a subprocess of its own: the peak of what Python allocated while the file was read."""

from __future__ import annotations

import io
import json
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from openpyxl import Workbook

from handlers.app import Conversation
from models import tabular
from models.db import Database
from models.import_jobs import ImportJob
from models.tabular import UnreadableFile, read_bytes
from tests.chat import ChatUser, make_services

ROOT = Path(__file__).resolve().parents[1]
MB = 1024 * 1024
SHEET = "xl/worksheets/sheet1.xml"
ROW = b'<row><c t="inlineStr"><is><t>Mat ong</t></is></c><c t="inlineStr"><is><t>HTX Meo Vac</t></is></c></row>'
MEASURE = """
import json, sys, tracemalloc
from pathlib import Path
from models.catalog_import import count_rows
from models.errors import ImportProblem
from models.tabular import read_rows

tracemalloc.start()
try:
    rows = count_rows(read_rows(Path(sys.argv[1])))
    code = f"read {rows} rows"
except ImportProblem as problem:
    code = problem.code
_, peak = tracemalloc.get_traced_memory()
print(json.dumps({"code": code, "peak_mb": peak / 2**20}))
"""


def refusal_and_memory(path: Path) -> tuple[str, float]:
    """The reason a fresh process refuses the file for, and the peak MB it allocated meanwhile."""
    done = subprocess.run([sys.executable, "-c", MEASURE, str(path)], cwd=ROOT, capture_output=True, text=True,
                          check=True, timeout=300)
    result = json.loads(done.stdout)
    return result["code"], result["peak_mb"]


def small_xlsx() -> bytes:
    workbook = Workbook()
    workbook.active.append(["Tên sản phẩm", "Chủ thể", "Tỉnh", "Nhóm sản phẩm", "Số sao"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def zip_bomb(unpacked: int = 200 * MB) -> bytes:
    """A real workbook whose sheet is ``unpacked`` bytes of one repeated row: it packs to well under 1 MB."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(small_xlsx())) as source, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as target:
        for info in source.infolist():
            if info.filename != SHEET:
                target.writestr(info, source.read(info.filename))
                continue
            with target.open(SHEET, "w", force_zip64=True) as sheet:
                sheet.write(b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">')
                sheet.write(b"<sheetData>")
                block = ROW * (MB // len(ROW))
                for _ in range(unpacked // len(block)):
                    sheet.write(block)
                sheet.write(b"</sheetData></worksheet>")
    return out.getvalue()


def lying(data: bytes, part: str, declared: int) -> bytes:
    """The archive with the unpacked size its central directory declares for ``part`` replaced by ``declared``."""
    patched = bytearray(data)
    position = 0
    while (position := patched.find(b"PK\x01\x02", position)) >= 0:
        name_length = struct.unpack_from("<H", patched, position + 28)[0]
        if patched[position + 46 : position + 46 + name_length] == part.encode():
            struct.pack_into("<I", patched, position + 24, declared)
            return bytes(patched)
        position += 4
    raise AssertionError(f"no {part} in the archive")


@pytest.fixture(scope="module")
def bomb() -> bytes:
    return zip_bomb()


def test_the_bomb_is_what_it_claims(bomb: bytes) -> None:
    with zipfile.ZipFile(io.BytesIO(bomb)) as archive:
        sheet = archive.getinfo(SHEET)
    assert len(bomb) < MB and sheet.file_size > 200 * MB - MB


def test_a_zip_bomb_is_refused_before_openpyxl_opens_it(bomb: bytes, tmp_path: Path) -> None:
    path = tmp_path / "bomb.xlsx"
    path.write_bytes(bomb)
    code, peak = refusal_and_memory(path)
    assert code == "xlsx_packed" and peak < 8


def test_a_zip_bomb_whose_headers_lie_is_cut_off_while_it_is_read(bomb: bytes, tmp_path: Path) -> None:
    path = tmp_path / "liar.xlsx"
    path.write_bytes(lying(bomb, SHEET, 5000))  # 5 kB declared: past the checks on declared sizes
    read_bytes(path.read_bytes(), path.name)
    code, peak = refusal_and_memory(path)
    assert code == "unreadable_xlsx" and peak < 8


def test_a_part_never_unpacks_to_more_than_its_header_declared() -> None:
    part = io.BufferedReader(tabular._CappedPart(io.BytesIO(b"<row/>" * 1000), SHEET, 600))
    with pytest.raises(UnreadableFile) as raised:
        part.read()
    assert raised.value.code == "unreadable_xlsx" and "more than its header says" in str(raised.value)


def test_a_big_part_read_whole_by_openpyxl_is_refused() -> None:
    strings = b"<sst>" + b"<si><t>" + bytes(range(65, 91)) * (5 * MB) + b"</t></si></sst>"  # 130 MB, packs well
    data = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(small_xlsx())) as source, zipfile.ZipFile(data, "w", zipfile.ZIP_DEFLATED) as out:
        for info in source.infolist():
            out.writestr(info, source.read(info.filename))
        out.writestr("xl/sharedStrings.xml", strings)
    with pytest.raises(UnreadableFile) as raised:
        read_bytes(data.getvalue(), "strings.xlsx")
    assert (raised.value.code, raised.value.params) == ("xlsx_too_large", {"limit": 100})


def test_a_csv_of_tiny_rows_is_refused_at_the_row_limit(tmp_path: Path) -> None:
    path = tmp_path / "tiny.csv"
    with path.open("w") as out:
        out.write("Tên sản phẩm,Chủ thể,Tỉnh,Nhóm sản phẩm,Số sao\n")
        out.write("a,b,c,d,e\n" * (19 * MB // 10))  # 19 MB: under the size limit, 2 million rows
    code, peak = refusal_and_memory(path)
    assert code == "too_many_rows" and peak < 32  # the file itself is 19 MB


def test_a_csv_line_without_end_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "one-line.csv"
    path.write_text("Tên sản phẩm,Chủ thể,Tỉnh,Nhóm sản phẩm,Số sao\n" + "a," * (6 * MB))
    code, peak = refusal_and_memory(path)
    assert code == "malformed_csv" and peak < 24  # the file itself is 12 MB


async def test_a_zip_bomb_sent_in_the_chat_is_refused_at_once(sqlite_db: Database, bomb: bytes) -> None:
    office = ChatUser(Conversation(make_services(sqlite_db)), "office")
    await office._send(document_name="danh-sach.xlsx", document_data=bomb)
    assert office.last == (
        "Không nhập được «danh-sach.xlsx»; chưa có gì thay đổi. Lý do: tệp XLSX bị nén bất thường (có phần giải nén "
        "ra lớn hơn 100 lần); hãy mở bằng Excel rồi lưu lại và gửi tệp mới")
    async with sqlite_db.session() as session:
        assert await session.get(ImportJob, 1) is None  # no job was queued
