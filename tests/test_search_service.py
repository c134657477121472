"""The search index follows the catalogue in the database, also when another process changed it."""

from __future__ import annotations

import gc
import weakref
from pathlib import Path

from sqlmodel import select

from models.catalog import Product, bump_catalog_version
from models.catalog_import import import_file
from models.db import Database
from models.search_service import SearchService

CSV = """Tên sản phẩm,Chủ thể,Địa chỉ,Tỉnh,Nhóm sản phẩm,Số sao
Chè búp Tân Cương,HTX Chè Hảo Đạt,"xã Tân Cương, TP Thái Nguyên, tỉnh Thái Nguyên",Thái Nguyên,Đồ uống,4
Mật ong bạc hà,HTX Mật ong Mèo Vạc,"huyện Mèo Vạc, tỉnh Hà Giang",Hà Giang,Thực phẩm,4
"""
MORE = CSV + "Gạo ST25 Ông Cua,Công ty Hồ Quang Trí,\"xã Gia Hòa, tỉnh Sóc Trăng\",Sóc Trăng,Thực phẩm,5\n"


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_index_is_built_from_the_database(db: Database, tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text(CSV, encoding="utf-8")
    await import_file(db, tmp_path / "a.csv")
    service = SearchService(db)
    result = await service.search("mat ong ha giang")
    assert [hit.document.name for hit in result.hits] == ["Mật ong bạc hà"]
    hit = result.hits[0].document
    assert (hit.province, hit.old_province, hit.region) == ("Tuyên Quang", "Hà Giang", "Trung du và miền núi phía Bắc")


async def test_a_change_made_elsewhere_is_picked_up(db: Database, tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text(CSV, encoding="utf-8")
    (tmp_path / "b.csv").write_text(MORE, encoding="utf-8")
    await import_file(db, tmp_path / "a.csv")
    clock = FakeClock()
    service = SearchService(db, check_interval=5.0, clock=clock)
    assert (await service.search("gao st25")).hits == ()
    version = service.version

    # Another process (here: a second Database on the same store) imports more products.
    other = Database(db.url.render_as_string(hide_password=False), schema=db.schema)
    try:
        await import_file(other, tmp_path / "b.csv")
    finally:
        await other.dispose()

    clock.now = 1.0  # within the check interval: the old index still answers
    assert (await service.search("gao st25")).hits == ()
    clock.now = 6.0  # past it: the version changed, a rebuild starts
    await service.search("gao st25")
    await service.wait_rebuilt()
    assert service.version != version
    assert [hit.document.name for hit in (await service.search("gao st25")).hits] == ["Gạo ST25 Ông Cua"]


async def test_hidden_products_are_not_found(db: Database, tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text(CSV, encoding="utf-8")
    await import_file(db, tmp_path / "a.csv")
    async with db.transaction() as session:
        product = (await session.exec(select(Product).where(Product.name == "Chè búp Tân Cương"))).one()
        product.hidden = True
        await bump_catalog_version(session)
    service = SearchService(db)
    assert (await service.search("che tan cuong")).hits == ()



async def test_a_replaced_index_is_freed_without_the_cycle_collector(sqlite_db: Database, tmp_path: Path) -> None:
    """`ocop-bot serve` freezes its startup objects (bot.runtime.freeze_startup_heap), the first index among them:
    frozen objects are never collected as cycles, so a replaced index must be freed by reference counting alone."""
    (tmp_path / "a.csv").write_text(CSV, encoding="utf-8")
    (tmp_path / "b.csv").write_text(MORE, encoding="utf-8")
    await import_file(sqlite_db, tmp_path / "a.csv")
    clock = FakeClock()
    service = SearchService(sqlite_db, check_interval=5.0, clock=clock)
    first = weakref.ref(await service.index())
    await import_file(sqlite_db, tmp_path / "b.csv")
    clock.now = 6.0
    await service.index()
    await service.wait_rebuilt()
    assert (await service.search("gao st25")).hits
    gc.disable()
    try:
        assert first() is None
    finally:
        gc.enable()
