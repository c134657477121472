"""The office's web dashboard over HTTP: a /dashboard link from a chat opens a session once; every page refuses
without one; forms need their CSRF token; the overview shows /stats' figures; memos are listed, downloaded and
marked signed through the chat's own domain function, with an audit trail."""

from __future__ import annotations

import asyncio
import dataclasses
import re
from collections.abc import AsyncIterator
from datetime import time
from html import unescape

import aiohttp
import pytest
from aiohttp import web
from sqlmodel import col, select

from bot.config import TelegramSettings
from bot.dashboard import COOKIE
from bot.stopping import finish
from bot.telegram import TelegramChannel
from bot.web import make_app, start_site
from handlers.app import Conversation
from handlers.import_jobs import run_next
from models.audit import AuditLog
from models.catalog import Product
from models.clock import FakeClock
from models.db import Database
from models.events import EventRole, create_event, register
from models.meetings import Booking, GridValues, MeetingPolicy, Side, book, mark, save_grid, slots_of
from models.memos import Memo
from models.people import Role, User
from models.stats import programme_stats
from models.tables import request_page
from tests.chat import request_contact
from tests.dashboard_site import Site, csrf_of, serving, start_broadcast
from tests.fake_telegram import TOKEN, FakeTelegram
from tests.loopback import serving as loopback
from tests.telegram_users import TelegramUser


def dashboard_routes(site: Site) -> list[tuple[str, str]]:
    """Every dashboard route but the login and the style sheet, with 1 for any id."""
    app = make_app(site.services)
    found = []
    for route in app.router.routes():
        path = re.sub(r"\{id[^}]*\}", "1", route.resource.canonical if route.resource else "")
        if path.startswith("/dashboard") and route.method != "HEAD" and not path.startswith(
                ("/dashboard/login", "/dashboard/static")):
            found.append((route.method, path))
    return found


@pytest.fixture
async def site(db: Database) -> AsyncIterator[Site]:
    async with serving(db) as running:
        yield running


def clock_of(site: Site) -> FakeClock:
    clock = site.services.clock
    assert isinstance(clock, FakeClock)
    return clock


def figure(html: str, name: str) -> str:
    """The value shown for a data-figure (a KPI's number, or a chart table's value)."""
    found = re.search(rf'data-figure="{re.escape(name)}"[^>]*>(?:<span>|<b>|<th[^>]*>[^<]*</th><td>)([^<]+)<', html)
    assert found, name
    return unescape(found.group(1)).strip()


async def memo_status(site: Site) -> str:
    async with site.services.db.session() as session:
        return (await session.get(Memo, 1)).status  # type: ignore[union-attr]


async def test_only_admins_get_a_link(site: Site) -> None:
    link = await site.login_link()
    assert "dùng một lần" in site.office.last and "10 phút" in site.office.last
    assert link.startswith(site.base + "/dashboard/login?token=")
    await site.buyer.says("/dashboard")
    assert "dashboard/login" not in site.buyer.last and "quyền" in site.buyer.last  # the usual not-authorised text
    async with site.services.db.session() as session:
        actions = (await session.exec(select(AuditLog.action))).all()
    assert actions.count("dashboard.link") == 1


async def test_every_page_refuses_without_a_session(site: Site) -> None:
    routes = dashboard_routes(site)
    assert len(routes) >= 17 and ("POST", "/dashboard/memos/1/sign") in routes
    async with site.client() as client:
        for method, path in routes:
            async with client.request(method, path, data={"csrf": "x"}, allow_redirects=False) as response:
                assert response.status == 401, path
                assert "Gõ /dashboard trong khung chat" in await response.text()
        client.cookie_jar.update_cookies({COOKIE: "made-up"})
        async with client.get("/dashboard") as response:
            assert response.status == 401
    assert await memo_status(site) == "confirmed"


