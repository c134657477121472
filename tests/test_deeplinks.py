"""Deep links and QR codes: payloads signed and read back, every kind opened in a chat (registered or not), bad
links answered politely, attribution of scans at an event to requests, memos and /stats, QR images and the
printable booth sheet read back."""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime, time

import pytest
import zxingcpp
from docx import Document
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw
from sqlmodel import select

from handlers.app import Conversation
from handlers.deeplink import make_codes
from handlers.i18n import translator
from models.booth_sheet import booth_codes, exhibitors
from models.catalog import Producer, Product
from models.clock import FakeClock
from models.db import Database
from models.deeplinks import MAX_PAYLOAD, DeepLink, LinkBook, LinkKey, Target
from models.events import Event, EventRole, EventStatus, add_event, register, values_of
from models.meetings import GridValues, booth_numbers, save_grid
from models.people import User
from models.qr import qr_png, qr_svg
from models.requests import ContactRequest
from models.scans import LinkScan
from models.stats import programme_stats
from tests.chat import NO_BUTTONS, ChatUser, load_catalogue, make_services, register_buyer

SECRET = "deep-link-secret-for-tests-0123456789"
START = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)
EVENT = {"name": "Kết nối giao thương OCOP Hà Nội", "theme": "", "venue": "Cung Văn hoá Hữu nghị",
         "starts_on": "2026-11-27", "ends_on": "2026-11-29", "register_by": "2026-11-28"}


def book() -> LinkBook:
    return LinkBook(LinkKey(SECRET), telegram_username="ocop_test_bot", zalo_oa_url="https://zalo.me/1234567890")


KEY = LinkKey(SECRET)
EVERY_KIND = [
    DeepLink(Target.PRODUCT, 12),
    DeepLink(Target.PRODUCT, 2**31 - 1, 2**31 - 1, "ABCD1234"),
    DeepLink(Target.PRODUCER, 5, 3),
    DeepLink(Target.EVENT, 3),
    DeepLink(Target.CLAIM, 7),
    DeepLink(Target.LINK),
]


# -- the payload -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("link", EVERY_KIND, ids=lambda link: link.body)
def test_every_kind_reads_back_within_telegrams_limits(link: DeepLink) -> None:
    payload = KEY.payload(link)
    assert len(payload) <= MAX_PAYLOAD and re.fullmatch(r"[A-Za-z0-9_\-]+", payload)
    assert KEY.read(payload) == link
    assert KEY.typed(payload.upper()) == link  # typed from a poster, caps lock and all
    assert KEY.typed(f"/start {payload}") == link and KEY.typed(f"# {payload}") == link


def test_tampered_cut_unknown_or_foreign_payloads_read_as_nothing() -> None:
    payload = KEY.payload(DeepLink(Target.PRODUCT, 12, 3, "a12"))
    body, signature = payload.rsplit("_", 1)
    forged = [
        payload.replace("p12", "p13"),  # another product, same signature
        payload.replace("-e3", "-e4"),  # another event
        payload.replace("-ba12", "-ba13"),
        f"{body}_{'a' * 6}" if signature != "a" * 6 else f"{body}_bbbbbb",
        payload[:-1],
        body,
        "",
        "p012_" + signature,
        "x12_" + signature,
        "p_" + signature,
        "l" * 65,
        "p12-b1_" + signature,  # a booth without its event
        "e3-e4_" + signature,
        "p99999999999_abcdef",  # beyond any id
        "p12\x00_" + signature,
        "p12_" + signature + "\n/start",
    ]
    for text in forged:
        assert KEY.read(text) is None, text
    assert LinkKey("another-secret-0123456789-abcdefghijkl").read(payload) is None
    assert KEY.typed("mật ong p12") is None and KEY.typed("chè thái nguyên") is None


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=90) | st.from_regex(r"[pmecl][0-9]{0,11}(-e[0-9]{1,11}(-b[a-z0-9]{1,9})?)?_[a-z2-7]{6}"))
def test_any_text_reads_as_nothing_or_as_a_link_we_signed(text: str) -> None:
    for link in (KEY.read(text), KEY.typed(text)):
        assert link is None or KEY.read(KEY.payload(link)) == link


@settings(max_examples=100, deadline=None)
@given(st.sampled_from([Target.PRODUCT, Target.PRODUCER]), st.integers(1, 2**31 - 1),
       st.none() | st.integers(1, 2**31 - 1), st.from_regex(r"[A-Za-z0-9]{1,8}", fullmatch=True))
