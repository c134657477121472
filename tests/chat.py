"""A collecting channel: scripted users talk to the real Conversation and read what they were sent."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any

from PIL import Image

from bot.outbox_sender import OutboxSender
from handlers.app import Conversation
from handlers.context import Services
from handlers.delivery import queue_notifications
from handlers.messages import Capabilities, Incoming
from handlers.render import Rendered
from models.catalog_import import import_rows
from models.clock import FakeClock
from models.db import Database
from models.requests import ContactPolicy
from models.search_service import SearchService
from models.tabular import read_bytes


def picture(fmt: str = "PNG", size: tuple[int, int] = (64, 48)) -> bytes:
    """A real little image, as a phone would send one."""
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 120, 40)).save(buffer, fmt)
    return buffer.getvalue()


BUTTONS = Capabilities(max_text=4096)
NO_BUTTONS = Capabilities(buttons=False, edits=False, documents=False, request_contact=False, max_text=2000)

CATALOGUE = """Tên sản phẩm,Chủ thể,Loại hình chủ thể,Địa chỉ,Tỉnh,Nhóm sản phẩm,Số sao,Tiềm năng 5 sao,Số quyết định,Ngày quyết định,Điện thoại,Email,Mùa vụ
Mật ong bạc hà Mèo Vạc,HTX Mật ong Mèo Vạc,Hợp tác xã,"thị trấn Mèo Vạc, huyện Mèo Vạc, tỉnh Hà Giang",Hà Giang,Thực phẩm,4,,45/QĐ-UBND,02/11/2024,0900 000 111,matong@example.com,Tháng 3 – 5
Chè búp Tân Cương,HTX Chè Hảo Đạt,Hợp tác xã,"xã Tân Cương, TP Thái Nguyên, tỉnh Thái Nguyên",Thái Nguyên,Thực phẩm,5,,123/QĐ-UBND,15/03/2024,0900 000 222,che@example.com,Quanh năm
Nước mắm Phú Quốc 40 độ đạm,Công ty TNHH Nước mắm Hàm Ninh,Doanh nghiệp,"xã Hàm Ninh, huyện Phú Quốc, tỉnh Kiên Giang",Kiên Giang,Thực phẩm,4,x,88/QĐ-UBND,01/06/2024,0900 000 333,nuocmam@example.com,Quanh năm
Gạo ST25 Mỹ Xuyên,HTX Lúa gạo Mỹ Xuyên,Hợp tác xã,"xã Gia Hòa 1, huyện Mỹ Xuyên, tỉnh Sóc Trăng",Sóc Trăng,Thực phẩm,5,,9/QĐ-UBND,01/02/2024,0900 000 444,,Quanh năm
Gốm men lam Bát Tràng,Công ty TNHH Gốm Bát Tràng,Doanh nghiệp,"xã Bát Tràng, thành phố Hà Nội",Hà Nội,Hàng thủ công mỹ nghệ,4,,77/QĐ-UBND,01/06/2024,0900 000 555,gom@example.com,Quanh năm
"""


async def load_catalogue(db: Database) -> None:
    await import_rows(db, read_bytes(CATALOGUE.encode(), "test.csv"))


def make_services(db: Database, clock: FakeClock | None = None, **policy: object) -> Services:
    codes = iter(f"CODE{n:04d}" for n in range(1, 10_000))
    return Services(
        db=db,
        search=SearchService(db, check_interval=0.0),
        clock=clock or FakeClock(),
        policy=ContactPolicy(**policy),  # type: ignore[arg-type]
        admin_ids={"console": frozenset({"office"}), "telegram": frozenset({"9000"})},
        make_code=lambda: next(codes),
        broadcast_channels=("telegram", "zalo_bot"),
    )


@dataclass
class ChatUser:
    """One person in a scripted conversation; ``seen`` holds everything they were sent, newest last."""

    conversation: Conversation
    name: str
    channel: str = "console"
    capabilities: Capabilities = BUTTONS
    language: str = ""
    seen: list[Rendered] = field(default_factory=list)

    async def _send(self, **kw: object) -> list[Rendered]:
        incoming = Incoming(
            channel=self.channel, user_id=self.name, chat_id=self.name, display_name=self.name.title(),
            language_code=self.language, **kw,  # type: ignore[arg-type]
        )
        replies = await self.conversation.handle(incoming, self.capabilities)
        self.seen.extend(replies)
        return replies

    async def says(self, text: str) -> list[Rendered]:
        return await self._send(text=text)

    async def presses(self, label: str) -> list[Rendered]:
        """Press the newest button whose label contains ``label`` (or type its number on numbered channels)."""
        for message in reversed(self.seen):
            for button in message.options:
                if label in button.label:
                    return await self._send(text=button.key)
            for row in message.buttons:
                for button in row:
                    if label in button.label:
                        return await self._send(action=button.action)
        raise AssertionError(f"{self.name} sees no button {label!r}; last message: {self.last}")

    async def taps(self, action: str) -> list[Rendered]:
        """Send raw button data, as a tampering client could."""
        return await self._send(action=action)

    async def sends_picture(self, image: bytes, caption: str = "") -> list[Rendered]:
        return await self._send(media="image", image=image, text=caption)

    async def shares_phone(self, phone: str) -> list[Rendered]:
        return await self._send(contact_phone=phone)

    async def receive(self) -> list[Rendered]:
        got: list[Rendered] = []

        async def collect(_chat_id: str, part: Rendered, _context: dict[str, Any]) -> None:
            got.append(part)

        services = self.conversation.services
        await queue_notifications(services, self.channel, self.capabilities, external_id=self.name)
        await OutboxSender(services, self.channel, collect).drain(self.name)
        self.seen.extend(got)
        return got

    @property
    def last(self) -> str:
        return self.seen[-1].text if self.seen else ""

    def saw(self, fragment: str) -> bool:
        return any(fragment in message.text for message in self.seen)

    def buttons(self) -> list[str]:
        last = self.seen[-1]
        return [b.label for row in last.buttons for b in row] + [b.label for b in last.options]


# Conversation steps shared by the channel tests; they take any scripted user (says / presses / last / saw).


async def register_buyer(user: Any, company: str = "Siêu thị Xanh", phone: str = "0912 345 678") -> None:
    """Five moves (/start, role, company, kind, phone), then the optional regions of interest."""
    await user.says("/start")
    await user.presses("người mua")
    await user.says(company)
    await user.presses("Siêu thị")
    if phone:
        await user.shares_phone(phone)
    else:
        await user.presses("Bỏ qua")
    assert user.saw(f"{company} đã được đăng ký là người mua")
    await user.presses("Đồng bằng sông Hồng")
    await user.presses("Xong")


async def claim_producer(office: Any, producer: Any, name: str) -> None:
    await office.says(f"/claimcode {name}")
    await office.presses("Cấp mã")
    code = office.last.split(": ")[1].split("\n")[0]
    await producer.says("/start")
    await producer.presses("chủ thể sản xuất")
    await producer.says(name)
    await producer.presses(name)
    await producer.says(code)
    assert producer.saw("Xác nhận thành công")


async def request_contact(buyer: Any, query: str, product: str, message: str = "Cần 500 hộp cho Tết") -> None:
    await buyer.says(query)
    await buyer.presses(product)
    await buyer.presses("Liên hệ nhà sản xuất")
    await buyer.says(message)
    await buyer.says("500 hộp/tháng")
    await buyer.presses("Bỏ qua")
    await buyer.presses("Gửi yêu cầu")


async def with_draft_memo(db: Database) -> Services:
    """The catalogue loaded, and a buyer's contact request accepted (by the office, relayed for the producer): memo
    1 is a draft with a document. The services it ran on."""
    await load_catalogue(db)
    services = make_services(db)
    conversation = Conversation(services)
    buyer, office = ChatUser(conversation, "lan"), ChatUser(conversation, "office")
    await office.says("/help")
    await register_buyer(buyer)
    await request_contact(buyer, "che tan cuong", "Chè búp")
    await office.receive()
    await office.presses("Chấp nhận")
    return services
