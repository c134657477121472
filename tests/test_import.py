"""Catalogue import and export, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlmodel import select

from models.catalog import Producer, Product, catalog_version
from models.catalog_export import COLUMNS, product_rows
from models.catalog_import import ImportFileError, import_file
from models.db import Database
from models.tabular import UnreadableFile, write_csv

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