async def test_a_link_opens_one_session_once(site: Site) -> None:
    link = await site.login_link()
    token = link.split("token=")[1]
    async with site.client() as client:
        for _ in range(2):  # a chat app's preview fetches the link: showing the page does not use it
            async with client.get(link) as page:
                assert page.status == 200 and "chỉ dùng được một lần" in await page.text()
        async with client.post("/dashboard/login", data={"token": token}, allow_redirects=False) as answer:
            assert answer.status == 303 and answer.headers["Location"] == "/dashboard"
            cookie = answer.headers["Set-Cookie"]
            assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/dashboard" in cookie
            assert "Secure" not in cookie  # public_url is http here
        async with client.get("/dashboard") as home:
            assert home.status == 200 and "Tổng quan chương trình" in await home.text()
    async with site.client() as other:
        async with other.post("/dashboard/login", data={"token": token}) as again:
            assert again.status == 403 and "đã được dùng" in await again.text()
        async with other.post("/dashboard/login", data={"token": token[:-2]}) as cut:
            assert cut.status == 403 and "không hợp lệ" in await cut.text()
        async with other.get("/dashboard/login") as empty:
            assert empty.status == 403
        late = (await site.login_link()).split("token=")[1]
        clock_of(site).advance(minutes=11)
        async with other.post("/dashboard/login", data={"token": late}) as expired:
            assert expired.status == 403 and "đã hết hạn" in await expired.text()
        async with other.get("/dashboard") as home:
            assert home.status == 401


async def test_sessions_end_when_idle_at_logout_and_with_admin_rights(site: Site) -> None:
    async with site.client() as client:
        csrf = await site.logged_in(client)
        clock_of(site).advance(minutes=59)
        async with client.get("/dashboard/memos") as page:
            assert page.status == 200  # a request restarts the idle clock
        clock_of(site).advance(minutes=59)
        async with client.get("/dashboard/memos") as page:
            assert page.status == 200
        clock_of(site).advance(minutes=61)
        async with client.get("/dashboard/memos") as page:
            assert page.status == 401 and "hết hạn" in await page.text()

        csrf = await site.logged_in(client)
        async with client.post("/dashboard/logout", data={"csrf": csrf}) as out:
            assert out.status == 200 and "Bạn đã đăng xuất" in await out.text()
        async with client.get("/dashboard") as page:
            assert page.status == 401

        await site.logged_in(client)
        async with site.services.db.transaction() as session:  # the office loses its admin rights
            office = (await session.exec(select(User).where(User.display_name == "Office"))).one()
            office.role = Role.NONE.value
        async with client.get("/dashboard") as page:
            assert page.status == 401
    async with site.services.db.session() as session:
        entries = (await session.exec(select(AuditLog).where(col(AuditLog.action).like("dashboard.%")))).all()
    assert [e.action for e in entries].count("dashboard.login") == 3
    assert [(e.action, e.detail) for e in entries if e.action == "dashboard.logout"] == [("dashboard.logout", "Office")]


async def test_forms_need_the_sessions_csrf_token(site: Site) -> None:
    async with site.client() as client:
        csrf = await site.logged_in(client)
        for data in ({}, {"csrf": ""}, {"csrf": csrf[:-1] + "x"}, {"csrf": "ž" * 50}):
            async with client.post("/dashboard/memos/1/sign", data=data) as refused:
                assert refused.status == 403 and "không có gì thay đổi" in await refused.text()
        async with client.post("/dashboard/logout", data={}) as refused:
            assert refused.status == 403
        async with client.get("/dashboard") as still:
            assert still.status == 200  # the refused logout left the session open
    async with site.client() as other:
        other_csrf = await site.logged_in(other)
    async with site.client() as client:
        await site.logged_in(client)
        async with client.post("/dashboard/memos/1/sign", data={"csrf": other_csrf}) as refused:
            assert refused.status == 403  # another session's token
    assert await memo_status(site) == "confirmed"