def test_every_signed_booth_code_reads_back(target: Target, item: int, event: int | None, booth: str) -> None:
    link = DeepLink(target, item, event, booth if event else "")
    payload = KEY.payload(link)
    assert len(payload) <= MAX_PAYLOAD and KEY.read(payload) == link and KEY.typed(payload.upper()) == link


def test_links_per_channel_carry_the_payload_only_where_the_platform_can() -> None:
    links = book()
    link = DeepLink(Target.PRODUCT, 12)
    urls = links.urls(link)
    assert urls["telegram"] == f"https://t.me/ocop_test_bot?start={links.payload(link)}"
    assert urls["zalo_oa"] == "https://zalo.me/1234567890"  # Zalo: the chat opens, the code is sent in it
    assert links.primary(link) == urls["telegram"]
    assert LinkBook(LinkKey(SECRET), zalo_oa_url="https://zalo.me/1").primary(link) == "https://zalo.me/1"
    assert not LinkBook().ready


# -- QR codes -----------------------------------------------------------------------------------------------------


def decoded(png: bytes) -> list[str]:
    return [found.text for found in zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))]


def rasterised(svg: bytes) -> bytes:
    """segno's SVG drawn as a PNG: its one path is horizontal runs of modules (M/m moves, h lengths)."""
    root = ET.fromstring(svg)
    path = next(element for element in root.iter() if element.tag.endswith("path"))
    width, height = (int(float(root.get(side, "0"))) for side in ("width", "height"))
    scale = float(re.search(r"scale\(([0-9.]+)\)", path.get("transform", "scale(1)")).group(1))  # type: ignore[union-attr]
    image = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(image)
    x = y = 0.0
    for command, a, b in re.findall(r"([MmHh])\s*(-?[0-9.]+)(?:[ ,](-?[0-9.]+))?", path.get("d", "")):
        if command in "Mm":
            x, y = (float(a), float(b)) if command == "M" else (x + float(a), y + float(b))
        else:
            end = x + float(a) if command == "h" else float(a)
            draw.rectangle([x * scale, (y - 0.5) * scale, end * scale - 1, (y + 0.5) * scale - 1], fill=0)
            x = end
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def test_qr_png_and_svg_decode_to_the_same_link() -> None:
    links = book()
    for link in EVERY_KIND:
        url = links.primary(link)
        assert decoded(qr_png(url)) == [url]
        svg = qr_svg(url, title="Mật ong bạc hà")
        assert b"<title>" in svg and "Mật ong bạc hà".encode() in svg
        assert decoded(rasterised(svg)) == [url]


# -- in a chat ----------------------------------------------------------------------------------------------------


@pytest.fixture
async def clock() -> FakeClock:
    return FakeClock(START)


async def chat_with(db: Database, clock: FakeClock) -> Conversation:
    await load_catalogue(db)
    services = make_services(db, clock)
    services.links = book()
    conversation = Conversation(services)
    await ChatUser(conversation, "office").says("/help")
    return conversation


@pytest.fixture
async def conversation(sqlite_db: Database, clock: FakeClock) -> Conversation:
    """On SQLite; the journey that counts scans, requests and memos runs on both databases."""
    return await chat_with(sqlite_db, clock)


@pytest.fixture
async def both(empty_db: Database, clock: FakeClock) -> tuple[Database, Conversation]:
    await empty_db.upgrade()
    return empty_db, await chat_with(empty_db, clock)


async def ids(db: Database) -> dict[str, int]:
    async with db.transaction() as session:
        honey = (await session.exec(select(Product).where(Product.name == "Mật ong bạc hà Mèo Vạc"))).one()
        tea = (await session.exec(select(Producer).where(Producer.name == "HTX Chè Hảo Đạt"))).one()
        office = (await session.exec(select(User).where(User.display_name == "Office"))).one()
        from models.events import create_event

        event = await create_event(session, office, EVENT, START)
        return {"honey": honey.id or 0, "honey_maker": honey.producer_id, "tea_maker": tea.id or 0,
                "event": event.id or 0}


