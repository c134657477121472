"""The dashboard in a real browser (Playwright driving Debian's Chromium): log in with the link the office gets in a
chat, read the overview, sign a memo, stop a broadcast, import a file, change a product, switch to English, log
out; a used link and a form without its CSRF token are refused; no page scrolls sideways on a 390×844 phone. Screenshots go to $OCOP_TEST_ARTIFACTS (default
test-artifacts/dashboard).

Without Chromium these tests are skipped with the reason, except in CI (CI=true), where they fail."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from datetime import time
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from sqlmodel import select

from handlers.import_jobs import run_next
from models.broadcasts import Broadcast
from models.catalog import Product
from models.db import Database
from models.events import EventRole, create_event, register
from models.meetings import Booking, GridValues, MeetingPolicy, Side, book, save_grid, slots_of
from models.memos import Memo
from models.people import User
from models.stats import programme_stats
from tests.conftest import IN_CI
from tests.dashboard_site import Site, serving, start_broadcast

pytestmark = pytest.mark.asyncio(loop_scope="module")
PHONE = {"width": 390, "height": 844}
ARTIFACTS = Path(os.environ.get("OCOP_TEST_ARTIFACTS", "test-artifacts")) / "dashboard"
NO_SIDEWAYS_SCROLL = "document.documentElement.scrollWidth <= window.innerWidth"


def chromium_path() -> str | None:
    for candidate in ("/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Any]:
    path = chromium_path()
    problem = "no Chromium found (apt-get install chromium)" if path is None else ""
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        problem = "playwright is not installed (pip install -e '.[dev]')"
    if problem:
        if IN_CI:
            pytest.fail(f"browser tests: {problem} (CI=true: they are mandatory)")
        pytest.skip(f"browser tests: {problem}")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=path, args=["--no-sandbox"])
        yield launched
        await launched.close()


@pytest_asyncio.fixture(loop_scope="module")
async def site(tmp_path: Path) -> AsyncIterator[Site]:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'test.sqlite3'}")
    await db.upgrade()
    async with serving(db) as running:
        yield running
    await db.dispose()


@pytest_asyncio.fixture(loop_scope="module")
async def phone(browser: Any) -> AsyncIterator[Any]:
    context = await browser.new_context(viewport=PHONE, locale="vi-VN")
    page = await context.new_page()
    yield page
    await context.close()


async def log_in(page: Any, site: Site) -> None:
    await page.goto(await site.login_link())
    await page.click("#login")
    await page.wait_for_selector("text=Tổng quan chương trình")


async def fits(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    assert await page.evaluate(NO_SIDEWAYS_SCROLL), f"{name} scrolls sideways at 390 px"


async def test_log_in_read_the_overview_and_sign_a_memo(site: Site, phone: Any) -> None:
    await log_in(phone, site)
    async with site.services.db.session() as session:
        stats = await programme_stats(session)

    async def figure(name: str) -> str:
        return await phone.locator(f"[data-figure='{name}'] span").inner_text()

    assert await figure("products") == str(stats.products) == "5"
    assert await figure("buyers") == str(stats.buyers)
    assert await figure("producers") == str(stats.producers)
    assert await figure("requests") == str(stats.request_total)
    assert await figure("memos") == str(stats.memo_total)
    assert await phone.locator("[data-figure='memos.confirmed'] td").inner_text() == str(stats.memos["confirmed"])
    assert await phone.locator(".chart svg").count() == 12
    await fits(phone, "overview-vi")

    await phone.click("text=Biên bản ghi nhớ")
    await phone.wait_for_selector("[data-memo='1']")
    await fits(phone, "memos-vi")
    await phone.click("[data-memo='1'] a")
    await phone.wait_for_selector("#sign")
    async with phone.expect_download() as downloading:
        await phone.click("text=Tải biên bản (DOCX)")
    assert (await downloading.value).suggested_filename == "bien-ban-ghi-nho-1.docx"
    await phone.click("#sign")
    await phone.wait_for_selector("text=Đã ghi nhận biên bản được ký")
    assert await phone.locator("#memo-status").inner_text() == "đã ký"
    await fits(phone, "memo-signed-vi")
    async with site.services.db.session() as session:
        assert (await session.exec(select(Memo.status))).one() == "signed"


async def test_english_switch_and_logout(site: Site, phone: Any) -> None:
    await log_in(phone, site)
    await phone.click("button[value='en']")
    await phone.wait_for_selector("text=Programme overview")
    assert await phone.get_attribute("html", "lang") == "en"
    await fits(phone, "overview-en")
    await phone.click("text=Cooperation memos")
    await phone.wait_for_selector("[data-memo='1']")
    assert "Cooperation memos" in await phone.locator("h1").inner_text()
    await phone.click("text=Log out")
    await phone.wait_for_selector("text=You are logged out")
    answer = await phone.goto(site.base + "/dashboard")
    assert answer.status == 401 and "Type /dashboard" in await phone.inner_text("main")


async def test_a_used_link_and_a_form_without_csrf_are_refused(site: Site, phone: Any, browser: Any) -> None:
    link = await site.login_link()
    await phone.goto(link)
    await phone.click("#login")
    await phone.wait_for_selector("text=Tổng quan chương trình")
    other = await browser.new_context(viewport=PHONE)
    try:
        late = await other.new_page()
        await late.goto(link)
        await late.click("#login")
        await late.wait_for_selector("text=đã được dùng")
        await fits(late, "link-used-vi")
    finally:
        await other.close()
    await phone.goto(site.base + "/dashboard/memos/1")
    await phone.evaluate("document.querySelector('#sign').form.querySelector('[name=csrf]').value = 'forged'")
    await phone.click("#sign")
    await phone.wait_for_selector("text=không có gì thay đổi")
    await fits(phone, "form-refused-vi")
    async with site.services.db.session() as session:
        assert (await session.exec(select(Memo.status))).one() == "confirmed"


async def test_stop_a_broadcast(site: Site, phone: Any) -> None:
    number = await start_broadcast(site)
    await log_in(phone, site)
    await phone.click("text=Tin nhắn hàng loạt")
    await phone.wait_for_selector(f"[data-stop='{number}']")
    await fits(phone, "broadcast-sending-vi")
    await phone.click(f"[data-stop='{number}']")
    await phone.wait_for_selector(f"text=Đã dừng tin #{number}")
    assert await phone.locator(f"[data-broadcast='{number}'] [data-field='state']").inner_text() == "đã dừng"
    assert await phone.locator("[data-stop]").count() == 0
    await fits(phone, "broadcast-stopped-vi")
    async with site.services.db.session() as session:
        assert (await session.get(Broadcast, number)).status == "cancelled"  # type: ignore[union-attr]


async def test_catalogue_search_and_card(site: Site, phone: Any) -> None:
    await log_in(phone, site)
    await phone.click("text=Danh mục")
    await phone.fill("input[name=q]", "mat ong ha giang")
    await phone.click("button:has-text('Tìm')")
    await phone.wait_for_selector("[data-product='1']")
    await fits(phone, "catalogue-vi")
    await phone.click("[data-product='1'] a")
    await phone.select_option("select[name=stars]", "5")
    await phone.click("#save-stars")
    await phone.wait_for_selector("text=Đã lưu hạng sao")
    assert (await phone.inner_text("#stars")).startswith("5★")
    await phone.click("#hide")
    await phone.wait_for_selector("text=đã được ẩn khỏi tìm kiếm")
    await fits(phone, "product-vi")
    async with site.services.db.session() as session:
        product = await session.get(Product, 1)
    assert product is not None and (product.stars, product.hidden) == (5, True)


async def test_import_a_file(site: Site, phone: Any, tmp_path: Path) -> None:
    listing = tmp_path / "danh-sach.csv"
    listing.write_text(
        "Tên sản phẩm,Chủ thể,Loại hình chủ thể,Địa chỉ,Tỉnh,Nhóm sản phẩm,Số sao,Tiềm năng 5 sao,Số quyết định,"
        "Ngày quyết định,Điện thoại,Email,Mùa vụ\n"
        'Trà hoa vàng Ba Chẽ,HTX Trà Ba Chẽ,Hợp tác xã,"xã Thanh Sơn, huyện Ba Chẽ, tỉnh Quảng Ninh",Quảng Ninh,'
        "Đồ uống,4,,12/QĐ-UBND,01/03/2024,,,\n", encoding="utf-8")
    await log_in(phone, site)
    await phone.goto(site.base + "/dashboard/import")
    await phone.set_input_files("input[type=file]", str(listing))
    await phone.click("#check")
    await phone.wait_for_selector("#report")
    assert "1 sản phẩm mới" in await phone.inner_text("#report")
    await fits(phone, "import-report-vi")
    async with site.services.db.session() as session:
        assert (await session.exec(select(Product).where(Product.name == "Trà hoa vàng Ba Chẽ"))).first() is None
    await phone.click("#apply")
    await phone.wait_for_selector("#queued")
    assert await run_next(site.services, "browser-test")
    async with site.services.db.session() as session:
        assert (await session.exec(select(Product).where(Product.name == "Trà hoa vàng Ba Chẽ"))).first()


async def test_the_meeting_grid_reads_on_a_phone(site: Site, phone: Any) -> None:
    """Eight tables do not push the page sideways: on a phone each slot is a card of its meetings, each named by its
    table, and the free tables are left out."""
    now = site.services.clock.now()
    async with site.services.db.transaction() as session:
        users = {u.display_name: u for u in (await session.exec(select(User))).all()}
        event = await create_event(session, users["Office"], {
            "name": "Gặp gỡ nhà phân phối", "theme": "", "venue": "Hà Nội", "starts_on": f"{now:%Y-%m-%d}",
            "ends_on": f"{now:%Y-%m-%d}", "register_by": f"{now:%Y-%m-%d}"}, now)
        event_id = event.id or 0
        await register(session, users["Lan"], event_id, EventRole.BUYER, now)
        await register(session, users["Hao"], event_id, EventRole.PRODUCER, now)
        await save_grid(session, users["Office"], event_id, GridValues(
            days=(event.starts_on,), hours=((time(14), time(16)),), breaks=(), slot_minutes=20, tables=8), now)
        slots = await slots_of(session, event_id)
        meeting = await book(session, users["Office"], Side.OFFICE, Booking(
            event_id, users["Lan"].id or 0, users["Hao"].producer_id or 0), slots[0].id or 0, MeetingPolicy(), now)
    await log_in(phone, site)
    await phone.goto(f"{site.base}/dashboard/events/{event_id}")
    cell = phone.locator(f"[data-meeting='{meeting.id}']")
    await cell.wait_for()
    await fits(phone, "meeting-grid-vi")
    label = await cell.evaluate("cell => getComputedStyle(cell, '::before').content")
    assert "Bàn 1" in label
    assert await phone.locator("[data-meeting-grid] td.muted").first.is_hidden()
