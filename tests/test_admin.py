"""Admins: from the config per channel, granted and revoked in the chat (audited); every admin command and button
refuses everyone else."""

from __future__ import annotations

from datetime import date

import pytest
from sqlmodel import select

from handlers.app import Conversation
from models.admin import AdminGrant
from models.audit import AuditLog
from models.catalog import Product
from models.db import Database
from models.events import Event
from models.people import User
from tests.chat import ChatUser, load_catalogue, make_services, register_buyer


@pytest.fixture
async def conversation(sqlite_db: Database) -> Conversation:
    await load_catalogue(sqlite_db)
    return Conversation(make_services(sqlite_db))


async def user_named(db: Database, name: str) -> User:
    async with db.session() as session:
        return (await session.exec(select(User).where(User.display_name == name))).one()


async def test_grant_and_revoke_in_the_chat(db: Database) -> None:
    await load_catalogue(db)
    conversation = Conversation(make_services(db))
    office, lan = ChatUser(conversation, "office"), ChatUser(conversation, "lan")
    await office.says("/help")
    await register_buyer(lan)
    await lan.says("/stats")
    assert "không có quyền" in lan.last

    await office.says("/admin grant lan")
    assert office.last == "Đã cấp quyền quản trị cho Lan (#2)."
    assert "được cấp quyền quản trị viên" in (await lan.receive())[-1].text
    await lan.says("/stats")
    assert lan.last.startswith("📊 Thống kê chương trình")
    await lan.says("/help")
    assert lan.saw("Công cụ của văn phòng điều phối")

    await office.says("/admin")
    assert "Office (#1) — console office — theo tệp cấu hình" in office.last
    assert "Lan (#2) — console lan — được cấp ngày 27/11/2026 bởi #1" in office.last

    await lan.says("/admin revoke office")  # a granted admin cannot remove one from the config
    assert "là quản trị viên theo tệp cấu hình" in lan.last
    await office.says("/admin grant #2")
    assert office.last == "Lan (#2) đã là quản trị viên."

    await office.says("/admin revoke Lan")
    assert office.last == "Đã thu hồi quyền quản trị của Lan (#2)."
    assert "đã được thu hồi" in (await lan.receive())[-1].text
    assert (await user_named(db, "Lan")).role == "buyer"  # back to what her profile makes her
    await lan.says("/stats")
    assert "không có quyền" in lan.last
    await office.says("/admin revoke lan")
    assert office.last == "Lan (#2) không phải quản trị viên."

    await office.says("/admin log")
    assert "admin.grant user:2 — Lan" in office.last and "admin.revoke user:2 — Lan" in office.last
    async with db.session() as session:
        actions = [entry.action for entry in (await session.exec(select(AuditLog).order_by(AuditLog.id))).all()]
        assert actions == ["admin.grant", "admin.revoke"]
        assert (await session.exec(select(AdminGrant))).all() == []


async def test_granted_admin_survives_a_restart(conversation: Conversation) -> None:
    office, mai = ChatUser(conversation, "office"), ChatUser(conversation, "mai")
    await mai.says("/help")
    await office.says("/admin grant mai")
    restarted = Conversation(make_services(conversation.services.db))
    mai.conversation = restarted
    await mai.says("/stats")
    assert mai.last.startswith("📊")


async def test_someone_removed_from_the_config_stops_being_admin(sqlite_db: Database) -> None:
    await load_catalogue(sqlite_db)
    services = make_services(sqlite_db)
    services.admin_ids = {"console": frozenset({"office", "hung"})}
    hung = ChatUser(Conversation(services), "hung")
    await hung.says("/stats")
    assert hung.last.startswith("📊")
    hung.conversation = Conversation(make_services(sqlite_db))  # the config no longer lists him
    await hung.says("/stats")
    assert "không có quyền" in hung.last
    assert (await user_named(sqlite_db, "Hung")).role == "none"