async def test_a_scan_at_a_booth_lands_on_the_card_and_registration_comes_back_to_it(
    both: tuple[Database, Conversation]
) -> None:
    db, conversation = both
    known = await ids(db)
    links = conversation.services.links
    payload = links.payload(DeepLink(Target.PRODUCT, known["honey"], known["event"], "A12"))
    guest = ChatUser(conversation, "guest", language="en")  # Telegram said English: the card comes in English
    await guest.says(f"/start {payload}")
    assert "Mật ong bạc hà Mèo Vạc" in guest.last and "Producer: HTX Mật ong Mèo Vạc" in guest.last
    assert guest.buttons() == ["📨 Contact the producer", "🔗 Share"]
    await guest.presses("Contact the producer")  # not registered yet: registration first
    await guest.presses("Register")
    await guest.presses("buyer")
    await guest.says("Bếp Việt")
    await guest.presses("HoReCa")
    await guest.presses("Skip")
    await guest.presses("Done")
    await guest.presses("Later")  # the memo details: later
    assert guest.saw("Here is what you were looking at") and "Mật ong bạc hà Mèo Vạc" in guest.last
    await guest.presses("Contact the producer")
    await guest.says("Need honey for 3 restaurants")
    await guest.presses("Skip")
    await guest.presses("Skip")
    await guest.presses("Send")

    async with db.session() as session:
        request = (await session.exec(select(ContactRequest))).one()
        scan = await session.get(LinkScan, request.scan_id)
        assert scan is not None and (scan.event_id, scan.booth, scan.registered) == (known["event"], "a12", False)
        stats = await programme_stats(session)
    [floor] = stats.floor
    assert (floor.name, floor.scans, floor.people, floor.requests, floor.memos) == (EVENT["name"], 1, 1, 1, 1)
    assert floor.booths == {"A12": 1} and stats.floor_memos == 1
    assert stats.memos_by_event == [(EVENT["name"], 1)]  # the memo is tied to the event whose booth was scanned

    office = ChatUser(conversation, "office")
    await office.says("/stats")
    assert "Từ gian hàng tại sự kiện (mã QR): 1 biên bản" in office.last
    assert f"{EVENT['name']}: 1 lượt quét (1 người), 1 yêu cầu, 1 biên bản — gian hàng: A12 1" in office.last


async def test_every_kind_opens_where_it_leads(
    sqlite_db: Database, conversation: Conversation
) -> None:
    db = sqlite_db
    known = await ids(db)
    links = conversation.services.links
    lan = ChatUser(conversation, "lan")
    await register_buyer(lan)

    await lan.says("/start " + links.payload(DeepLink(Target.PRODUCER, known["tea_maker"], known["event"])))
    assert "Sản phẩm của HTX Chè Hảo Đạt" in lan.last and "Chè búp Tân Cương" in lan.last
    await lan.presses("Chè búp Tân Cương")
    assert "★★★★★" in lan.last

    await lan.says("/start " + links.payload(DeepLink(Target.EVENT, known["event"])))
    assert EVENT["name"] in lan.last and "Đăng ký" in " ".join(lan.buttons())

    maker = ChatUser(conversation, "maker")
    await maker.says("/start " + links.payload(DeepLink(Target.CLAIM, known["honey_maker"])))
    assert "Nhập mã" in maker.last and "HTX Mật ong Mèo Vạc" in maker.last

    await lan.says("/start " + links.payload(DeepLink(Target.LINK)))
    assert "CODE" in lan.last  # /link's one-time code to type on the other channel

    shared = ChatUser(conversation, "colleague", channel="zalo_bot", capabilities=NO_BUTTONS)
    await lan.says("/start " + links.payload(DeepLink(Target.PRODUCT, known["honey"])))
    await lan.presses("Chia sẻ")
    text = lan.last
    assert "Mật ong bạc hà Mèo Vạc ★★★★ — HTX Mật ong Mèo Vạc" in text
    telegram = re.search(r"https://t\.me/ocop_test_bot\?start=(\S+)", text)
    zalo = re.search(r"mở https://zalo\.me/1234567890 rồi gửi mã (\S+)", text)
    assert telegram and zalo and telegram.group(1) == zalo.group(1)
    await shared.says(zalo.group(1))  # on Zalo the code is the first message
    assert "Mật ong bạc hà Mèo Vạc" in shared.last and "Chia sẻ" in shared.last

    async with db.session() as session:
        scans = (await session.exec(select(LinkScan).order_by(LinkScan.id))).all()
    assert [(s.target, s.event_id) for s in scans] == [
        ("m", known["event"]), ("e", None), ("c", None), ("l", None), ("p", None), ("p", None)]