async def test_mark_a_memo_signed(site: Site) -> None:
    async with site.client() as client:
        csrf = await site.logged_in(client)
        async with client.get("/dashboard/memos?status=confirmed") as listing:
            html = await listing.text()
            assert 'data-memo="1"' in html and "Chè búp Tân Cương" in html and "1 biên bản" in html
        async with client.get("/dashboard/memos?status=signed") as none:
            assert 'data-memo="1"' not in await none.text()
        async with client.get("/dashboard/memos/1.docx") as document:
            assert document.status == 200 and (await document.read())[:2] == b"PK"
            assert "bien-ban-ghi-nho-1.docx" in document.headers["Content-Disposition"]
        async with client.post("/dashboard/memos/1/sign", data={"csrf": csrf}, allow_redirects=False) as signed:
            assert signed.status == 303 and signed.headers["Location"] == "/dashboard/memos/1?signed=1"
        async with client.get("/dashboard/memos/1?signed=1") as page:
            html = await page.text()
            assert "Đã ghi nhận biên bản được ký" in html and "ghi nhận đã ký" in html and "Office" in html
        async with client.post("/dashboard/memos/1/sign", data={"csrf": csrf}) as again:
            assert again.status == 409 and "không thay đổi" in await again.text()
        for path in ("/dashboard/memos/99", "/dashboard/memos/99.docx", "/dashboard/memos/0"):
            async with client.get(path) as missing:
                assert missing.status == 404 and "Không có biên bản này" in await missing.text()
        async with client.get("/dashboard/memos?status=%00&page=99999999999999") as odd:
            assert odd.status == 200  # unknown filter: all memos; a page past the end: the last
    assert await memo_status(site) == "signed"
    assert any("đã ký" in m.text for m in await site.buyer.receive())  # told, as when the office signs in a chat
    async with site.services.db.session() as session:
        trail = (await session.exec(select(AuditLog).where(AuditLog.subject == "memo:1"))).all()
    assert [(e.action, e.detail) for e in trail] == [("memo.sign", "Office")]


async def test_overview_shows_the_stats_figures_in_either_language(site: Site) -> None:
    async with site.services.db.session() as session:
        stats = await programme_stats(session)
    async with site.client() as client:
        csrf = await site.logged_in(client)
        async with client.get("/dashboard") as page:
            html = await page.text()
        assert html.count("<svg") == 12
        assert figure(html, "floor_memos") == str(stats.floor_memos) == "0"  # memos from booths' QR codes
        assert figure(html, "products") == str(stats.products) == "5"
        assert figure(html, "buyers") == str(stats.buyers) and figure(html, "producers") == str(stats.producers)
        assert figure(html, "requests") == str(stats.request_total)
        assert figure(html, "acceptance_rate") == "100%"
        for status, n in stats.requests.items():
            assert figure(html, f"funnel.{status}") == str(n)
        for stars, n in stats.products_by_stars.items():
            assert figure(html, f"stars.{stars}") == str(n)
        for status, n in stats.memos.items():
            assert figure(html, f"memos.{status}") == str(n)
        for kind, n in stats.memos_by_kind.items():  # as the events report them: by kind, signed of drafted
            assert figure(html, f"memo_kinds.{kind}") == str(n)
            assert figure(html, f"signed_kinds.{kind}") == str(stats.signed_by_kind[kind])
        assert set(stats.memos_by_kind) == {"framework", "province", "producer"}
        assert figure(html, "regions.Đồng bằng sông Hồng") == "1"
        assert figure(html, "weekly_requests.23/11") == "1"  # the week of Monday 23 November 2026
        async with client.post("/dashboard/language", data={"csrf": csrf, "lang": "en", "next": "/dashboard/memos"},
                               allow_redirects=False) as switched:
            assert switched.status == 303 and switched.headers["Location"] == "/dashboard/memos"
        async with client.get("/dashboard") as page:
            html = await page.text()
        assert "Programme overview" in html and 'lang="en"' in html and "acceptance rate" in html
        assert "Tiếng Việt" in html
        async with client.post("/dashboard/language", data={"csrf": csrf, "lang": "vi", "next": "//evil.example"},
                               allow_redirects=False) as switched:
            assert switched.headers["Location"] == "/dashboard"  # never a redirect off the dashboard


