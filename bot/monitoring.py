"""What an office's IT person (or their Prometheus, or their orchestrator) asks of a running bot:

- ``/healthz``: liveness. The process answers: 200 with what the channels report (HEALTH_REPORTS in bot/web.py). It
  never waits for the database, so that a database outage does not get the process restarted for nothing.
- ``/readyz``: readiness. 200 when the database answers within a short timeout, its schema is at the migrations'
  head, and every channel this process runs is connected; else 503. The JSON body says which, and counts the
  updates and messages waiting.
- ``/metrics``: the Prometheus text format (models/metrics.py), served only when ``[metrics] token`` is set and
  asked for with ``Authorization: Bearer <token>`` (compared in constant time). The outbox's depth and age, the
  inbox's depth, broadcast progress and the channels' states are read at scrape time.

None of them shows a secret: errors are given by their class name, channels' states are fixed words.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Callable
from datetime import datetime
from functools import cache
from typing import Any

from aiohttp import web
from alembic.script import ScriptDirectory
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text

from bot.channels import registry
from handlers.context import Services
from models import inbox, outbox
from models.broadcasts import sending_progress
from models.db import Database, alembic_config
from models.metrics import NOTIFICATION, REPLY, Metrics

log = logging.getLogger(__name__)

# Channel name → its (state, reason): "running", or "starting"/"stopped" and a fixed word why (bot/channel.py)
CHANNEL_STATES = web.AppKey("channel_states", dict[str, Callable[[], tuple[str, str]]])


@cache
def migration_heads() -> frozenset[str]:
    """The revisions the code's migrations end at (read once: they do not change while the process runs)."""
    return frozenset(ScriptDirectory.from_config(alembic_config()).get_heads())


async def database_health(db: Database, timeout: float) -> str:
    """"ok" when the database answers a trivial query within ``timeout`` seconds; else a short reason: "timeout"
    or the error's class name (never its message, which may hold the database's address)."""
    try:
        async with asyncio.timeout(timeout), db.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except TimeoutError:
        return "timeout"
    except Exception as error:  # whatever the driver raises when the database is down or refuses us
        return type(error).__name__
    return "ok"


async def database_revision(db: Database, timeout: float) -> str:
    """The schema revision the database is at; "" when it has none (never migrated) or cannot tell."""
    try:
        async with asyncio.timeout(timeout), db.engine.connect() as connection:
            rows = (await connection.execute(text("SELECT version_num FROM alembic_version"))).all()
    except Exception:
        return ""
    return ",".join(sorted(str(row[0]) for row in rows))


def known_channels(app: web.Application) -> list[str]:
    """Every declared channel (bot/channels.py) and any other this app runs: whose outbox is counted."""
    return sorted({spec.name for spec in registry()} | set(app[CHANNEL_STATES]))


async def backlog(db: Database, channels: list[str], timeout: float) -> dict[str, int] | None:
    """Updates stored and not handled yet, and messages not sent yet; None if it took too long."""
    try:
        async with asyncio.timeout(timeout), db.session() as session:
            messages = sum(row.count for row in await outbox.depth(session, channels))
            return {"updates_waiting": await inbox.backlog(session), "messages_waiting": messages}
    except Exception as error:
        log.warning("could not count the backlog (%s)", type(error).__name__)
        return None


def channel_states(app: web.Application) -> dict[str, dict[str, str]]:
    return {name: dict(zip(("state", "reason"), state(), strict=True))
            for name, state in app[CHANNEL_STATES].items()}


def healthz(reports: Callable[[web.Application], dict[str, Any]]) -> Callable[[web.Request], Any]:
    async def alive(request: web.Request) -> web.Response:
        return web.json_response({"ok": True, **reports(request.app)})

    return alive