async def test_bad_links_open_the_start_screen_with_a_polite_note(
    sqlite_db: Database, conversation: Conversation, clock: FakeClock
) -> None:
    db = sqlite_db
    known = await ids(db)
    links = conversation.services.links
    guest = ChatUser(conversation, "guest")
    good = links.payload(DeepLink(Target.PRODUCT, known["honey"]))
    for bad in (good[:-1] + ("a" if good[-1] != "a" else "b"), "p1", "x" * 300, "p1_ABC\x00DEF", "../../etc"):
        replies = await guest.says(f"/start {bad}")
        assert "không đọc được" in replies[0].text and "vai trò nào" in replies[-1].text
    await guest.taps("sh:0")  # a tampered Share button
    assert "Lỗi" not in guest.last and "error" not in guest.last.lower()

    async with db.transaction() as session:
        honey = await session.get(Product, known["honey"])
        assert honey is not None
        honey.hidden = True
        session.add(honey)
        event = await session.get(Event, known["event"])
        assert event is not None
        event.status = EventStatus.CANCELLED.value
        session.add(event)
    replies = await guest.says(f"/start {good}")
    assert "không còn trong danh mục" in replies[0].text and "vai trò nào" in replies[-1].text
    await guest.says("/start " + links.payload(DeepLink(Target.EVENT, known["event"])))
    assert guest.saw("đã kết thúc hoặc đã huỷ")

    lan = ChatUser(conversation, "lan")
    await register_buyer(lan)
    await lan.says("/start " + links.payload(DeepLink(Target.PRODUCER, known["tea_maker"], known["event"], "b7")))
    assert "Chè búp Tân Cương" in lan.last  # the card still opens; a cancelled event is not counted
    async with db.session() as session:
        last = (await session.exec(select(LinkScan).order_by(LinkScan.id.desc()))).first()  # type: ignore[union-attr]
    assert last is not None and (last.event_id, last.booth) == (None, "")

    conversation.services.links = LinkBook()  # no key configured: nothing reads, nothing crashes, no Share
    await lan.says(f"/start {good}")
    assert lan.saw("không đọc được")


# -- the booth sheet, /qr and the CLI -------------------------------------------------------------------------------


async def test_the_booth_sheet_reads_back_with_a_code_per_product(
    sqlite_db: Database, conversation: Conversation
) -> None:
    db = sqlite_db
    known = await ids(db)
    links = conversation.services.links
    async with db.transaction() as session:
        maker = User(display_name="Maker", role="producer", producer_id=known["tea_maker"])
        session.add(maker)
        await session.flush()
        await register(session, maker, known["event"], EventRole.PRODUCER, START)
    async with db.session() as session:
        chosen = await exhibitors(session, known["event"], (known["honey_maker"],))
        assert [p.name for p in chosen] == ["HTX Chè Hảo Đạt", "HTX Mật ong Mèo Vạc"]
        codes = await make_codes(session, links, translator("vi"), Target.EVENT, known["event"],
                                 booths={known["tea_maker"]: "B07"}, producers=(known["honey_maker"],))
        event = await session.get(Event, known["event"])
        assert event is not None
        labels = await booth_codes(session, event, links, chosen, {known["tea_maker"]: "B07"})
    assert codes.labels == 2 and codes.files[0].filename.endswith(".docx")

    document = Document(io.BytesIO(codes.files[0].data))
    assert EVENT["name"] in document.paragraphs[0].text
    section = document.sections[0]
    assert (round(section.page_width.cm, 1), round(section.page_height.cm, 1)) == (21.0, 29.7)
    cells = [cell for row in document.tables[0].rows for cell in row.cells][: codes.labels]
    texts = [cell.text for cell in cells]
    assert "Chè búp Tân Cương" in texts[0] and "HTX Chè Hảo Đạt" in texts[0] and "★★★★★" in texts[0]
    assert "Gian hàng B07" in texts[0] and "Gian hàng" not in texts[1]  # the booth only where there is one
    blobs = [part.blob for rel_id, part in ((r, document.part.related_parts[r]) for r in document.part.rels)
             if "image" in part.content_type]
    assert len(blobs) == 2
    read = [decoded(blob)[0] for blob in blobs]
    assert sorted(read) == sorted(label.url for label in labels)
    for label in labels:
        link = links.read(label.code)
        assert link is not None and link.event == known["event"] and f"Zalo: gửi {label.code}" in " ".join(texts)
    assert links.read(labels[0].code).booth == "b07"  # type: ignore[union-attr]