async def test_a_link_asked_for_on_telegram(site: Site) -> None:
    """The command is channel-neutral: on Telegram (the fake Bot API) the office's link works the same."""
    async with loopback(FakeTelegram()) as fake:
        channel = TelegramChannel(Conversation(site.services), TelegramSettings(
            token=TOKEN, base_url=fake.base_url, mode="polling"))  # type: ignore[arg-type]
        await channel.start(web.Application())
        running = asyncio.create_task(channel.run(pump_interval=0.05))
        await asyncio.wait_for(channel.connected.wait(), 10)
        try:
            office, stranger = TelegramUser(fake, 9000, fake.push), TelegramUser(fake, 555, fake.push)
            await office.says("/dashboard")
            sent = await office.expect("/dashboard/login?token=")
            await stranger.says("/dashboard")
            refused = await stranger.expect("quyền")
            assert "token=" not in refused.text
        finally:
            channel.stopping.set()
            await finish([running])
    link = re.search(r"http://\S+", sent.text).group(0)  # type: ignore[union-attr]
    async with site.client() as client:
        async with client.get(link) as page:
            token = re.search(r'name="token" value="([^"]+)"', await page.text()).group(1)  # type: ignore[union-attr]
        async with client.post("/dashboard/login", data={"token": token}) as home:
            assert home.status == 200 and csrf_of(await home.text())


async def test_broadcast_progress_and_stop(site: Site) -> None:
    async with site.client() as client:
        csrf = await site.logged_in(client)
        async with client.get("/dashboard/broadcasts") as page:
            assert "Chưa có tin nhắn hàng loạt nào" in await page.text()
        number = await start_broadcast(site)
        async with client.get("/dashboard/broadcasts") as page:
            html = await page.text()
        assert 'http-equiv="refresh"' in html and f'data-stop="{number}"' in html
        assert "Đã gửi 0/3" in html and "còn lại 3" in html and "Hội chợ OCOP mở cửa" in html
        async with client.post(f"/dashboard/broadcasts/{number}/stop", data={}) as refused:
            assert refused.status == 403
        async with client.post(f"/dashboard/broadcasts/{number}/stop", data={"csrf": csrf},
                               allow_redirects=False) as stopped:
            assert stopped.status == 303
        async with client.get(stopped.headers["Location"]) as page:
            html = await page.text()
        assert f"Đã dừng tin #{number}" in html and "không gửi 3 (đã dừng)" in html
        assert 'http-equiv="refresh"' not in html and "data-stop" not in html
        for path in (f"/dashboard/broadcasts/{number}/stop", "/dashboard/broadcasts/99/stop"):
            async with client.post(path, data={"csrf": csrf}) as again:
                assert again.status == 409 and "không có gì thay đổi" in await again.text()
    async with site.services.db.session() as session:
        entries = (await session.exec(select(AuditLog).where(AuditLog.action == "broadcast.cancel"))).all()
    assert [(e.subject, e.actor_id is not None) for e in entries] == [(f"broadcast:{number}", True)]


async def test_requests_table_and_its_pages(site: Site) -> None:
    await request_contact(site.buyer, "mat ong ha giang", "Mật ong bạc hà")
    async with site.client() as client:
        await site.logged_in(client)
        async with client.get("/dashboard/requests") as page:
            html = await page.text()
        assert "2 yêu cầu" in html and 'data-request="2"' in html and 'data-request="1"' in html
        assert "Siêu thị Xanh" in html and "Mật ong bạc hà Mèo Vạc" in html and "HTX Chè Hảo Đạt" in html
        async with client.get("/dashboard/requests?status=pending") as page:
            html = await page.text()
        assert "1 yêu cầu" in html and 'data-request="2"' in html and 'data-request="1"' not in html
    async with site.services.db.session() as session:
        first = await request_page(session, None, 1, size=1)
        last = await request_page(session, None, 7, size=1)  # past the end: the last page
        none = await request_page(session, "made-up", 1, size=1)
    assert (first.page, first.pages, [r.request.id for r in first.rows]) == (1, 2, [2])
    assert (last.page, [r.request.id for r in last.rows]) == (2, [1])
    assert (none.total, none.pages, none.rows) == (0, 1, [])


