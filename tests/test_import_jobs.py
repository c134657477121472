"""A catalogue list sent in a chat: answered at once, imported by a background job in batches, reported later as a
notification; the job survives a worker that dies and is run by one worker at a time."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
from sqlmodel import col, func, select

from bot.housekeeping import housekeeping
from handlers import import_jobs
from handlers.app import Conversation
from handlers.context import Services
from handlers.import_jobs import run_next
from handlers.render import Rendered
from models.audit import AuditLog
from models.catalog import Product, catalog_version
from models.catalog_import import BATCH_ROWS, ImportReport
from models.clock import FakeClock
from models.db import Database
from models.import_jobs import FILE_TTL, LEASE, MAX_ATTEMPTS, RETRY_AFTER, ImportJob, claim, queue
from models.people import User
from models.stored_files import StoredFile, remove_expired
from tests.chat import ChatUser, load_catalogue, make_services

PROVINCES = ("Hà Nội", "Thái Nguyên", "Nghệ An", "Cần Thơ", "Quảng Ninh", "Lâm Đồng")
LIST = """Tên sản phẩm,Chủ thể,Tỉnh,Nhóm sản phẩm,Số sao
Trà hoa vàng Ba Chẽ,HTX Trà hoa vàng Ba Chẽ,Quảng Ninh,Đồ uống,4
Miến dong,HTX Miến,Atlantis,Thực phẩm,3
Nem chua Thanh Hóa,Công ty Nem Thanh,Thanh Hóa,Thực phẩm,4
"""


def big_list(rows: int) -> bytes:
    lines = ["Tên sản phẩm,Chủ thể,Tỉnh,Nhóm sản phẩm,Số sao"]
    lines += [f"Bánh thử số {n},HTX Làng nghề {n % 40},{PROVINCES[n % len(PROVINCES)]},Thực phẩm,{3 + n % 3}"
              for n in range(1, rows + 1)]
    return "\n".join(lines).encode()


async def sends_file(user: ChatUser, name: str, data: bytes) -> list[Rendered]:
    return await user._send(document_name=name, document_data=data)


async def products(db: Database) -> int:
    async with db.session() as session:
        return (await session.exec(select(func.count()).select_from(Product))).one()


async def the_job(db: Database, job_id: int = 1) -> ImportJob:
    async with db.session() as session:
        job = await session.get(ImportJob, job_id)
    assert job is not None
    return job


class People:
    def __init__(self, db: Database) -> None:
        self.services: Services = make_services(db, FakeClock())
        conversation = Conversation(self.services)
        self.office = ChatUser(conversation, "office")
        self.buyer = ChatUser(conversation, "lan")


async def test_a_list_is_answered_at_once_and_reported_when_imported(db: Database) -> None:
    people = People(db)
    await sends_file(people.office, "danh-sach.csv", LIST.encode())
    assert people.office.last == "📥 Đang nhập «danh-sach.csv» — bạn sẽ nhận báo cáo khi xong."
    assert await products(db) == 0  # nothing is imported in the message's transaction

    assert await run_next(people.services, "worker") is True
    [report] = await people.office.receive()
    assert report.text == (
        "📥 danh-sach.csv: 3 dòng dữ liệu — 2 sản phẩm mới, 0 cập nhật, 0 không đổi; 2 chủ thể mới; 1 dòng lỗi (không "
        "được nhập).\nDòng 3: không rõ tỉnh/thành phố «Atlantis»")
    assert await products(db) == 2
    assert await run_next(people.services, "worker") is False  # nothing else is due
    job = await the_job(db)
    assert (job.outcome, job.attempts, job.file_id, job.claimed_by) == ("done", 1, None, "")
    async with db.session() as session:
        assert (await session.exec(select(StoredFile))).all() == []  # the file is not kept once imported
        [audit] = (await session.exec(select(AuditLog).where(AuditLog.action == "catalog.import"))).all()
    assert audit.detail == "done: 3 rows, 2 new, 0 updated, 1 errors"


async def test_the_report_is_in_the_admins_language(sqlite_db: Database) -> None:
    people = People(sqlite_db)
    people.office.language = "en"
    await sends_file(people.office, "list.csv", LIST.encode())
    assert people.office.last == "📥 Importing «list.csv» — you will get a report when it is done."
    await run_next(people.services, "worker")
    [report] = await people.office.receive()
    assert report.text.startswith("📥 list.csv: 3 data rows — 2 new products") and "Line 3: unknown" in report.text


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("bad.xlsx", b"PK\x03\x04" + b"\x00" * 200, "không đọc được tệp XLSX (tệp hỏng hoặc không phải bảng tính Excel)"),
        ("photo.csv", b"\x89PNG\r\n\x1a\n\x00\x00", "không phải tệp CSV hoặc XLSX (hãy lưu thành .xlsx hoặc .csv UTF-8)"),
    ],
)
async def test_a_file_that_is_no_spreadsheet_is_refused_at_once(
    sqlite_db: Database, name: str, data: bytes, reason: str
) -> None:
    people = People(sqlite_db)
    await sends_file(people.office, name, data)
    assert people.office.last == f"Không nhập được «{name}»; chưa có gì thay đổi. Lý do: {reason}"
    assert await run_next(people.services, "worker") is False


async def test_a_file_refused_by_the_job_is_reported_and_changes_nothing(sqlite_db: Database) -> None:
    people = People(sqlite_db)
    await sends_file(people.office, "headers.csv", b"Ten,Tinh\nA,Ha Noi\n")
    await run_next(people.services, "worker")
    [refusal] = await people.office.receive()
    assert refusal.text.startswith("Không nhập được «headers.csv»; chưa có gì thay đổi. Lý do: không thấy dòng tiêu đề")
    assert (await the_job(sqlite_db)).outcome == "refused"


async def test_a_list_above_the_row_limit_is_refused_with_the_limit(sqlite_db: Database) -> None:
    people = People(sqlite_db)
    await sends_file(people.office, "ca-nuoc.csv", big_list(100_001))
    await run_next(people.services, "worker")
    [refusal] = await people.office.receive()
    assert refusal.text == ("Không nhập được «ca-nuoc.csv»; chưa có gì thay đổi. Lý do: tệp có hơn 100000 dòng dữ "
                            "liệu; hãy chia thành các tệp nhỏ hơn")
    assert await products(sqlite_db) == 0


async def test_another_user_is_answered_while_a_large_import_runs(db: Database) -> None:
    await load_catalogue(db)
    people = People(db)
    await sends_file(people.office, "lon.csv", big_list(3 * BATCH_ROWS))
    paused, resume = asyncio.Event(), asyncio.Event()
    done: list[int] = []

    async def between_batches(report: ImportReport) -> None:
        done.append(report.rows_done)
        if len(done) == 1:
            paused.set()
            await resume.wait()

    job = asyncio.create_task(run_next(people.services, "worker", after_batch=between_batches))
    await paused.wait()  # the import is under way: one batch written, two to go
    replies = await people.buyer.says("mật ong")
    assert any("Mật ong bạc hà Mèo Vạc" in reply.text for reply in replies)
    assert await products(db) == 5 + BATCH_ROWS
    resume.set()
    assert await job
    assert done == [BATCH_ROWS, 2 * BATCH_ROWS, 3 * BATCH_ROWS]
    *progress, report = await people.office.receive()
    assert [(part.text, part.progress) for part in progress] == [  # one message edited where the channel edits
        (f"📥 Đang nhập «lon.csv»: {BATCH_ROWS}/{3 * BATCH_ROWS} dòng (33%)…", "import:1"),
        (f"📥 Đang nhập «lon.csv»: {2 * BATCH_ROWS}/{3 * BATCH_ROWS} dòng (66%)…", "import:1"),
    ]
    assert report.text.startswith(f"📥 lon.csv: {3 * BATCH_ROWS} dòng dữ liệu — {3 * BATCH_ROWS} sản phẩm mới")


class ProcessDied(BaseException):
    """What a worker sees of a kill: nothing after it runs, nothing is given back."""


def die_after(rows: int) -> Callable[[ImportReport], Awaitable[None]]:
    async def hook(report: ImportReport) -> None:
        if report.rows_done >= rows:
            raise ProcessDied

    return hook


async def test_a_job_whose_worker_died_is_resumed_and_completes(db: Database) -> None:
    people = People(db)
    await sends_file(people.office, "lon.csv", big_list(3 * BATCH_ROWS))
    with pytest.raises(ProcessDied):
        await run_next(people.services, "worker-1", after_batch=die_after(BATCH_ROWS))
    job = await the_job(db)
    assert (job.rows_done, job.products_created, job.claimed_by, job.finished_at) == (BATCH_ROWS, BATCH_ROWS,
                                                                                      "worker-1", None)
    assert await run_next(people.services, "worker-2") is False  # the lease of the dead worker still runs

    people.services.clock.advance(seconds=LEASE.total_seconds() + 1)  # type: ignore[attr-defined]
    assert await run_next(people.services, "worker-2") is True
    assert await products(db) == 3 * BATCH_ROWS
    job = await the_job(db)
    assert (job.outcome, job.attempts, job.rows_done) == ("done", 2, 3 * BATCH_ROWS)
    async with db.session() as session:
        assert await catalog_version(session) == 1  # the search indexes are told, though the first run had not
    *progress, report = await people.office.receive()  # one report, with the counts of the whole import
    assert [part.text.rsplit("(", 1)[1] for part in progress] == ["33%)…", "66%)…"]  # each once, across both runs
    assert report.text.startswith(f"📥 lon.csv: {3 * BATCH_ROWS} dòng dữ liệu — {3 * BATCH_ROWS} sản phẩm mới, 0 cập "
                                  "nhật, 0 không đổi; 120 chủ thể mới; 0 dòng lỗi")  # 40 names × 6 provinces


async def test_a_stopping_worker_gives_its_job_back_at_once(sqlite_db: Database) -> None:
    people = People(sqlite_db)
    await sends_file(people.office, "lon.csv", big_list(2 * BATCH_ROWS))
    written: list[int] = []

    async def note(report: ImportReport) -> None:
        written.append(report.rows_done)

    assert await run_next(people.services, "worker-1", stopping=lambda: bool(written), after_batch=note)
    job = await the_job(sqlite_db)
    assert (job.rows_done, job.attempts, job.claimed_by, job.claimed_until, job.finished_at) == (
        BATCH_ROWS, 0, "", None, None)
    [progress] = await people.office.receive()  # the batch written before it stopped; no report yet
    assert progress.text == f"📥 Đang nhập «lon.csv»: {BATCH_ROWS}/{2 * BATCH_ROWS} dòng (50%)…"
    assert await run_next(people.services, "worker-2")  # no lease to wait for
    assert (await the_job(sqlite_db)).outcome == "done" and await products(sqlite_db) == 2 * BATCH_ROWS


async def test_a_job_that_keeps_failing_is_retried_then_given_up(
    sqlite_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    people = People(sqlite_db)
    await sends_file(people.office, "danh-sach.csv", LIST.encode())

    async def broken(*args: object, **kwargs: object) -> ImportReport:
        raise RuntimeError("disk full")

    monkeypatch.setattr(import_jobs, "import_rows", broken)
    for attempt in range(1, MAX_ATTEMPTS + 1):
        assert await run_next(people.services, "worker")
        assert await run_next(people.services, "worker") is False  # it waits before the next attempt
        people.services.clock.advance(seconds=(RETRY_AFTER * attempt).total_seconds() + 1)  # type: ignore[attr-defined]
    job = await the_job(sqlite_db)
    assert (job.outcome, job.attempts, job.finished_at is not None) == ("failed", MAX_ATTEMPTS, True)
    [failure] = await people.office.receive()  # told once, when it was given up
    assert failure.text.startswith("Không nhập xong «danh-sach.csv» vì một lỗi của hệ thống (mã ")
    assert await run_next(people.services, "worker") is False


async def test_only_one_worker_claims_a_job(db: Database) -> None:
    people = People(db)
    await people.office.says("/help")
    now = people.services.clock.now()
    async with db.transaction() as session:
        admin = (await session.exec(select(User).where(col(User.display_name) == "Office"))).one()
        await queue(session, admin, "a.csv", LIST.encode(), now.date(), now)

    async def claim_as(worker: str) -> str | None:
        async with db.transaction() as session:
            job = await claim(session, worker, now)
            return job.claimed_by if job else None

    won = await asyncio.gather(*(claim_as(f"worker-{n}") for n in range(4)))
    assert len([worker for worker in won if worker]) == 1
    assert (await the_job(db)).attempts == 1


async def test_housekeeping_runs_the_jobs_queued_in_its_process(sqlite_db: Database) -> None:
    people = People(sqlite_db)
    async with housekeeping(people.services, every=3600):
        await sends_file(people.office, "danh-sach.csv", LIST.encode())
        got: list[Rendered] = []
        for _ in range(500):  # the worker was woken when the message's transaction committed
            got += await people.office.receive()
            if got:
                break
            await asyncio.sleep(0.01)
    assert [message.text.split(":")[0] for message in got] == ["📥 danh-sach.csv"]


async def test_a_job_whose_file_was_kept_too_long_says_so(db: Database) -> None:
    people = People(db)
    await sends_file(people.office, "cu.csv", LIST.encode())
    people.services.clock.advance(days=FILE_TTL.days + 1)  # type: ignore[attr-defined]
    async with db.transaction() as session:
        assert await remove_expired(session, people.services.clock.now()) == 1  # what housekeeping does
    assert (await the_job(db)).file_id is None
    await run_next(people.services, "worker")
    [refusal] = await people.office.receive()
    assert refusal.text == ("Không nhập được «cu.csv»; chưa có gì thay đổi. Lý do: tệp không còn được lưu (đã chờ "
                            "quá lâu); hãy gửi lại")
    assert (await the_job(db)).outcome == "refused"