async def test_the_sheet_takes_the_booths_of_the_event_s_meeting_grid(
    sqlite_db: Database, conversation: Conversation
) -> None:
    """An event whose meeting grid gives each producer a booth prints each label with its booth, unasked."""
    known = await ids(sqlite_db)
    async with sqlite_db.transaction() as session:
        office = (await session.exec(select(User).where(User.display_name == "Office"))).one()
        for name, producer in (("Tea", known["tea_maker"]), ("Honey", known["honey_maker"])):
            maker = User(display_name=name, role="producer", producer_id=producer)
            session.add(maker)
            await session.flush()
            await register(session, maker, known["event"], EventRole.PRODUCER, START)
        await save_grid(session, office, known["event"], GridValues(
            days=(date(2026, 11, 28),), hours=((time(8), time(10)),), breaks=(), slot_minutes=20, tables=0,
            booths=True), START)
    async with sqlite_db.session() as session:
        numbers = await booth_numbers(session, known["event"])
        codes = await make_codes(session, conversation.services.links, translator("vi"), Target.EVENT,
                                 known["event"])
    assert sorted(numbers.values()) == ["1", "2"]
    texts = [cell.text for row in Document(io.BytesIO(codes.files[0].data)).tables[0].rows for cell in row.cells]
    tea_label = next(text for text in texts if "Chè búp Tân Cương" in text)
    assert f"Gian hàng {numbers[known['tea_maker']]}" in tea_label
    honey_label = next(text for text in texts if "Mật ong bạc hà Mèo Vạc" in text)
    assert f"Gian hàng {numbers[known['honey_maker']]}" in honey_label


async def test_qr_command_is_for_admins_and_gives_png_svg_or_the_sheet(
    sqlite_db: Database, conversation: Conversation
) -> None:
    db = sqlite_db
    known = await ids(db)
    office = ChatUser(conversation, "office")
    await office.says(f"/qr product {known['honey']}")
    png = office.seen[-2].photo
    assert decoded(png.data) == [re.search(r"Liên kết: (\S+)", office.seen[-2].text).group(1)]  # type: ignore[union-attr]
    assert office.seen[-1].document.filename.endswith(".svg")  # type: ignore[union-attr]
    await office.says(f"/qr event {known['event']}")
    assert "Chưa có cơ sở sản xuất nào" in office.last  # nobody registered a booth yet
    await office.says("/qr product 999999")
    assert "Không tìm thấy" in office.last
    await office.says("/qr nonsense")
    assert "Cách dùng: /qr" in office.last
    lan = ChatUser(conversation, "lan")
    await lan.says(f"/qr product {known['honey']}")
    assert "quản trị" in lan.last.lower() or "không có quyền" in lan.last.lower()


def test_cli_writes_png_svg_and_the_sheet(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    from bot.cli import main

    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.sqlite3'}"
    monkeypatch.setenv("OCOP_BOT__DATABASE__URL", url)
    monkeypatch.setenv("OCOP_BOT__LINKS__SECRET", SECRET)
    monkeypatch.setenv("OCOP_BOT__LINKS__TELEGRAM_USERNAME", "@ocop_test_bot")

    async def prepare() -> None:
        db = Database(url)
        await db.upgrade()
        await load_catalogue(db)
        async with db.transaction() as session:
            await add_event(session, values_of(EVENT, START.date()), None, START)
        await db.dispose()

    asyncio.run(prepare())
    out = tmp_path / "codes"
    assert main(["qr", "product", "1", "--event", "1", "--booth", "A12", "--output", str(out)]) == 0
    png, svg = out / "ocop-product-1-e1-a12.png", out / "ocop-product-1-e1-a12.svg"
    [url_read] = decoded(png.read_bytes())
    assert decoded(rasterised(svg.read_bytes())) == [url_read]
    link = LinkKey(SECRET).read(url_read.split("start=")[1])
    assert link == DeepLink(Target.PRODUCT, 1, 1, "a12")
    (tmp_path / "booths.csv").write_text("producer_id,booth\n2,C3\n", encoding="utf-8")
    assert main(["qr", "event", "1", "--producer", "2", "--booths", str(tmp_path / "booths.csv"),
                 "--output", str(out)]) == 0
    sheet = Document(str(out / "ocop-booths-event-1.docx"))
    assert "Gian hàng C3" in sheet.tables[0].rows[0].cells[0].text
    assert main(["qr", "event", "1", "--output", str(out)]) == 1  # nobody exhibits
    assert main(["qr", "product", "1", "--booth", "A1"]) == 2  # a booth needs its event
    assert main(["qr", "product", "x"]) == 2