def readyz(db: Database, timeout: float) -> Callable[[web.Request], Any]:
    async def ready(request: web.Request) -> web.Response:
        database = await database_health(db, timeout)
        channels = channel_states(request.app)
        body: dict[str, Any] = {"database": database, "channels": channels}
        if database == "ok":
            revision, heads = await database_revision(db, timeout), migration_heads()
            body["migrations"] = {"database": revision, "code": ",".join(sorted(heads)),
                                  "current": set(revision.split(",")) == heads}
            body.update(await backlog(db, known_channels(request.app), timeout) or {})
        migrated = body.get("migrations", {}).get("current", False)
        running = all(channel["state"] == "running" for channel in channels.values())
        body = {"ready": database == "ok" and migrated and running, **body}
        if not body["ready"]:
            log.warning("/readyz: not ready (database %s, migrations current %s, channels %s)", database, migrated,
                        {name: channel["state"] for name, channel in channels.items()})
        return web.json_response(body, status=200 if body["ready"] else 503)

    return ready


class Scrape:
    """/metrics: the token checked, then the figures read from the database and the channels, then the text."""

    def __init__(self, services: Services, token: str, timeout: float) -> None:
        self.db, self.metrics, self.clock, self.timeout = services.db, services.metrics, services.clock, timeout
        self.expected = f"Bearer {token}".encode()
        self._outbox_labels: set[tuple[str, str]] = set()  # set once: set to 0 when nothing waits any more
        self._channel_labels: set[tuple[str, str, str]] = set()

    def allowed(self, request: web.Request) -> bool:
        given = request.headers.get("Authorization", "").encode()
        return hmac.compare_digest(given, self.expected)

    async def handle(self, request: web.Request) -> web.Response:
        if not self.allowed(request):
            return web.Response(status=401, text="A bearer token is required.\n",
                                headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
        states = {name: state() for name, state in request.app[CHANNEL_STATES].items()}
        self._channels(states)
        up = await self._from_database(list(states), known_channels(request.app))
        self.metrics.database_up.set(1 if up else 0)
        return web.Response(body=self.metrics.render(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    def _channels(self, states: dict[str, tuple[str, str]]) -> None:
        metrics = self.metrics
        for labels in self._channel_labels:
            metrics.channel_state.labels(*labels).set(0)
        for name, (state, reason) in states.items():
            metrics.channel_up.labels(name).set(1 if state == "running" else 0)
            metrics.channel_state.labels(name, state, reason).set(1)
            self._channel_labels.add((name, state, reason))

    async def _from_database(self, running: list[str], channels: list[str]) -> bool:
        """The outbox and inbox depths and broadcast progress: a few grouped counts, with a short timeout."""
        try:
            async with asyncio.timeout(self.timeout), self.db.session() as session:
                waiting = await outbox.depth(session, channels)
                updates = await inbox.backlog(session)
                broadcasts, recipients = await sending_progress(session)
        except Exception as error:
            log.warning("/metrics: the database did not answer (%s)", type(error).__name__)
            return False
        self._outbox(waiting, running, self.clock.now())  # the clock the outbox's times are written by
        self.metrics.inbox_depth.set(updates)
        self.metrics.broadcasts_sending.set(broadcasts)
        for status, count in recipients.items():
            self.metrics.broadcast_recipients.labels(status).set(count)
        return True

    def _outbox(self, waiting: list[outbox.Depth], channels: list[str], now: datetime) -> None:
        metrics: Metrics = self.metrics
        depth = {(name, kind): 0 for name in channels for kind in (REPLY, NOTIFICATION)}
        depth |= {labels: 0 for labels in self._outbox_labels}
        oldest: dict[str, float] = {name: 0.0 for name, _kind in depth}
        for row in waiting:
            kind = NOTIFICATION if row.notification else REPLY
            depth[(row.channel, kind)] = row.count
            age = max(0.0, (now - row.oldest).total_seconds())
            oldest[row.channel] = max(oldest.get(row.channel, 0.0), age)
        for (name, kind), count in depth.items():
            metrics.outbox_depth.labels(name, kind).set(count)
            self._outbox_labels.add((name, kind))
        for name, age in oldest.items():
            metrics.outbox_oldest_seconds.labels(name).set(age)


def setup(app: web.Application, services: Services, *, token: str | None, timeout: float,
          reports: Callable[[web.Application], dict[str, Any]]) -> None:
    """/healthz, /readyz, and /metrics when a token is set."""
    app[CHANNEL_STATES] = {}
    app.router.add_get("/healthz", healthz(reports))
    app.router.add_get("/readyz", readyz(services.db, timeout))
    if token:
        app.router.add_get("/metrics", Scrape(services, token, timeout).handle)