async def test_catalogue_search_stars_and_hiding(site: Site) -> None:
    async with site.client() as client:
        csrf = await site.logged_in(client)
        async with client.get("/dashboard/catalogue") as page:
            html = await page.text()
        assert "Gõ tên sản phẩm" in html and "Không có sản phẩm nào bị ẩn" in html
        async with client.get("/dashboard/catalogue", params={"q": "che tan cuong"}) as page:
            html = await page.text()
        chat = await site.services.search.search("che tan cuong", limit=25)
        assert [int(n) for n in re.findall(r'data-product="(\d+)"', html)] == [h.document.id for h in chat.hits]
        assert 'data-product="2"' in html and "Chè búp Tân Cương" in html
        async with client.get("/dashboard/catalogue", params={"stars": "5", "group": "1"}) as page:
            html = await page.text()
        assert "2 sản phẩm" in html and 'data-product="2"' in html and 'data-product="4"' in html
        async with client.get("/dashboard/catalogue", params={"stars": "9", "group": "x", "page": "-1"}) as page:
            assert page.status == 200 and "Gõ tên sản phẩm" in await page.text()  # odd filters are ignored

        async with client.post("/dashboard/products/2/stars", data={"csrf": csrf, "stars": "7"}) as bad:
            assert bad.status == 422 and "3, 4 hoặc 5" in await bad.text()
        async with client.post("/dashboard/products/2/stars", data={"csrf": csrf, "stars": "4"}) as saved:
            html = await saved.text()
            assert "Đã lưu hạng sao" in html and '<dd id="stars">4★' in html and "đổi hạng sao (5 -&gt; 4)" in html
        async with client.post("/dashboard/products/2/hidden", data={"csrf": csrf, "hidden": "1"}) as hidden:
            assert "đã được ẩn khỏi tìm kiếm" in await hidden.text()
        async with client.get("/dashboard/catalogue", params={"q": "che tan cuong"}):
            await site.services.search.wait_rebuilt()  # the index catches up in the background, as for the chat
        async with client.get("/dashboard/catalogue", params={"q": "che tan cuong"}) as page:
            html = await page.text()
        assert 'data-product="2"' not in html and 'data-hidden="2"' in html
        async with client.post("/dashboard/products/2/hidden", data={"csrf": csrf, "hidden": "0"}) as shown:
            assert "đã hiển thị lại" in await shown.text()
        for path in ("/dashboard/products/99", "/dashboard/products/0"):
            async with client.get(path) as missing:
                assert missing.status == 404 and "Không có sản phẩm này" in await missing.text()
        async with client.post("/dashboard/products/2/hidden", data={"csrf": csrf, "hidden": "maybe"}) as odd:
            assert odd.status == 422
    async with site.services.db.session() as session:
        entries = (await session.exec(select(AuditLog).where(AuditLog.subject == "product:2"))).all()
    assert [e.action for e in entries] == ["product.stars", "product.hide", "product.show"]


async def test_events_registrants_memos_and_exports(site: Site) -> None:
    async with site.client() as client:
        csrf = await site.logged_in(client)
        async with client.get("/dashboard/events") as page:
            assert "Chưa có sự kiện nào" in await page.text()
        async with site.services.db.transaction() as session:
            users = {u.display_name: u for u in (await session.exec(select(User))).all()}
            event = await create_event(session, users["Office"], {
                "name": "Hội chợ OCOP Thái Nguyên", "theme": "", "venue": "Thái Nguyên", "starts_on": "2026-11-27",
                "ends_on": "2026-11-28", "register_by": "2026-11-27"}, site.services.clock.now())
            await register(session, users["Lan"], event.id or 0, EventRole.BUYER, site.services.clock.now())
            await register(session, users["Hao"], event.id or 0, EventRole.PRODUCER, site.services.clock.now())
        await site.office.says(f"/event memo 1 {event.id}")
        async with client.get("/dashboard/events") as page:
            html = await page.text()
        assert "Hội chợ OCOP Thái Nguyên" in html and "đang diễn ra" in html
        assert "1 người mua và 1 nhà sản xuất đăng ký · 1 biên bản" in html
        async with client.get(f"/dashboard/events/{event.id}") as page:
            html = await page.text()
        assert 'http-equiv="refresh" content="30"' in html  # live on the event day
        assert html.count("data-registrant") == 2 and "Siêu thị Xanh" in html and "HTX Chè Hảo Đạt" in html
        assert 'data-memo="1"' in html and figure(html, "event.memos") == "1"
        for path in ("/dashboard/events/99", "/dashboard/events/0"):
            async with client.get(path) as missing:
                assert missing.status == 404 and "Không có sự kiện này" in await missing.text()

        async with client.post("/dashboard/exports", data={"csrf": csrf, "kind": "memos", "format": "csv"}) as file:
            assert file.status == 200 and file.headers["Content-Type"].startswith("text/csv")
            assert "attachment" in file.headers["Content-Disposition"]
            text = (await file.read()).decode("utf-8-sig")
        header = text.splitlines()[0].lstrip("\ufeff")
        assert header.startswith("Mã,Số biên bản,Loại biên bản,Trạng thái")  # in the reader's language
        assert "Hội chợ OCOP Thái Nguyên" in text
        async with client.post("/dashboard/exports", data={"csrf": csrf, "kind": "users", "format": "csv"}) as bad:
            assert bad.status == 422
        async with client.post("/dashboard/exports", data={"kind": "memos", "format": "csv"}) as forged:
            assert forged.status == 403
    async with site.services.db.session() as session:
        exports = (await session.exec(select(AuditLog).where(AuditLog.action == "export"))).all()
    assert [(e.subject, e.detail) for e in exports] == [("memos", "csv, 1 rows")]


