"""Broadcast benchmark: 10,000 recipients through the real /broadcast flow and sender, against the loopback Telegram
Bot API (tests/fake_telegram.py, run in a process of its own) enforcing the platform's overall limit.

    .venv/bin/python bench/broadcast.py                    # free (30 msg/s, ~6 min) and paid (1000 msg/s) modes
    .venv/bin/python bench/broadcast.py --modes paid       # one mode
    .venv/bin/python bench/broadcast.py --recipients 1000  # a shorter run

Injected: 1% of recipients answer their first send with 429 (retry_after 1 s), 2% have blocked the bot (403).
The server also enforces Telegram's one message a second to a chat, and the admin keeps chatting with the bot
(a search every two seconds, through the real Telegram channel, whose pacer the broadcast lane shares) while their
broadcast goes out: their chat gets their copy, the progress edits and the replies, and should get no 429.
Measured: achieved rate as a share of the limit (every call the server accepted, the admin's progress edits
included; over the first 99% of the calls, and from the first to the last — the last 1% are mostly the 429'd
recipients, who must wait their retry_after), recipients lost, duplicates, time from the admin's confirmation to the
first recipient's message. Exit status: 0 when it ran (targets may still FAIL; --strict makes that 1), 2 when it could not.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
import traceback
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the project root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, insert
from sqlmodel import col, select

from bench.fake_process import FakeBotApi, Limits, Sent
from bot.broadcast_sender import build_sender
from bot.channel import RecentSends, Shared
from bot.config import AdminSettings, BroadcastSettings, Settings, TelegramSettings
from bot.telegram import CHANNEL
from bot.web import make_app
from handlers.actions import Answer
from handlers.app import Conversation
from handlers.context import Services
from handlers.messages import Capabilities, Incoming
from models.broadcasts import Broadcast, Delivery
from models.db import Database, utcnow
from models.people import BuyerProfile, Identity, User
from models.search_service import SearchService
from tests.fake_telegram import TOKEN

ADMIN = 9_000_000
FIRST = 10_000_000
MODES = {"free": 30.0, "paid": 1000.0}  # the limit the fake server enforces, messages a second
RATE_TARGET = {"free": 0.95, "paid": 0.9}
FIRST_MESSAGE_TARGET = 1.0  # seconds
THROTTLED_SHARE, BLOCKED_SHARE = 0.01, 0.02
CHAT_GAP = 1.0  # Telegram's: seconds between two messages to one chat (the server answers 429 within it)
ADMIN_EVERY = 2.0  # seconds between two of the admin's searches while the broadcast goes out


class CannotRun(Exception):
    pass


@dataclass(frozen=True)
class Result:
    mode: str
    recipients: int
    limit: float
    accepted: int  # calls the server accepted (sends, 403s, progress edits), the first one left out
    seconds: float  # from the first accepted call to the last
    sustained: float  # calls a second while the first 99% of them were made
    lost: int
    duplicates: int
    first_message: float
    injected_429: int
    flood_429: int
    blocked: int
    failed: int
    total_seconds: float
    sender_cpu: float = 0.0  # CPU seconds of the bot's process from the confirmation to the end
    server_cpu: float = 0.0  # CPU seconds of the fake Bot API's process, all of its life
    pace: float = 0.0  # the sender's configured rate (telegram_rate / telegram_paid_rate)
    admin_messages: int = 0  # messages the admin's chat got (copy, progress, replies)
    admin_429: int = 0  # 429s the server answered to messages for the admin's chat

    @property
    def ratio(self) -> float:
        return self.sustained / self.limit

    @property
    def attainable(self) -> float:
        """The baseline: the configured pace as a share of the limit, less the sends the injected 429s refuse (they
        take a send's place but are not accepted calls)."""
        return self.pace / self.limit * self.accepted / (self.accepted + self.injected_429)

    @property
    def whole_ratio(self) -> float:
        return self.accepted / self.seconds / self.limit if self.seconds else 0.0

    @property
    def passed(self) -> bool:
        return (self.ratio >= RATE_TARGET[self.mode] and self.lost == 0 and self.admin_429 == 0
                and self.first_message <= FIRST_MESSAGE_TARGET)


# -- one run ----------------------------------------------------------------------------------------------------


async def add_recipients(db: Database, count: int) -> None:
    """``count`` buyers on Telegram (chats FIRST…) and the admin, written in bulk."""
    now = utcnow()
    users = [{"id": n + 1, "display_name": f"Buyer {n}", "role": "buyer", "language": "vi", "phone": "",
              "producer_id": None, "blocked": False, "created_at": now} for n in range(count)]
    users.append({**users[0], "id": count + 1, "display_name": "Office", "role": "admin"})
    identities = [{"id": n + 1, "user_id": n + 1, "channel": "telegram", "external_id": str(FIRST + n),
                   "created_at": now, "unreachable_since": None} for n in range(count)]
    identities.append({**identities[0], "id": count + 1, "user_id": count + 1, "external_id": str(ADMIN)})
    profiles = [{"user_id": n + 1, "company": f"Cty {n}", "kind": "distributor", "regions": []} for n in range(count)]
    async with db.transaction() as session:
        for table, rows in ((User, users), (Identity, identities), (BuyerProfile, profiles)):
            for start in range(0, len(rows), 2000):
                await session.exec(insert(table), params=rows[start:start + 2000])  # type: ignore[call-overload]


async def confirm_broadcast(db: Database) -> float:
    """The office's /broadcast to every buyer, through the conversation; when the confirmation was committed."""
    services = Services(db=db, search=SearchService(db), admin_ids={"telegram": frozenset({str(ADMIN)})},
                        broadcast_channels=("telegram",))
    conversation = Conversation(services)
    steps = [{"text": "/broadcast"}, {"text": "Hội chợ OCOP khai mạc 8 giờ sáng thứ Bảy tại Hà Nội."},
             {"action": Answer("broadcast", "photo", "skip").encode()},
             {"action": Answer("broadcast", "audience", "buyers").encode()}]
    for step in steps:
        await conversation.handle(Incoming("telegram", str(ADMIN), str(ADMIN), **step), Capabilities())
    send = Answer("broadcast", "preview", "send").encode()
    replies = await conversation.handle(Incoming("telegram", str(ADMIN), str(ADMIN), action=send), Capabilities())
    confirmed = time.monotonic()
    if not replies or "#1" not in replies[-1].text:
        raise CannotRun(f"the broadcast was not confirmed: {replies}")
    return confirmed


async def wait_finished(db: Database, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        async with db.session() as session:
            broadcast = await session.get(Broadcast, 1)
        if broadcast is not None and broadcast.status == "done" and broadcast.final_reported:
            return
        await asyncio.sleep(0.5)
    raise CannotRun("the broadcast did not finish in time")


async def run(mode: str, recipients: int, database: str | None, seed: int) -> Result:
    limit = MODES[mode]
    rng = random.Random(seed)
    chats = list(range(FIRST, FIRST + recipients))
    marked = rng.sample(chats, round(recipients * (THROTTLED_SHARE + BLOCKED_SHARE)))
    throttled, blocked = marked[: round(recipients * THROTTLED_SHARE)], marked[round(recipients * THROTTLED_SHARE):]
    server = FakeBotApi(Limits(per_second=limit, chat_gap=CHAT_GAP, blocked=blocked, throttled=throttled))
    url = server.start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            db = Database(database or f"sqlite+aiosqlite:///{tmp}/bench.sqlite3")
            try:
                await db.upgrade()
                await add_recipients(db, recipients)
                settings = Settings(
                    telegram=TelegramSettings(token=TOKEN, base_url=f"{url}/bot", poll_timeout=1),  # type: ignore[arg-type]
                    admins=AdminSettings(telegram=[str(ADMIN)]),
                    broadcast=BroadcastSettings(telegram_paid=mode == "paid"),
                )
                services = Services(db=db, search=SearchService(db), admin_ids={"telegram": frozenset({str(ADMIN)})})
                shared = Shared(settings, Conversation(services), None, RecentSends())
                channel = CHANNEL.build(shared)  # the admin chats through it, sharing its pacer with the lane
                await channel.start(make_app(services))
                chatting = asyncio.create_task(channel.run())
                sender = build_sender(settings, db, shared=shared)
                assert sender is not None
                task = asyncio.create_task(sender.run())
                await asyncio.wait_for(sender.elected.wait(), 30)
                await asyncio.wait_for(channel.connected.wait(), 30)
                started, cpu = time.monotonic(), time.process_time()
                confirmed = await confirm_broadcast(db)
                searches = int(recipients / limit / ADMIN_EVERY) + 1
                server.push([(ADMIN, "mật ong")] * searches, ADMIN_EVERY)
                await wait_finished(db, timeout=recipients / limit * 3 + 60)
                total, cpu = time.monotonic() - started, time.process_time() - cpu
                await server.pushed()
                await sender.close()
                task.cancel()
                channel.stopping.set()
                await asyncio.gather(task, chatting, return_exceptions=True)
                async with db.session() as session:
                    rows = (await session.exec(select(Delivery.status, func.count())
                                                .group_by(col(Delivery.status)))).all()
                    marked_blocked = (await session.exec(select(func.count()).select_from(User)
                                                         .where(User.blocked))).one()
            finally:
                await db.dispose()
        statuses = dict(rows)
        calls, server_cpu = server.calls()
    finally:
        server.stop()
    result = summarise(mode, recipients, limit, calls, set(blocked), confirmed, total, statuses, marked_blocked)
    pace = settings.broadcast.telegram_paid_rate if mode == "paid" else settings.broadcast.telegram_rate
    admin = [c for c in calls if c.chat_id == ADMIN]
    return replace(result, sender_cpu=cpu, server_cpu=server_cpu, pace=pace,
                   admin_messages=sum(1 for c in admin if c.accepted),
                   admin_429=sum(1 for c in admin if c.method.endswith("!429")))


def summarise(
    mode: str, recipients: int, limit: float, calls: list[Sent], blocked: set[int],
    confirmed: float, total: float, statuses: dict[str, int], marked_blocked: int,
) -> Result:
    accepted = sorted(c.at for c in calls if c.accepted)
    delivered = Counter(c.chat_id for c in calls if c.method == "sendMessage" and c.chat_id != ADMIN)
    reachable = set(range(FIRST, FIRST + recipients)) - blocked
    first = min(c.at for c in calls if c.method == "sendMessage" and c.chat_id != ADMIN)
    refused = [c.chat_id for c in calls if c.method == "sendMessage!429" and c.chat_id != ADMIN]
    if statuses.get("blocked", 0) != len(blocked) or marked_blocked != len(blocked):
        print(f"  note: {statuses.get('blocked', 0)} deliveries and {marked_blocked} users marked blocked, "
              f"{len(blocked)} expected", flush=True)
    most = int(len(accepted) * 0.99)
    return Result(
        mode=mode, recipients=recipients, limit=limit, accepted=len(accepted) - 1,
        seconds=accepted[-1] - accepted[0], sustained=(most - 1) / (accepted[most - 1] - accepted[0]),
        lost=len(reachable - set(delivered)),
        duplicates=sum(n - 1 for n in delivered.values() if n > 1), first_message=first - confirmed,
        injected_429=round(recipients * THROTTLED_SHARE), flood_429=max(0, len(refused) - round(recipients * THROTTLED_SHARE)),
        blocked=statuses.get("blocked", 0), failed=statuses.get("failed", 0), total_seconds=total,
    )


def report(result: Result) -> str:
    verdict = "PASS" if result.passed else "FAIL"
    return "\n".join([
        f"{result.mode} mode, {result.recipients} recipients, server limit {result.limit:g} msg/s: {verdict}",
        f"  achieved rate       {result.sustained:8.1f} msg/s = {result.ratio:.3f} of the limit over the first 99% "
        f"of the calls (target ≥ {RATE_TARGET[result.mode]})",
        f"                      {result.attainable * result.limit:8.1f} msg/s = {result.attainable:.3f} at most at the "
        f"configured {result.pace:g} msg/s, the injected 429s refused (the baseline)",
        f"                      {result.accepted / result.seconds:8.1f} msg/s = {result.whole_ratio:.3f} from the first "
        f"call to the last (the last 1%: 429 retries after retry_after, the final progress edit)",
        f"  recipients lost     {result.lost:8d} (target 0)",
        f"  duplicates          {result.duplicates:8d}",
        f"  first message after {result.first_message:8.3f} s from the confirmation (target ≤ {FIRST_MESSAGE_TARGET:g} s)",
        f"  429 injected        {result.injected_429:8d}; 429 from the server's flood limit: {result.flood_429}",
        f"  blocked (403)       {result.blocked:8d}; failed: {result.failed}",
        f"  admin's chat        {result.admin_messages:8d} messages (copy, progress edits, replies to their "
        f"searches); 429s: {result.admin_429} (target 0)",
        f"  whole broadcast     {result.total_seconds:8.1f} s; CPU: the bot {result.sender_cpu:.1f} s "
        f"({result.sender_cpu / result.recipients * 1000:.2f} ms a recipient), the fake server {result.server_cpu:.1f} s",
    ])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipients", type=int, default=10_000)
    parser.add_argument("--modes", default="free,paid", help="comma-separated: free, paid")
    parser.add_argument("--database", help="SQLAlchemy URL (default: a fresh SQLite file)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args()
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if not modes or any(m not in MODES for m in modes) or args.recipients < 100:
        parser.error("modes are free and/or paid; at least 100 recipients")
    results = []
    for mode in modes:
        try:
            result = asyncio.run(run(mode, args.recipients, args.database, args.seed))
        except Exception as error:
            traceback.print_exc()
            print(f"bench/broadcast.py: the {mode} run could not complete: {error}", file=sys.stderr)
            return 2
        print(report(result), flush=True)
        results.append(result)
    return 1 if args.strict and not all(r.passed for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