async def test_grant_by_id_on_the_channel_or_by_picking_a_name(conversation: Conversation) -> None:
    office = ChatUser(conversation, "office")
    for name in ("lan-anh", "lan-chi"):
        await ChatUser(conversation, name).says("/help")
    await office.says("/admin grant Lan")
    assert office.last == "Bạn muốn nói đến ai?"
    assert office.buttons() == ["Lan-Anh (#1)", "Lan-Chi (#2)"]
    await office.presses("Lan-Chi")
    assert office.last == "Đã cấp quyền quản trị cho Lan-Chi (#2)."
    await office.says("/admin grant console:lan-anh")
    assert office.last == "Đã cấp quyền quản trị cho Lan-Anh (#1)."
    await office.says("/admin grant nobody-here")
    assert "Không tìm thấy người dùng «nobody-here»" in office.last
    await office.says("/admin frobnicate")
    assert office.last.startswith("Cách dùng: /admin")


async def test_telegram_config_admin_by_platform_id(conversation: Conversation) -> None:
    office = ChatUser(conversation, "9000", channel="telegram")
    await office.says("/admin")
    assert "Quản trị viên:" in office.last and "telegram 9000" in office.last


ADMIN_COMMANDS = [
    "/admin", "/admin list", "/admin grant lan", "/admin revoke office", "/admin log", "/event", "/event list",
    "/event new", "/event edit 1", "/event cancel 1", "/event memo 1 1", "/stats", "/export", "/export memos",
    "/export requests csv", "/export products", "/stars 1 3", "/hide 1", "/unhide 1", "/claimcode HTX Chè Hảo Đạt",
]
ADMIN_BUTTONS = [
    "ag:1", "ar:1", "ef:1", "ef:1:name", "f:event:theme:0", "f:event:deadline:skip", "f:event:confirm:save", "ex:1",
    "ex:1:yes", "xp:memos:xlsx", "xp:products:csv", "ke:1", "f:stars:stars:3", "kh:1", "ku:1", "cc:1",
    "f:event_edit:name:x", "f:broadcast:preview:send", "bx:1", "bx:1:y",
]


async def assert_nothing_changed(db: Database) -> None:
    async with db.session() as session:
        product = await session.get(Product, 1)
        assert product is not None and product.stars == 4 and not product.hidden
        assert (await session.exec(select(AuditLog))).all() == []
        assert (await session.exec(select(AdminGrant))).all() == []
        assert len((await session.exec(select(Event))).all()) == 1
        roles = {user.display_name: user.role for user in (await session.exec(select(User))).all()}
        assert roles["Lan"] == "buyer"


@pytest.fixture
async def stranger(conversation: Conversation) -> ChatUser:
    """A registered buyer, with an event in the database that an admin could cancel."""
    office, lan = ChatUser(conversation, "office"), ChatUser(conversation, "lan")
    await office.says("/help")
    await register_buyer(lan)
    async with conversation.services.db.transaction() as session:
        session.add(Event(name="Hội chợ", venue="Hà Nội", starts_on=date(2027, 1, 5), ends_on=date(2027, 1, 6),
                          register_by=date(2027, 1, 4)))
    return lan


@pytest.mark.parametrize("command", ADMIN_COMMANDS)
async def test_admin_commands_refuse_non_admins(stranger: ChatUser, command: str) -> None:
    await stranger.says(command)
    assert stranger.last == "Xin lỗi, bạn không có quyền thực hiện thao tác này."
    await assert_nothing_changed(stranger.conversation.services.db)


@pytest.mark.parametrize("action", ADMIN_BUTTONS)
async def test_admin_buttons_refuse_non_admins(stranger: ChatUser, action: str) -> None:
    await stranger.taps(action)
    assert stranger.last == "Xin lỗi, bạn không có quyền thực hiện thao tác này."
    assert stranger.seen[-1].notice  # a toast on Telegram
    await assert_nothing_changed(stranger.conversation.services.db)


async def test_a_file_from_a_non_admin_is_not_imported(stranger: ChatUser) -> None:
    data = "Tên sản phẩm,Chủ thể,Tỉnh,Nhóm sản phẩm,Số sao\nTrà mới,HTX Trà,Thái Nguyên,Đồ uống,3\n".encode()
    await stranger._send(document_name="list.csv", document_data=data)  # as a channel passes a file on
    assert "chưa nhận tệp tin" in stranger.last
    async with stranger.conversation.services.db.session() as session:
        assert len((await session.exec(select(Product))).all()) == 5


async def test_non_admins_see_no_admin_buttons_on_cards(stranger: ChatUser) -> None:
    await stranger.says("che tan cuong")
    await stranger.presses("Chè búp")
    assert stranger.buttons() == ["📨 Liên hệ nhà sản xuất", "« Quay lại kết quả"]