NEW_LIST = """Tên sản phẩm,Chủ thể,Loại hình chủ thể,Địa chỉ,Tỉnh,Nhóm sản phẩm,Số sao,Tiềm năng 5 sao,Số quyết định,Ngày quyết định,Điện thoại,Email,Mùa vụ
Trà hoa vàng Ba Chẽ,HTX Trà Ba Chẽ,Hợp tác xã,"xã Thanh Sơn, huyện Ba Chẽ, tỉnh Quảng Ninh",Quảng Ninh,Đồ uống,4,,12/QĐ-UBND,01/03/2024,,,
Bánh lạ,Cơ sở Lạ,Hộ kinh doanh,"Atlantis",Atlantis,Thực phẩm,4,,1/QĐ,01/03/2024,,,
"""


def upload_form(csrf: str, data: bytes, name: str = "danh-sach.csv") -> aiohttp.FormData:
    form = aiohttp.FormData()
    form.add_field("csrf", csrf)
    form.add_field("file", data, filename=name, content_type="text/csv")
    return form


async def product_names(site: Site) -> list[str]:
    async with site.services.db.session() as session:
        return list((await session.exec(select(Product.name))).all())


async def test_import_shows_the_row_report_before_anything_changes(site: Site) -> None:
    async with site.client() as client:
        csrf = await site.logged_in(client)
        async with client.post("/dashboard/import", data=upload_form(csrf, NEW_LIST.encode())) as checked:
            html = unescape(await checked.text())
        assert checked.status == 200
        assert "2 dòng dữ liệu — 1 sản phẩm mới, 0 cập nhật, 0 không đổi; 1 chủ thể mới; 1 dòng lỗi" in html
        assert "Dòng 3: không rõ tỉnh/thành phố «Atlantis»" in html and 'id="apply"' in html
        assert "Trà hoa vàng Ba Chẽ" not in await product_names(site)  # checked, not imported
        file_id = re.search(r'name="file" value="(\d+)"', html).group(1)  # type: ignore[union-attr]

        async with client.post("/dashboard/import/apply", data={"file": file_id}) as forged:
            assert forged.status == 403
        async with client.post("/dashboard/import/apply", data={"csrf": csrf, "file": file_id}) as applied:
            assert "Đang nhập «danh-sach.csv»" in unescape(await applied.text())
        async with client.post("/dashboard/import/apply", data={"csrf": csrf, "file": file_id}) as again:
            assert again.status == 409 and "không có gì thay đổi" in await again.text()  # queued once
        assert await run_next(site.services, "test-worker")
        assert not await run_next(site.services, "test-worker")
        assert "Trà hoa vàng Ba Chẽ" in await product_names(site)
        report = (await site.office.receive())[-1].text
        assert "1 sản phẩm mới" in report and "Atlantis" in report  # the real import's report, in the chat

        async with client.post("/dashboard/import", data=upload_form(csrf, b"\x00\x01garbage", "x.xlsx")) as bad:
            assert bad.status == 422 and "chưa có gì thay đổi" in await bad.text()
        async with client.post("/dashboard/import", data=upload_form(csrf, b"")) as empty:
            assert empty.status == 422
        async with client.post("/dashboard/import", data=upload_form("forged", NEW_LIST.encode())) as forged:
            assert forged.status == 403
        async with client.post("/dashboard/import/apply", data={"csrf": csrf, "file": "1"}) as other:
            assert other.status == 409  # not a previewed list (the file kept for an earlier import job, or none)


