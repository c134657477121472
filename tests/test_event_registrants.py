"""Who registered for an event: listed in the office's view of it and exported as a spreadsheet people open in
Excel; /events in everyone's /help."""

from __future__ import annotations

import io
from datetime import UTC, datetime

from openpyxl import load_workbook
from sqlmodel import select

from handlers.app import Conversation
from handlers.messages import Attachment
from models.audit import AuditLog
from models.clock import FakeClock
from models.db import Database
from models.events import create_event
from models.people import User
from tests.chat import NO_BUTTONS, ChatUser, claim_producer, load_catalogue, make_services, register_buyer

START = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)
EVENT = {"name": "Hội chợ OCOP Tết", "theme": "Đồng bằng sông Hồng", "venue": "Hoàng Thành Thăng Long",
         "starts_on": "2026-12-10", "ends_on": "2026-12-11", "register_by": "2026-12-09"}


async def people(db: Database) -> tuple[ChatUser, ChatUser, ChatUser, ChatUser]:
    """(office, lan: a buyer, hao: a producer, mai: a guest), the event created and all three registered."""
    await load_catalogue(db)
    conversation = Conversation(make_services(db, FakeClock(START)))
    office, lan, hao, mai = (ChatUser(conversation, name) for name in ("office", "lan", "hao", "mai"))
    await office.says("/help")
    await register_buyer(lan)
    await claim_producer(office, hao, "HTX Chè Hảo Đạt")
    async with db.transaction() as session:
        admin = (await session.exec(select(User).where(User.display_name == "Office"))).one()
        await create_event(session, admin, EVENT, START)
    for person, role in ((lan, "người mua"), (hao, "nhà sản xuất"), (mai, "người mua")):
        await person.says("/events")
        await person.presses("Hội chợ OCOP Tết")
        await person.presses(f"Đăng ký ({role})")
    return office, lan, hao, mai


def sheet_of(document: object) -> tuple[list[tuple[object, ...]], object]:
    assert isinstance(document, Attachment) and document.filename.endswith(".xlsx")
    sheet = load_workbook(io.BytesIO(document.data)).active
    assert sheet is not None
    return [tuple(cell.value for cell in row) for row in sheet.iter_rows()], sheet


async def test_the_office_sees_who_registered_and_exports_the_list(db: Database) -> None:
    office, lan, _hao, _mai = await people(db)
    await office.says("/events")
    await office.presses("Hội chợ OCOP Tết")
    assert ("👥 Người đăng ký (3):\n1. Lan — Siêu thị Xanh — người mua\n2. Hao — HTX Chè Hảo Đạt — nhà sản xuất\n"
            "3. Mai — — — người mua") in office.last
    await lan.says("/events")
    await lan.presses("Hội chợ OCOP Tết")
    assert "Người đăng ký" not in lan.last and "Xuất danh sách" not in " ".join(lan.buttons())

    await office.presses("Xuất danh sách đăng ký")
    assert office.last == "Danh sách đăng ký: 3 người."
    rows, sheet = sheet_of(office.seen[-1].document)
    assert rows == [
        ("Họ tên", "Doanh nghiệp / chủ thể", "Tham gia với tư cách", "Điện thoại", "Ngày đăng ký"),
        ("Lan", "Siêu thị Xanh", "người mua", "0912 345 678", datetime(2026, 11, 27)),
        ("Hao", "HTX Chè Hảo Đạt", "nhà sản xuất", None, datetime(2026, 11, 27)),
        ("Mai", None, "người mua", None, datetime(2026, 11, 27)),
    ]
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref == "A1:E4"  # type: ignore[attr-defined]
    assert sheet["E2"].number_format.upper() == "DD/MM/YYYY"  # type: ignore[index]
    assert sheet.column_dimensions["B"].width >= len("Doanh nghiệp / chủ thể")  # type: ignore[attr-defined]
    assert sheet.title == "Hội chợ OCOP Tết"  # type: ignore[attr-defined]
    async with db.session() as session:
        audit = (await session.exec(select(AuditLog).where(AuditLog.action == "export"))).one()
    assert audit.subject == "registrants of event #1" and audit.detail == "xlsx, 3 rows"

    await office.says("/lang")
    await office.presses("English")
    await office.says("/event export 1")
    rows, _sheet = sheet_of(office.seen[-1].document)
    assert rows[0] == ("Name", "Company / producer", "Taking part as", "Phone", "Registered on")
    assert rows[2][2] == "producer" and rows[1][4] == datetime(2026, 11, 27)


async def test_the_list_is_the_office_s_only(db: Database) -> None:
    office, lan, hao, _mai = await people(db)
    for intruder in (lan, hao):
        await intruder.taps("el:1")
        assert "không có quyền" in intruder.last and intruder.seen[-1].document is None
        await intruder.says("/event export 1")
        assert "không có quyền" in intruder.last
    await office.taps("el:99")
    assert "không còn nữa" in office.last and office.seen[-1].document is None
    await office.taps("el:abc")
    assert "không còn hiệu lực" in office.last
    office_by_zalo = ChatUser(office.conversation, "office", capabilities=NO_BUTTONS)
    await office_by_zalo.says("/event export 1")
    assert "chưa gửi được tệp" in office_by_zalo.last


async def test_an_event_nobody_registered_for(db: Database) -> None:
    await load_catalogue(db)
    office = ChatUser(Conversation(make_services(db, FakeClock(START))), "office")
    await office.says("/help")
    async with db.transaction() as session:
        admin = (await session.exec(select(User).where(User.display_name == "Office"))).one()
        await create_event(session, admin, EVENT, START)
    await office.taps("ev:1")
    assert "👥 Chưa có ai đăng ký." in office.last
    await office.presses("Xuất danh sách đăng ký")
    rows, _sheet = sheet_of(office.seen[-1].document)
    assert len(rows) == 1


async def test_events_in_every_role_s_help(db: Database) -> None:
    office, lan, hao, mai = await people(db)
    for person in (office, lan, hao):
        await person.says("/help")
        assert "/events" in person.last, person.name
    assert office.saw("/event export ID — danh sách người đăng ký một sự kiện (XLSX)")
    await lan.says("/lang")
    await lan.presses("English")
    await lan.says("/help")
    assert "/events — trade-connection events: view and register" in lan.last
    await mai.says("/help")
    assert "/events" in mai.last
