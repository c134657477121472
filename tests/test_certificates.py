"""OCOP certificate validity (36 months) as people meet it: flags on lists and cards, ranking, the warning before a
contact request, the memo's wording, reminders to producers 90 and 30 days before, and the office's figures."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime

import docx
import pytest
from sqlmodel import col, func, select

from handlers import certificates
from handlers.app import Conversation
from handlers.context import Services
from models.catalog import Product, bump_catalog_version
from models.catalog_import import import_rows
from models.certificates import CertificateReminder, Validity, certificate_counts, validity
from models.clock import FakeClock
from models.db import Database
from models.memo_document import certificate_text, render_memo_docx
from models.memos import Memo, memo_document
from models.search import Document, Filters, SearchIndex
from models.tabular import read_bytes
from tests.chat import ChatUser, claim_producer, make_services, register_buyer
from tests.fake_telegram import FakeTelegram
from tests.loopback import serving
from tests.telegram_users import claimed_on_telegram, registered_on_telegram
from tests.test_telegram import BUYER, OFFICE, PRODUCER, Running, run_channel

START = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)  # 27/11/2026 in Vietnam

# Two equally relevant honeys, one certified 10/06/2023 (expired 10/06/2026), one valid until 2027; a tea valid
# until 15/01/2027 (49 days: expiring); a rice valid until 25/02/2027 (exactly 90 days); a pepper with no date.
CATALOGUE = """Tên sản phẩm,Chủ thể,Loại hình chủ thể,Địa chỉ,Tỉnh,Nhóm sản phẩm,Số sao,Số quyết định,Ngày quyết định
Mật ong bạc hà Mèo Vạc,HTX Mật ong Mèo Vạc,Hợp tác xã,"thị trấn Mèo Vạc, tỉnh Hà Giang",Hà Giang,Thực phẩm,4,12/QĐ-UBND,10/06/2023
Mật ong bạc hà Đồng Văn,HTX Mật ong Đồng Văn,Hợp tác xã,"thị trấn Đồng Văn, tỉnh Hà Giang",Hà Giang,Thực phẩm,4,45/QĐ-UBND,01/06/2024
Chè búp Tân Cương,HTX Chè Hảo Đạt,Hợp tác xã,"xã Tân Cương, tỉnh Thái Nguyên",Thái Nguyên,Thực phẩm,5,123/QĐ-UBND,15/01/2024
Gạo ST25 Mỹ Xuyên,HTX Lúa gạo Mỹ Xuyên,Hợp tác xã,"xã Gia Hòa 1, tỉnh Sóc Trăng",Sóc Trăng,Thực phẩm,5,9/QĐ-UBND,25/02/2024
Tiêu đen Phú Quốc,HTX Tiêu Phú Quốc,Hợp tác xã,"xã Hàm Ninh, tỉnh Kiên Giang",Kiên Giang,Thực phẩm,4,,
"""
EXPIRED_FLAG = "⚠️ chứng nhận OCOP hết hạn 06/2026"


async def load(db: Database) -> None:
    await import_rows(db, read_bytes(CATALOGUE.encode(), "certificates.csv"))


@pytest.fixture
async def services(sqlite_db: Database) -> Services:
    await load(sqlite_db)
    return make_services(sqlite_db, FakeClock(START))


def chat(services: Services, name: str, language: str = "") -> ChatUser:
    return ChatUser(Conversation(services), name, language=language)


def result_line(text: str, product: str) -> str:
    return next(line for line in text.splitlines() if product in line)


def test_validity_edges() -> None:
    today = date(2026, 11, 27)
    assert validity(None, today) is Validity.UNKNOWN
    assert validity(date(2026, 11, 26), today) is Validity.EXPIRED
    assert validity(today, today) is Validity.EXPIRING  # valid through its last day
    assert validity(date(2027, 2, 25), today) is Validity.EXPIRING  # 90 days
    assert validity(date(2027, 2, 26), today) is Validity.VALID


async def test_results_and_cards_flag_expired_and_expiring_certificates_in_vietnamese(services: Services) -> None:
    buyer = chat(services, "lan")
    await buyer.says("mật ong bạc hà")
    assert EXPIRED_FLAG in result_line(buyer.last, "Mèo Vạc")
    assert "⚠️" not in result_line(buyer.last, "Đồng Văn") and "⏳" not in result_line(buyer.last, "Đồng Văn")
    await buyer.presses("Mèo Vạc")
    assert "⚠️ Giấy chứng nhận OCOP đã hết hiệu lực ngày 10/06/2026" in buyer.last

    await buyer.says("chè tân cương")
    assert "⏳ còn hiệu lực đến 15/01/2027" in result_line(buyer.last, "Chè búp")
    await buyer.presses("Chè búp")
    assert "⏳ Giấy chứng nhận OCOP còn hiệu lực đến 15/01/2027 — sắp hết hạn" in buyer.last

    await buyer.says("tiêu phú quốc")  # no decision date: nothing said either way
    assert "⚠️" not in result_line(buyer.last, "Tiêu đen") and "⏳" not in result_line(buyer.last, "Tiêu đen")


async def test_results_and_cards_flag_certificates_in_english(services: Services) -> None:
    buyer = chat(services, "john", language="en")
    await buyer.says("mat ong bac ha")
    assert "⚠️ OCOP certificate expired 06/2026" in result_line(buyer.last, "Mèo Vạc")
    await buyer.presses("Mèo Vạc")
    assert "⚠️ OCOP certificate expired on 10/06/2026" in buyer.last
    await buyer.says("che tan cuong")
    assert "⏳ valid until 15/01/2027" in result_line(buyer.last, "Chè búp")
    await buyer.presses("Chè búp")
    assert "⏳ OCOP certificate valid until 15/01/2027 — expiring soon" in buyer.last


async def test_a_valid_certificate_ranks_above_an_equally_relevant_expired_one(services: Services) -> None:
    buyer = chat(services, "lan")
    await buyer.says("mật ong bạc hà")
    lines = [line for line in buyer.last.splitlines() if line[:2] in {"1.", "2."}]
    assert "Đồng Văn" in lines[0] and "Mèo Vạc" in lines[1]  # Mèo Vạc is first in the catalogue


def test_the_tie_break_is_not_a_filter_and_needs_a_day() -> None:
    def honey(id: int, decided: date | None) -> Document:
        return Document(id, f"Mật ong bạc hà {id}", "HTX", "cooperative", "Hà Giang", None, "", "", 1, "", 4, False,
                        "", decided)

    index = SearchIndex([honey(1, date(2023, 6, 10)), honey(2, date(2024, 6, 1)), honey(3, None)])
    ranked = [hit.document.id for hit in index.search("mật ong bạc hà", today=date(2026, 11, 27)).hits]
    assert ranked == [2, 3, 1]  # the expired one stays a result, last
    assert [hit.document.id for hit in index.search("mật ong bạc hà").hits] == [1, 2, 3]
    assert [hit.document.id for hit in index.search("mật ong bạc hà", today=date(2026, 6, 10)).hits] == [1, 2, 3]
    stronger = index.search("mật ong bạc hà 1", today=date(2026, 11, 27)).hits
    assert stronger[0].document.id == 1  # more relevant still wins: only ties are broken
    listing = index.search("", filters=Filters(min_stars=3), today=date(2026, 11, 27)).hits  # browsing
    assert [hit.document.id for hit in listing] == [2, 3, 1]


async def test_a_contact_request_on_an_expired_product_warns_the_buyer_before_sending(services: Services) -> None:
    buyer = chat(services, "lan")
    await register_buyer(buyer)
    await buyer.says("mật ong bạc hà")
    await buyer.presses("Mèo Vạc")
    await buyer.presses("Liên hệ nhà sản xuất")
    warning = "⚠️ Lưu ý: giấy chứng nhận OCOP của «Mật ong bạc hà Mèo Vạc» đã hết hiệu lực ngày 10/06/2026"
    assert warning in buyer.last and "Viết lời nhắn" in buyer.last
    await buyer.says("Cần 200 chai")
    await buyer.presses("Bỏ qua")
    await buyer.presses("Bỏ qua")
    assert warning in buyer.last and "Kiểm tra lại yêu cầu" in buyer.last
    await buyer.presses("Gửi yêu cầu")
    assert buyer.saw("Đã gửi yêu cầu #1")  # a warning, not a refusal

    await buyer.says("mật ong bạc hà")
    await buyer.presses("Đồng Văn")
    await buyer.presses("Liên hệ nhà sản xuất")
    assert "Viết lời nhắn" in buyer.last and "Lưu ý" not in buyer.last


def test_memo_certificate_wording() -> None:
    on = date(2026, 11, 27)
    assert certificate_text("45/QĐ-UBND", date(2024, 6, 1), on) == (
        "QĐ số 45/QĐ-UBND ngày 01/06/2024, hiệu lực đến 01/06/2027")
    assert certificate_text("12/QĐ-UBND", date(2023, 6, 10), on) == (
        "QĐ số 12/QĐ-UBND ngày 10/06/2023, hiệu lực đến 10/06/2026 — ĐÃ HẾT HIỆU LỰC tại ngày lập biên bản")
    assert certificate_text("12/QĐ-UBND", date(2023, 6, 10), date(2026, 6, 10)).endswith("đến 10/06/2026")
    assert certificate_text("", None, on) == "" and certificate_text("9/QĐ", None, on) == "QĐ số 9/QĐ"


async def test_the_memo_warns_when_the_certificate_had_expired_on_its_date(db: Database) -> None:
    await load(db)
    services = make_services(db, FakeClock(START))
    buyer, office = chat(services, "lan"), chat(services, "office")
    await office.says("/help")
    await register_buyer(buyer)
    for product in ("Mèo Vạc", "Đồng Văn"):
        await buyer.says("mật ong bạc hà")
        await buyer.presses(product)
        await buyer.presses("Liên hệ nhà sản xuất")
        await buyer.says("Cần 200 chai")
        await buyer.presses("Bỏ qua")
        await buyer.presses("Bỏ qua")
        await buyer.presses("Gửi yêu cầu")
        await office.receive()
        await office.presses("Chấp nhận")  # relayed for a producer not on the bot: the memo is a draft
    cells = {}
    async with db.session() as session:
        for memo in (await session.exec(select(Memo).order_by(Memo.id))).all():
            opened = docx.Document(io.BytesIO(render_memo_docx(await memo_document(session, memo))))
            cells[memo.id] = [cell.text for table in opened.tables for row in table.rows for cell in row.cells]
    assert any("hiệu lực đến 10/06/2026 — ĐÃ HẾT HIỆU LỰC tại ngày lập biên bản" in cell for cell in cells[1])
    assert any("hiệu lực đến 01/06/2027" in cell for cell in cells[2])
    assert not any("HẾT HIỆU LỰC" in cell for cell in cells[2])


async def test_producers_are_reminded_90_and_30_days_before_once_each(db: Database) -> None:
    await load(db)
    clock = FakeClock(START)
    services = make_services(db, clock)
    office, rice = chat(services, "office"), chat(services, "gao")
    await office.says("/help")
    await claim_producer(office, rice, "HTX Lúa gạo Mỹ Xuyên")  # the tea's and honeys' producers are not on the bot

    assert await certificates.send_reminders(services) == 1  # 25/02/2027 is 90 days away
    assert await certificates.send_reminders(services) == 0  # the job again (a restart, a replica): nothing more
    got = await rice.receive()
    assert len(got) == 1
    assert "«Gạo ST25 Mỹ Xuyên» (quyết định 9/QĐ-UBND) hết hiệu lực ngày 25/02/2027, còn 90 ngày" in got[0].text
    await rice.presses("Xem sản phẩm")
    assert "Gạo ST25 Mỹ Xuyên" in rice.last and "sắp hết hạn" in rice.last

    clock.advance(days=59)  # 31 days left
    assert await certificates.send_reminders(services) == 0
    clock.advance(days=1)  # 30 days left
    assert await certificates.send_reminders(services) == 1
    assert await certificates.send_reminders(services) == 0
    got = await rice.receive()
    assert len(got) == 1 and "còn 30 ngày" in got[0].text
    clock.advance(days=40)  # expired: no more reminders
    assert await certificates.send_reminders(services) == 0
    assert await rice.receive() == []
    async with db.session() as session:
        rows = (await session.exec(select(CertificateReminder.days).order_by(CertificateReminder.days))).all()
    assert rows == [30, 90]


async def test_a_late_claim_gets_the_reminder_then_and_a_producer_off_the_bot_none(db: Database) -> None:
    await load(db)
    services = make_services(db, FakeClock(START))
    office, tea = chat(services, "office"), chat(services, "hao")
    await office.says("/help")
    assert await certificates.send_reminders(services) == 0  # nobody on the bot for any ending certificate
    async with db.session() as session:
        assert (await session.exec(select(func.count()).select_from(CertificateReminder))).one() == 0
    await claim_producer(office, tea, "HTX Chè Hảo Đạt")
    assert await certificates.send_reminders(services) == 1  # 49 days left: the 90-day reminder
    got = await tea.receive()
    assert "«Chè búp Tân Cương»" in got[-1].text and "còn 49 ngày" in got[-1].text


async def test_reminders_run_from_housekeeping_in_the_producers_language(db: Database) -> None:
    from bot.housekeeping import Housekeeping

    await load(db)
    services = make_services(db, FakeClock(START))
    office, rice = chat(services, "office"), chat(services, "gao")
    await office.says("/help")
    await claim_producer(office, rice, "HTX Lúa gạo Mỹ Xuyên")
    await rice.says("/lang")
    await rice.presses("English")
    keeper = Housekeeping(services)
    await keeper.round()
    await keeper.round()
    got = await rice.receive()
    assert len(got) == 1
    assert "The OCOP certificate of «Gạo ST25 Mỹ Xuyên» (decision 9/QĐ-UBND) expires on 25/02/2027" in got[0].text


async def test_stats_count_certificates_expiring_and_expired(db: Database) -> None:
    await load(db)
    services = make_services(db, FakeClock(START))
    office = chat(services, "office")
    await office.says("/stats")
    assert "Chứng nhận OCOP: 2 hết hạn trong 90 ngày tới, 1 đã hết hạn" in office.last
    async with db.session() as session:
        counts = await certificate_counts(session, date(2027, 2, 26))  # the rice's last day was the day before
    assert (counts.expiring, counts.expired) == (0, 3)
    async with db.session() as session:
        counts = await certificate_counts(session, date(2026, 6, 10))  # the honey's last day
    assert (counts.expiring, counts.expired) == (1, 0)


async def test_a_producer_sees_their_products_with_the_certificates_state(db: Database) -> None:
    extra = ("Mật ong hoa ban Mèo Vạc,HTX Mật ong Mèo Vạc,Hợp tác xã,\"thị trấn Mèo Vạc, tỉnh Hà Giang\",Hà Giang,"
             "Thực phẩm,3,7/QĐ-UBND,20/01/2024\n")  # valid until 20/01/2027: expiring
    await import_rows(db, read_bytes((CATALOGUE + extra).encode(), "certificates.csv"))
    services = make_services(db, FakeClock(START))
    office, honey, buyer = chat(services, "office"), chat(services, "meovac"), chat(services, "lan", language="en")
    await office.says("/help")
    await claim_producer(office, honey, "HTX Mật ong Mèo Vạc")
    await honey.says("/help")
    assert "/products" in honey.last
    await honey.says("/products")
    assert "1. Mật ong bạc hà Mèo Vạc — ★★★★ — " + EXPIRED_FLAG in honey.last
    assert "2. Mật ong hoa ban Mèo Vạc — ★★★ — ⏳ còn hiệu lực đến 20/01/2027" in honey.last
    assert "Đồng Văn" not in honey.last
    await honey.says("2")  # a number picks a listed product on every channel
    assert "Mật ong hoa ban Mèo Vạc" in honey.last and "sắp hết hạn" in honey.last
    await buyer.says("/products")
    assert "for producers who have claimed their record" in buyer.last


@pytest.fixture
async def telegram(sqlite_db: Database) -> AsyncIterator[Running]:
    async with serving(FakeTelegram()) as fake:
        async for running in run_channel(sqlite_db, fake, "polling"):
            yield running


async def test_on_telegram_flags_warning_and_reminder(telegram: Running) -> None:
    services = telegram.channel.services
    async with services.db.transaction() as session:  # the honey's certificate ended on 02/06/2026
        honey = (await session.exec(select(Product).where(col(Product.name).startswith("Mật ong")))).one()
        honey.decision_date = date(2023, 6, 2)
        await bump_catalog_version(session)
    await services.search.refresh()
    buyer, producer, office = telegram.user(BUYER), telegram.user(PRODUCER), telegram.user(OFFICE)

    await buyer.says("mat ong ha giang")
    assert "Mật ong bạc hà Mèo Vạc" in (await buyer.expect(EXPIRED_FLAG)).text
    await buyer.presses("Mật ong bạc hà")
    await buyer.expect("⚠️ Giấy chứng nhận OCOP đã hết hiệu lực ngày 02/06/2026")
    await registered_on_telegram(buyer)  # the phone shared with the contact button: verified
    await buyer.expect("đã được đăng ký là người mua")
    await buyer.presses("Liên hệ nhà sản xuất")
    await buyer.expect("⚠️ Lưu ý: giấy chứng nhận OCOP của «Mật ong bạc hà Mèo Vạc» đã hết hiệu lực")

    # rice certified 01/02/2024: ends 01/02/2027
    await claimed_on_telegram(office, producer, "HTX Lúa gạo Mỹ Xuyên", "lúa gạo mỹ xuyên")
    await producer.expect("Xác nhận thành công")
    assert await certificates.send_reminders(services) == 1
    reminder = await producer.expect("🔔 Giấy chứng nhận OCOP của sản phẩm «Gạo ST25 Mỹ Xuyên»")
    assert "hết hiệu lực ngày 01/02/2027, còn 66 ngày" in reminder.text and reminder.buttons
    assert await certificates.send_reminders(services) == 0