async def test_odd_input_is_answered_never_with_a_500(site: Site) -> None:
    odd = ["?page=%00", "?page=99999999999999999999999", "?page=-3&status=%3Cscript%3E", "?q=%27%20OR%201%3D1--",
           "?q=" + "%E1%BA%A1" * 300, "?stars=%C2%B2&group=%EF%BC%91&potential=2", "?signed=1&stopped=%FF"]
    async with site.client() as client:
        csrf = await site.logged_in(client)
        for method, path in dashboard_routes(site):
            if path == "/dashboard/logout":
                continue
            for query in odd:
                data = {"csrf": csrf, "stars": "²", "hidden": "%", "kind": "\x00", "file": "1" * 30, "lang": "xx"}
                async with client.request(method, path + query, data=data, allow_redirects=False) as response:
                    assert response.status < 500, (method, path, query)
                    if response.status == 200 and response.content_type == "text/html":
                        assert "<script>" not in await response.text()
        async with client.get("/dashboard/memos/99999999999999999999") as huge:
            assert huge.status == 404


async def test_the_cookie_is_secure_behind_https(site: Site) -> None:
    services = dataclasses.replace(site.services, web_url="https://ocop.example.vn")
    runner, port = await start_site(make_app(services), "127.0.0.1", 0)
    try:
        token = (await site.login_link()).split("token=")[1]
        async with aiohttp.ClientSession(f"http://127.0.0.1:{port}") as client, client.post(
                "/dashboard/login", data={"token": token}, allow_redirects=False) as answer:
            assert answer.status == 303
            cookie = answer.headers["Set-Cookie"]
        assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    finally:
        await runner.cleanup()


async def test_event_page_shows_the_meeting_grid_per_table(site: Site) -> None:
    clock = clock_of(site)
    async with site.client() as client:
        await site.logged_in(client)
        async with site.services.db.transaction() as session:
            users = {u.display_name: u for u in (await session.exec(select(User))).all()}
            event = await create_event(session, users["Office"], {
                "name": "Kết nối cung cầu", "theme": "", "venue": "Hà Nội", "starts_on": "2026-11-27",
                "ends_on": "2026-11-27", "register_by": "2026-11-27"}, clock.now())
            event_id = event.id or 0
            await register(session, users["Lan"], event_id, EventRole.BUYER, clock.now())
            await register(session, users["Hao"], event_id, EventRole.PRODUCER, clock.now())
            day = event.starts_on
            await save_grid(session, users["Office"], event_id, GridValues(
                days=(day,), hours=((time(10), time(11)),), breaks=(), slot_minutes=30, tables=2), clock.now())
            slots = await slots_of(session, event_id)
            meeting = await book(session, users["Office"], Side.OFFICE, Booking(
                event_id, users["Lan"].id or 0, users["Hao"].producer_id or 0), slots[1].id or 0, MeetingPolicy(),
                clock.now())
        clock.advance(minutes=35)  # the 10:30 meeting has begun
        async with site.services.db.transaction() as session:
            await mark(session, users["Office"], meeting.id or 0, True, clock.now())
        async with client.get(f"/dashboard/events/{event_id}") as page:
            html = await page.text()
    assert "Lịch gặp 1-1 theo bàn" in html and "<th>Bàn 1</th><th>Bàn 2</th>" in html
    assert "<td class=\"when\">27/11 10:00–10:30</td><td class=\"muted\">·</td><td class=\"muted\">·</td>" in html
    assert f'<td data-meeting="{meeting.id}" data-label="Bàn 1">Siêu thị Xanh ⇄ HTX Chè Hảo Đạt' in html
    assert "đã gặp" in html
    assert figure(html, "event.meetings_held") == "1" and figure(html, "event.no_shows") == "0"
