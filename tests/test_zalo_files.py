"""Files the office gets and sends on Zalo, which has no file messages: exports and the /stats chart reach admins as
signed, expiring links (the chart as a photo sent by its link); a list an admin sends to the OA is fetched from
Zalo's storage and imported."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta

import aiohttp
import pytest
from openpyxl import load_workbook
from sqlmodel import select

from handlers.context import Services
from handlers.import_jobs import run_next
from models.charts import PNG_SIGNATURE
from models.clock import FakeClock
from models.db import Database
from models.stored_files import StoredFile, load, remove_expired, store
from tests.chat import load_catalogue, make_services, picture
from tests.fake_zalo import FakeZaloBot, FakeZaloOA
from tests.loopback import serving
from tests.test_admin_files import xlsx_list
from tests.zalo_users import PUBLIC_URL, BotUser, OAUser, Running, forgeries, zalo_bot, zalo_oa

BOT_ADMIN, OA_ADMIN, BUYER = "a0a0a0", "4001", "4002"
FILE_LINK = re.compile(r"https://\S+/files/(\d+)\.(\w+)\?exp=\d+&sig=\w+")
PHOTO_LINK = re.compile(r"https://\S+/photos/(\d+)\.png\?sig=\w+")


@pytest.fixture
async def services(sqlite_db: Database) -> Services:
    await load_catalogue(sqlite_db)
    made = make_services(sqlite_db)
    admins = {**made.admin_ids, "zalo_bot": frozenset({BOT_ADMIN}), "zalo_oa": frozenset({OA_ADMIN})}
    return replace(made, admin_ids=admins)


@pytest.fixture
async def bot_fake() -> AsyncIterator[FakeZaloBot]:
    async with serving(FakeZaloBot()) as server:
        yield server


@pytest.fixture
async def oa_fake() -> AsyncIterator[FakeZaloOA]:
    async with serving(FakeZaloOA()) as server:
        yield server


def file_link(text: str) -> str:
    found = FILE_LINK.search(text)
    assert found, text
    return found.group(0)


async def download(run: Running, link: str) -> tuple[int, bytes, dict[str, str]]:
    async with aiohttp.ClientSession() as session, session.get(link.replace(PUBLIC_URL, run.base)) as response:
        return response.status, await response.read(), dict(response.headers)


async def test_exports_reach_zalo_bot_admins_as_links(bot_fake: FakeZaloBot, services: Services) -> None:
    async with zalo_bot(services, bot_fake) as run:
        office = BotUser(run, bot_fake, BOT_ADMIN, "Văn phòng")
        [text] = await office.says("/export products csv")
        assert text.startswith("Danh mục sản phẩm: 5 dòng (CSV).\n\n📄 ")
        status, body, headers = await download(run, file_link(text))
        assert status == 200 and headers["Content-Type"].startswith("text/csv")
        assert "attachment; filename*=UTF-8''ocop-products-" in headers["Content-Disposition"]
        rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
        assert len(rows) == 6 and "Chè búp Tân Cương" in {row[1] for row in rows}

        [text] = await office.says("/export memos")  # XLSX by default
        status, body, _ = await download(run, file_link(text))
        assert status == 200 and len(list(load_workbook(io.BytesIO(body)).worksheets[0].values)) == 1  # header only


async def test_the_stats_chart_is_a_photo_sent_by_its_link(bot_fake: FakeZaloBot, services: Services) -> None:
    async with zalo_bot(services, bot_fake) as run:
        office = BotUser(run, bot_fake, BOT_ADMIN)
        await office.says("/stats")
        [photo] = [call for call in bot_fake.calls if call.method == "sendPhoto"]
        assert photo.body["caption"].startswith("📊 Thống kê chương trình")
        assert re.fullmatch(PHOTO_LINK, photo.body["photo"])  # lasting: Zalo may fetch it when the chat is reopened
        status, body, headers = await download(run, photo.body["photo"])
        assert status == 200 and body.startswith(PNG_SIGNATURE) and headers["Content-Type"] == "image/png"
        assert headers["Content-Disposition"].startswith("inline;")

        bot_fake.fail("sendPhoto", 400)  # Zalo could not fetch it: the text goes, with the chart's link under it
        await office.says("/stats")
        assert "🖼 https://ocop.example.vn/photos/" in office.last and ".png?sig=" in office.last


async def test_file_links_are_signed_expire_and_are_then_removed(bot_fake: FakeZaloBot, services: Services) -> None:
    assert isinstance(services.clock, FakeClock)
    async with zalo_bot(services, bot_fake) as run:
        office = BotUser(run, bot_fake, BOT_ADMIN)
        link = file_link((await office.says("/export requests csv"))[0])
        file_id = FILE_LINK.search(link).group(1)  # type: ignore[union-attr]
        as_memo = link.replace(f"/files/{file_id}.csv", f"/memos/{file_id}.docx")  # a file's signature opens no memo
        refused = [*forgeries(link), as_memo]
        for bad in refused:
            assert (await download(run, bad))[0] == 403, bad
        assert (await download(run, link))[0] == 200
        assert (await download(run, run.channel.signer.url("file", 999, services.clock.now(), "csv")))[0] == 404

        services.clock.advance(hours=73)  # the link's 72 hours are over
        assert (await download(run, link))[0] == 403
        await office.says("/export products")  # the next file made removes the expired one
        async with services.db.session() as session:
            kept = (await session.exec(select(StoredFile.filename))).all()
        assert len(kept) == 1 and kept[0].startswith("ocop-products-")
        assert (await download(run, link))[0] == 403  # SQLite may reuse the id: the old link still opens nothing


async def test_oa_admins_get_links_and_send_lists_to_import(oa_fake: FakeZaloOA, services: Services) -> None:
    async with zalo_oa(services, oa_fake) as run:
        office, buyer = OAUser(run, oa_fake, OA_ADMIN), OAUser(run, oa_fake, BUYER)
        [queued] = await office.sends(oa_fake.file(OA_ADMIN, "danh-sach-ocop.xlsx", xlsx_list()))
        assert queued == "📥 Đang nhập «danh-sach-ocop.xlsx» — bạn sẽ nhận báo cáo khi xong."
        assert await run_next(services, "worker")  # the import worker that serve runs beside the channels
        report = await office.waits_for("📥 danh-sach-ocop.xlsx: 2 dòng dữ liệu — 1 sản phẩm mới")
        assert "Dòng 3:" in report

        [text] = await office.says("/export products xlsx")
        status, body, _ = await download(run, file_link(text))
        rows = list(load_workbook(io.BytesIO(body), read_only=True).worksheets[0].values)
        assert status == 200 and len(rows) == 7 and rows[6][1] == "Trà hoa vàng Ba Chẽ"

        await office.says("/stats")
        [media] = [call for call in oa_fake.sent(OA_ADMIN) if call.template == "media"]
        url = media.body["message"]["attachment"]["payload"]["elements"][0]["url"]
        assert (await download(run, url))[1].startswith(PNG_SIGNATURE)

        [gone] = await office.sends(oa_fake.file(OA_ADMIN, "mat.xlsx", None))  # Zalo no longer has the file
        assert gone.startswith("Không nhận được tệp «mat.xlsx»")
        [refused] = await buyer.sends(oa_fake.file(BUYER, "spam.csv", b"a,b\n1,2\n"))
        assert "chưa nhận tệp tin" in refused
        [refused] = await buyer.says("/export products")
        assert "không có quyền" in refused and "files/" not in refused


async def test_a_picture_is_fetched_only_when_a_broadcast_asks_for_one(oa_fake: FakeZaloOA, services: Services) -> None:
    photo = picture()
    async with zalo_oa(services, oa_fake) as run:
        office = OAUser(run, oa_fake, OA_ADMIN)
        [reply] = await office.sends(oa_fake.file(OA_ADMIN, "anh.png", photo, kind="image"))
        assert "chỉ đọc được tin nhắn chữ" in reply and oa_fake.fetched() == 0  # no flow wants it: not downloaded
        await office.says("/broadcast")
        await office.says("Mời tham quan gian hàng OCOP")
        [reply] = await office.sends(oa_fake.file(OA_ADMIN, "anh.png", photo, kind="image"))
        assert "Gửi cho ai?" in reply and oa_fake.fetched() == 1
    async with services.db.session() as session:
        [kept] = (await session.exec(select(StoredFile))).all()
    assert kept.data == photo and kept.filename == "broadcast-photo.png"


async def test_expired_files_are_swept(db: Database) -> None:
    clock = FakeClock()
    async with db.transaction() as session:
        await store(session, "a.csv", "text/csv", b"a", clock.now(), timedelta(hours=1))
        kept = await store(session, "b.csv", "text/csv", b"b", clock.now(), timedelta(hours=3))
    clock.advance(hours=2)
    async with db.transaction() as session:
        assert await remove_expired(session, clock.now()) == 1
        assert await load(session, kept.id or 0, clock.now()) is not None
    clock.advance(hours=2)
    async with db.session() as session:
        assert await load(session, kept.id or 0, clock.now()) is None  # past its time, even before a sweep
