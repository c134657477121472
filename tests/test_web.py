"""Our web server over HTTP on a loopback port: /healthz asks the database; signed download links refuse anything
tampered with (403) or naming nothing (404), whatever the path or the query string holds: never a 500."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from urllib.parse import quote, unquote

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from yarl import URL

from bot.links import LinkSigner
from bot.monitoring import migration_heads
from bot.web import INVALID_LINK, NO_DOCUMENT, NO_FILE, make_app, start_site
from handlers.context import Services
from models import inbox, outbox
from models.db import Database
from models.inbox import Received
from models.stored_files import store
from tests.chat import make_services, with_draft_memo

PUBLIC = "https://ocop.example.vn"
OUR_TEXTS = {INVALID_LINK, NO_DOCUMENT, NO_FILE}


class Site:
    """Our server on a loopback port, with a good link to memo 1 and one to a kept file."""

    def __init__(self, base: str, signer: LinkSigner, services: Services, memo_link: str, file_link: str) -> None:
        self.base, self.signer, self.services = base, signer, services
        self.memo_link, self.file_link = memo_link, file_link

    def __repr__(self) -> str:  # (hypothesis prints it with every failing example)
        return f"Site({self.base})"

    async def get(self, path_and_query: str) -> tuple[int, bytes]:
        """GET exactly this (already percent-encoded) path and query."""
        async with aiohttp.ClientSession() as session, session.get(URL(self.base + path_and_query, encoded=True)
                                                                   ) as response:
            return response.status, await response.read()


@pytest.fixture
async def site(db: Database) -> AsyncIterator[Site]:
    services = await with_draft_memo(db)
    now = services.clock.now()
    async with db.transaction() as session:
        kept = await store(session, "chart.png", "image/png", b"\x89PNG fake", now, timedelta(days=1))
    signer = LinkSigner("link-secret-for-tests", PUBLIC, timedelta(hours=72))
    runner, port = await start_site(make_app(services, signer), "127.0.0.1", 0)
    base = f"http://127.0.0.1:{port}"
    yield Site(base, signer, services, signer.url("memo", 1, now).removeprefix(PUBLIC),
               signer.file_url(kept, now).removeprefix(PUBLIC))
    await runner.cleanup()


def query_of(link: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in link.split("?", 1)[1].split("&"))


async def test_good_links_download(site: Site) -> None:
    status, body = await site.get(site.memo_link)
    assert status == 200 and body[:2] == b"PK"
    status, body = await site.get(site.file_link)
    assert status == 200 and body == b"\x89PNG fake"


async def test_what_the_fuzz_run_found_is_refused_politely(site: Site) -> None:
    good = query_of(site.memo_link)
    now = site.services.clock.now()
    refused = {
        "/memos/1.docx?exp=%C2%B2&sig=x": 403,  # a superscript two for the expiry (was a 500)
        f"/memos/1.docx?exp={good['exp']}&sig=%C3%A9%C3%A9": 403,  # a signature hmac cannot compare as text (500)
        f"/memos/1.docx?exp={'9' * 40}&sig={good['sig']}": 403,  # an expiry past any calendar
        f"/memos/1.docx?exp=0{good['exp']}&sig={good['sig']}": 403,  # not as we wrote it
        f"/memos/1.docx?exp=&sig={good['sig']}": 403,
        "/memos/%C2%B2.docx?exp=1&sig=x": 404,  # aiohttp's \d matched a superscript two (a 500 in int())
        "/memos/%D9%A3.docx?exp=1&sig=x": 404,  # an Arabic-Indic three
        "/files/%EF%BC%91.png?exp=1&sig=x": 404,  # a full-width one
        "/memos/99999999999999999999.docx?exp=1&sig=x": 404,  # beyond the database's integer
        "/memos/01.docx?exp=1&sig=x": 404,
        site.signer.url("memo", 2**31, now).removeprefix(PUBLIC): 404,  # signed, but no id of ours is that big
        site.signer.url("file", 2**31, now, "png").removeprefix(PUBLIC): 404,
        site.signer.url("memo", 99, now).removeprefix(PUBLIC): 404,  # signed, no such memo
    }
    for link, expected in refused.items():
        status, body = await site.get(link)
        assert status == expected, (link, status, body)
        assert b"PK" not in body and b"PNG" not in body


async def test_readyz_asks_the_database_and_counts_what_waits(site: Site) -> None:
    now = site.services.clock.now()
    await inbox.receive(site.services.db, "telegram", [Received("1", "7", {}), Received("2", "7", {})], now)
    async with site.services.db.transaction() as session:
        await outbox.add(session, "telegram", "7", {"text": "hi"})
    async with aiohttp.ClientSession() as session, session.get(f"{site.base}/readyz") as response:
        assert response.status == 200
        body = await response.json()
    heads = ",".join(sorted(migration_heads()))
    assert body == {"ready": True, "database": "ok", "channels": {}, "updates_waiting": 2, "messages_waiting": 1,
                    "migrations": {"database": heads, "code": heads, "current": True}}
    async with aiohttp.ClientSession() as session, session.get(f"{site.base}/healthz") as response:
        assert response.status == 200 and await response.json() == {"ok": True, "channels": {}}


async def probes_of(db: Database, timeout: float) -> tuple[int, dict[str, object], float, int]:
    """/readyz's status, body and time taken, and /healthz's status, with ``db`` as the database."""
    runner, port = await start_site(make_app(make_services(db), health_timeout=timeout), "127.0.0.1", 0)
    try:
        async with aiohttp.ClientSession() as session:
            started = asyncio.get_running_loop().time()
            async with session.get(f"http://127.0.0.1:{port}/readyz") as response:
                body = json.loads(await response.text())
                status, took = response.status, asyncio.get_running_loop().time() - started
            async with session.get(f"http://127.0.0.1:{port}/healthz") as response:
                return status, body, took, response.status
    finally:
        await runner.cleanup()
        await db.dispose()


async def test_readyz_says_when_the_database_refuses_and_healthz_stays_alive(unused_tcp_port: int) -> None:
    db = Database(f"postgresql+asyncpg://ocop:not-this-password@127.0.0.1:{unused_tcp_port}/ocop")  # nobody there
    status, body, _, alive = await probes_of(db, timeout=2)
    assert status == 503 and body["ready"] is False and alive == 200  # liveness: the process answers
    assert body["database"] not in ("", "ok") and "not-this-password" not in json.dumps(body)


async def test_readyz_says_when_the_database_does_not_answer() -> None:
    held: list[asyncio.StreamWriter] = []

    async def silent(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)  # accepts the connection and never says a word

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        status, body, took, alive = await probes_of(Database(f"postgresql+asyncpg://ocop@127.0.0.1:{port}/ocop"), 0.3)
    finally:
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()
    assert (status, body, alive) == (503, {"ready": False, "database": "timeout", "channels": {}}, 200)
    assert took < 2


async def test_readyz_says_when_the_schema_is_behind_the_code(sqlite_db: Database) -> None:
    async with sqlite_db.engine.begin() as connection:  # as a database left one migration behind says
        await connection.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    status, body, _, _ = await probes_of(sqlite_db, timeout=2)
    migrations = body["migrations"]
    assert status == 503 and isinstance(migrations, dict) and migrations["current"] is False
    assert migrations["database"] != migrations["code"] == ",".join(sorted(migration_heads()))


# -- the fuzzer -----------------------------------------------------------------------------------------------------

NUMBERISH = st.one_of(
    st.integers(0, 3).map(str),
    st.sampled_from(["", "0", "01", "-1", "+1", "1.0", "1e3", str(2**31 - 1), str(2**31), str(2**63), "9" * 40,
                     " 1", "1 ", "\x00", "😀", "1\n"]),
    st.sampled_from(["²", "１", "٣", "۴", "७", "①", "𝟗", "᭑", "１２３"]),  # digits to isdigit(), not to us
    st.text(st.characters(exclude_categories=("Cs",)), max_size=8),
)
TAMPERED = {
    "folder": st.sampled_from(["/memos/", "/files/", "/", "/memos", "//memos/", "/MEMOS/", "/healthz/", "/%6Demos/"]),
    "item": NUMBERISH,
    "extension": st.sampled_from([".docx", ".png", ".", "", ".d\x00", ".😀", ".docx.docx", ".PNG", ".²"]),
    "exp": NUMBERISH,
    "sig": st.one_of(NUMBERISH, st.text(st.sampled_from("0123456789abcdefé"), min_size=31, max_size=33)),
}


def encoded(text: str, safe: str = "") -> str:
    return quote(text, safe=safe)


@st.composite
def paths(draw: st.DrawFn, site: Site) -> str:
    """A path and a query: one of our links with one or two of its parts tampered with (a parameter dropped,
    repeated or added too), or anything at all."""
    link = draw(st.sampled_from([site.memo_link, site.file_link]))
    path, _, query = link.partition("?")
    folder, _, name = path.rpartition("/")
    item, _, extension = name.partition(".")
    parts = {"folder": folder + "/", "item": item, "extension": "." + extension, **query_of(link)}
    for part in draw(st.lists(st.sampled_from(sorted(TAMPERED)), min_size=1, max_size=2, unique=True)):
        parts[part] = draw(TAMPERED[part])
    pairs = [("exp", parts["exp"]), ("sig", parts["sig"])]
    how = draw(st.sampled_from(["as is", "as is", "drop", "repeat", "add", "anything"]))
    if how == "drop":
        pairs.pop(draw(st.integers(0, 1)))
    elif how == "repeat":
        pairs.append((draw(st.sampled_from(["exp", "sig"])), draw(NUMBERISH)))
    elif how == "add":
        pairs.append((draw(st.sampled_from(["x", "", "EXP", "exp[]"])), draw(NUMBERISH)))
    elif how == "anything":
        return "/" + encoded(draw(st.text(st.characters(exclude_categories=("Cs",)), max_size=30)), safe="/?&=")
    query = "&".join(f"{encoded(key)}={encoded(value)}" for key, value in pairs)
    return f"{parts['folder']}{encoded(parts['item'])}{encoded(parts['extension'], safe='.')}?{query}"


@settings(max_examples=300, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
async def test_any_path_or_query_is_never_a_server_error(site: Site, caplog: pytest.LogCaptureFixture,
                                                         data: st.DataObject) -> None:
    path = data.draw(paths(site), label="path")
    caplog.clear()
    status, body = await site.get(path)
    assert status in (200, 403, 404, 405), (path, status, body)
    if status in (403, 404) and path.startswith(("/memos/", "/files/")) and b"Not Found" not in body:
        assert body.decode() in OUR_TEXTS, (path, body)
    if status == 200 and not path.startswith("/healthz"):  # only a link exactly as we signed it opens
        assert unquote(path.split("?")[0]) in (site.memo_link.split("?")[0], site.file_link.split("?")[0]), path
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]
