"""The broadcast sender: drains the outbox of models.broadcasts under each platform's limits and keeps the admin
told how it goes.

- One process sends at a time: the one holding ``sender_lock`` (a PostgreSQL advisory lock; with SQLite, run one
  process). The others wait, and take over within ``lock_retry_seconds`` when it dies.
- Each channel has a lane: an evenly spaced rate with a ceiling on any one second's sends (``SendRate``: time lost
  to a stall is made up without a burst), a bound on sends in flight, and about one message a second to any one
  chat, counted with the channel's replies in this process (its ``Pacer``): the admin's own chat gets their
  replies, their copy and the progress message spaced. The broadcast has its own rate, not the interactive
  channel's: queued behind ten thousand broadcast messages, a user's reply would wait minutes. The lane instead
  gives way to the replies this process is sending (``RecentSends``, counted by the channels as they send), so
  answers always come first.
- A send's outcome is written (in batches of ``flush_seconds``) before its place in flight is freed: after a crash
  at most ``in_flight`` recipients of a channel get the message twice, and nobody is left out.
- 429: that recipient waits retry_after (the progress message too); when 429s come thick (a flood on the whole
  bot) the lane pauses. 403: the user blocked the bot, marked and skipped. Network errors and timeouts: retried
  with doubling waits. A retry goes when due (once its wait is written), not when the next pass over the table
  reaches it.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import math
import time
from collections import deque
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from bot.broadcast_transports import Transport
from bot.channel import ChannelSpec, RecentSends, Shared
from bot.channels import registry
from bot.config import BroadcastSettings, Settings
from bot.links import link_signer
from bot.pacing import Pacer
from bot.retry import ChannelUnavailable, RecipientBlocked, RetryPolicy, SendFailed, Throttled
from bot.runtime import build_services
from handlers.app import Conversation
from handlers.broadcast import progress_reply
from handlers.i18n import translator
from models.broadcasts import (
    Broadcast,
    BroadcastStatus,
    DeliveryStatus,
    Job,
    Outcome,
    Progress,
    SenderLock,
    due_jobs,
    finish_completed,
    progress,
    record_outcomes,
    sender_lock,
    to_report,
)
from models.clock import Clock, SystemClock
from models.db import Database
from models.metrics import Metrics
from models.notifications import enqueue
from models.people import User
from models.stored_files import StoredFile, load, ref_id

log = logging.getLogger(__name__)

PER_CHAT_SECONDS = 1.0  # Telegram: about one message a second to one chat
FLOOD_SHARE = 0.1  # more than this share of a second's sends answered 429 (and at least FLOOD_MIN): a bot-wide flood
FLOOD_MIN = 5
IDLE_FACTOR = 4  # with no broadcast to follow, look four times less often
QUARTER = 25  # channels that cannot edit get a fresh progress message each quarter
TIMER_SLACK = 0.002  # how late the event loop's timers may wake (epoll counts milliseconds)
MAX_RETRIES_KEPT = 100_000  # retries a lane keeps in memory to send when due


class SendRate:
    """Sends spaced evenly at ``rate`` a second, less what ``interactive`` uses (never below ``floor``), and never
    more than ``ceiling`` of them within any one second, counted as they go: rate × (1 + ``headroom``) in whole
    messages (978 at 950 a second; 29 at Telegram's free 29 a second).

    Sends go one at a time, in the order they asked. When the lane falls behind while sends are waiting (the
    process was held up: a garbage collection, a slow write), up to ``catch_up`` seconds of lost time are made
    up, at ``boost`` times the rate at most and within the ceiling: no burst, and no second holding more than the
    ceiling. Time with nothing waiting is not made up (a new broadcast starts evenly). A pause (bot-wide flood)
    holds every waiting send until it ends."""

    def __init__(
        self,
        rate: float,
        *,
        interactive: RecentSends | None = None,
        floor: float = 1.0,
        headroom: float = 0.03,
        catch_up: float = 0.5,
        boost: float = 1.5,
    ) -> None:
        self.rate = rate
        self.ceiling = max(int(rate * (1 + headroom)), math.ceil(rate))  # at least what even spacing puts in 1 s
        self.catch_up = catch_up
        self.boost = boost
        self.interactive = interactive
        self.floor = min(floor, rate)
        self._next = 0.0  # when the next send is due on the even schedule
        self._last = -math.inf  # when the last one went, for the pace of making up
        self._idle = True  # nothing waiting since the last send
        self._sent: deque[float] = deque(maxlen=self.ceiling)  # when the last ``ceiling`` sends went
        self._line: deque[asyncio.Future[None]] = deque()  # the sends waiting, the first one timing its turn
        self._throttled: deque[float] = deque()

    def current(self) -> float:
        if self.interactive is None:
            return self.rate
        return max(self.floor, self.rate - self.interactive.per_second())

    def _ceiling_now(self) -> int:
        if self.interactive is None:
            return self.ceiling
        return max(math.ceil(self.current()), self.ceiling - self.interactive.per_second())

    def _due(self, now: float) -> float:
        """When the first in line may go."""
        rate = self.current()
        due = max(self._next, now - self.catch_up, self._last + 1.0 / (self.boost * rate))
        limit = self._ceiling_now()
        if len(self._sent) >= limit:
            due = max(due, self._sent[-limit] + 1.0)
        return due

    async def take(self) -> None:
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._line.append(turn)
        try:
            if self._line[0] is not turn:
                await turn  # the one before hands over
            if self._idle:  # nobody was waiting: nothing to make up
                self._next = max(self._next, time.monotonic())
                self._idle = False
            while (wait := (due := self._due(now := time.monotonic())) - now) > 0:
                await asyncio.sleep(wait)  # _due again after: a pause may have come meanwhile
            self._next = max(self._next, now - self.catch_up) + 1.0 / self.current()
            # Counted as gone when due, unless later than the timers' slack: a timer waking a millisecond late
            # does not hold up the sends a second later, and after a stall the late ones follow at the boosted pace.
            self._last = max(due, now - TIMER_SLACK)
            self._sent.append(self._last)
        finally:
            self._leave(turn)

    def _leave(self, turn: asyncio.Future[None]) -> None:
        if not self._line or self._line[0] is not turn:
            with suppress(ValueError):  # cancelled before its turn
                self._line.remove(turn)
            return
        self._line.popleft()
        while self._line and self._line[0].done():  # cancelled
            self._line.popleft()
        if self._line:
            self._line[0].set_result(None)
        else:
            self._idle = True

    def throttled(self, retry_after: float) -> None:
        """A 429: one alone is about that chat; many within a second mean the whole bot must wait."""
        now = time.monotonic()
        self._throttled.append(now)
        while self._throttled[0] < now - 1.0:
            self._throttled.popleft()
        if len(self._throttled) >= max(FLOOD_MIN, FLOOD_SHARE * self.rate):
            self._throttled.clear()
            self.pause(retry_after)

    def pause(self, seconds: float) -> None:
        log.warning("broadcast sends paused for %.1f s", seconds)
        self._next = max(self._next, time.monotonic() + seconds)


@dataclass(eq=False)
class Lane:
    """One channel's sending: its transport, rate and bound on sends whose outcome is not written yet."""

    transport: Transport
    rate: SendRate
    in_flight: int
    window: asyncio.Semaphore = field(init=False)
    flying: dict[int, int] = field(default_factory=dict)  # delivery -> broadcast: sent, outcome not yet written
    last_sent: dict[str, float] = field(default_factory=dict)  # chat -> monotonic time of our last send to it
    # Outcome batches written so far, and the batch that settled each delivery: a query that began before a
    # delivery's outcome was written may still show it pending, and must not send it again.
    epoch: int = 0
    settled: dict[int, int] = field(default_factory=dict)
    blocked: set[str] = field(default_factory=set)  # chats that answered 403 in this run: not asked again
    # Deliveries written back as pending with a time to try again (429, network errors), soonest first: sent again
    # when due, without waiting for the next pass over the table to reach them. Each with the batch that wrote it.
    retries: list[tuple[datetime, int, int, Job]] = field(default_factory=list)

    # The channel's pacer in this process, shared with its replies: a chat the replies just wrote to (the admin's)
    # waits its turn here too, and a send here counts for them.
    pacer: Pacer | None = None

    def __post_init__(self) -> None:
        self.window = asyncio.Semaphore(self.in_flight)

    @property
    def channel(self) -> str:
        return self.transport.channel

    def chat_free_at(self, chat_id: str) -> float:
        """When the next message to the chat may go (monotonic clock)."""
        last = self.last_sent.get(chat_id)
        due = last + PER_CHAT_SECONDS if last is not None else 0.0
        return max(due, self.pacer.chat_free_at(chat_id)) if self.pacer is not None else due

    async def space(self, chat_id: str) -> None:
        """Keep about one message a second to one chat (two broadcasts in a row, a reply just before)."""
        if (wait := self.chat_free_at(chat_id) - time.monotonic()) > 0:
            await asyncio.sleep(wait)

    async def turn(self, chat_id: str) -> None:
        """Wait for the chat's turn and a slot of the lane's rate, then take the chat: a reply that comes meanwhile
        waits its gap from now (checked again after the rate's wait, during which a reply may have gone)."""
        while True:
            await self.space(chat_id)
            await self.rate.take()
            if self.chat_free_at(chat_id) <= time.monotonic():
                self.sent_to(chat_id)
                return

    def sent_to(self, chat_id: str) -> None:
        now = time.monotonic()
        if self.pacer is not None:
            self.pacer.note_sent(chat_id)
        self.last_sent[chat_id] = now
        if len(self.last_sent) > 50_000:
            self.last_sent = {chat: at for chat, at in self.last_sent.items() if at > now - PER_CHAT_SECONDS}

    def free(self, delivery_id: int) -> None:
        self.flying.pop(delivery_id, None)
        self.window.release()

    def settle(self, delivery_ids: Sequence[int]) -> None:
        """Their outcomes are written: free their places in flight."""
        self.epoch += 1
        for delivery_id in delivery_ids:
            self.settled[delivery_id] = self.epoch
            self.free(delivery_id)
        if len(self.settled) > 100_000:
            self.settled = {d: e for d, e in self.settled.items() if e > self.epoch - 100}

    def may_send(self, job: Job, seen_epoch: int) -> bool:
        """Not in flight, and not settled since the query that found it began."""
        return job.delivery_id not in self.flying and self.settled.get(job.delivery_id, 0) <= seen_epoch

    def retry_later(self, job: Job, at: datetime) -> None:
        """Its outcome (pending until ``at``) was written in the latest batch."""
        if len(self.retries) < MAX_RETRIES_KEPT:  # beyond that, the passes over the table find them
            heapq.heappush(self.retries, (at, job.delivery_id, self.epoch, job))

    def retry_due(self, now: datetime) -> bool:
        return bool(self.retries) and self.retries[0][0] <= now

    def due_retries(self, now: datetime) -> list[Job]:
        """The retries due by ``now`` that nothing has settled or sent since."""
        due = []
        while self.retry_due(now):
            _at, delivery_id, epoch, job = heapq.heappop(self.retries)
            if self.settled.get(delivery_id) == epoch and delivery_id not in self.flying:
                due.append(job)
        return due


@dataclass(frozen=True)
class Content:
    text: str
    photo: str | StoredFile  # a link, or the picture the admin sent


class BroadcastSender:
    """Runs forever: waits to be the sender, then drains every lane and reports progress until stopped."""

    def __init__(
        self,
        db: Database,
        lanes: Sequence[Lane],
        settings: BroadcastSettings,
        *,
        clock: Clock | None = None,
        poll_seconds: float = 0.25,
        flush_seconds: float | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.db = db
        self.metrics = metrics or Metrics()
        self.lanes = {lane.channel: lane for lane in lanes}
        self.settings = settings
        self.clock = clock or SystemClock()
        self.poll_seconds = poll_seconds
        # Outcomes wait this long to be written together; a quarter of the time the fastest lane takes to fill
        # its places in flight, so that waiting to be written never holds up sending.
        fill = min((lane.in_flight / lane.rate.rate for lane in lanes), default=1.0)
        self.flush_seconds = flush_seconds if flush_seconds is not None else min(0.1, fill / 4)
        self.elected = asyncio.Event()  # set while this process is the sender (tests and logs)
        self._outcomes: asyncio.Queue[tuple[Lane, Outcome]] = asyncio.Queue()
        self._stopped: set[int] = set()  # broadcasts cancelled: jobs already fetched are dropped
        self._content: dict[int, Content] = {}
        self._looked: dict[int, float] = {}  # broadcast -> when its progress was last counted and reported
        self._report_after: dict[int, float] = {}  # broadcast -> no progress message before (a 429's retry_after)
        self._sends: set[asyncio.Task[None]] = set()
        self._closing = False
        self._finished = asyncio.Event()

    async def close(self, grace: float = 5.0) -> None:
        """Start no more sends, let those in flight finish and be written, and let ``run`` return (the caller
        cancels it after ``grace`` seconds): a clean stop leaves nobody to be sent the message twice."""
        self._closing = True
        with suppress(TimeoutError):
            await asyncio.wait_for(self._finished.wait(), grace)

    @property
    def _idle(self) -> bool:
        return not any(lane.flying for lane in self.lanes.values())

    async def run(self) -> None:
        for lane in list(self.lanes.values()):
            try:
                await _start(lane.transport)
            except ChannelUnavailable as error:
                log.error("%s: no broadcasts on this channel: %s", lane.channel, error)
                del self.lanes[lane.channel]
        standby_told = False
        try:
            while not self._closing:
                try:
                    async with sender_lock(self.db) as lock:
                        if lock is None:
                            if not standby_told:
                                log.info("another process sends the broadcasts; standing by")
                                standby_told = True
                        else:
                            log.info("this process sends the broadcasts (%s)", ", ".join(self.lanes))
                            standby_told = False
                            await self._serve(lock)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("broadcast sender stopped; again in %.0f s", self.settings.lock_retry_seconds)
                if not self._closing:
                    await asyncio.sleep(self.settings.lock_retry_seconds)
        finally:
            for lane in self.lanes.values():
                await lane.transport.stop()
            self._finished.set()

    async def _serve(self, lock: SenderLock) -> None:
        self.elected.set()
        tasks = [asyncio.create_task(self._watch(lock)), asyncio.create_task(self._record())]
        tasks += [asyncio.create_task(self._drain(lane)) for lane in self.lanes.values()]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                task.result()  # re-raise what stopped it
        finally:
            self.elected.clear()
            for task in [*tasks, *self._sends]:
                task.cancel()
            await asyncio.gather(*tasks, *self._sends, return_exceptions=True)
            for lane in self.lanes.values():  # unrecorded sends stay pending in the database: sent again later
                lane.flying.clear()
                lane.retries.clear()  # the next sender finds them in the table
                lane.window = asyncio.Semaphore(lane.in_flight)
            self._outcomes = asyncio.Queue()

    # -- sending ------------------------------------------------------------------------------------------------

    async def _drain(self, lane: Lane) -> None:
        """Pass over the pending deliveries in id order, a page at a time; retries (429, network errors) go when
        due, in between."""
        cursor = 0
        page = max(50, int(lane.rate.rate * 2))
        while not self._closing:
            for job in lane.due_retries(self.clock.now()):
                await self._dispatch(lane, job)
            seen = lane.epoch
            async with self.db.session() as session:
                jobs = await due_jobs(session, lane.channel, self.clock.now(), after_id=cursor, limit=page)
            if not jobs:
                cursor = 0
                await asyncio.sleep(self._idle_wait(lane))  # a new broadcast starts within half a second
                continue
            cursor = jobs[-1].delivery_id
            for job in jobs:
                if self._closing:
                    break
                if lane.retries and lane.retry_due(self.clock.now()):
                    for retry in lane.due_retries(self.clock.now()):
                        await self._dispatch(lane, retry)
                if lane.may_send(job, seen):
                    await self._dispatch(lane, job)

    def _idle_wait(self, lane: Lane) -> float:
        """Until the next pass: half a second, or less when a retry comes due sooner."""
        wait = self.poll_seconds * 2
        if lane.retries:
            wait = min(wait, max(0.0, (lane.retries[0][0] - self.clock.now()).total_seconds()))
        return wait

    async def _dispatch(self, lane: Lane, job: Job) -> None:
        if job.broadcast_id in self._stopped or self._closing:
            return
        content = await self._content_of(job.broadcast_id)  # read once, here: sends never wait on the database
        await lane.window.acquire()
        lane.flying[job.delivery_id] = job.broadcast_id
        task = asyncio.create_task(self._send(lane, job, content))
        self._sends.add(task)
        task.add_done_callback(self._sends.discard)

    async def _send(self, lane: Lane, job: Job, content: Content) -> None:
        outcome: Outcome | None = None
        try:
            if job.external_id in lane.blocked:
                outcome = Outcome(job, DeliveryStatus.BLOCKED)
                return
            await lane.turn(job.external_id)
            if job.broadcast_id not in self._stopped and not self._closing:
                outcome = await self._attempt(lane, job, content)
        except Exception:  # the delivery stays pending and is tried in a later pass
            log.exception("broadcast delivery %s could not be sent", job.delivery_id)
        finally:
            if outcome is None:
                lane.free(job.delivery_id)
            else:
                self._outcomes.put_nowait((lane, outcome))

    async def _attempt(self, lane: Lane, job: Job, content: Content) -> Outcome:
        outcome = await self._try(lane, job, content)
        status = outcome.status
        counted = "retry" if status is DeliveryStatus.PENDING else status.value
        self.metrics.broadcast_deliveries.labels(lane.channel, counted).inc()
        if status is DeliveryStatus.PENDING:
            self.metrics.retries.labels(lane.channel).inc()
        return outcome

    async def _try(self, lane: Lane, job: Job, content: Content) -> Outcome:
        try:
            await lane.transport.send(job.external_id, content.text, content.photo)
        except Throttled as error:
            self.metrics.throttled.labels(lane.channel).inc()
            lane.rate.throttled(error.retry_after)
            # retry_after counts from the platform's answer, not from when we asked
            wait = timedelta(seconds=error.retry_after)
            return Outcome(job, DeliveryStatus.PENDING, str(error), self.clock.now() + wait, counts_as_attempt=False)
        except RecipientBlocked:
            lane.blocked.add(job.external_id)
            return Outcome(job, DeliveryStatus.BLOCKED)
        except SendFailed as error:
            return Outcome(job, DeliveryStatus.FAILED, str(error))
        except ChannelUnavailable as error:
            lane.rate.pause(self.settings.retry_max_seconds)
            wait = timedelta(seconds=self.settings.retry_max_seconds)
            return Outcome(job, DeliveryStatus.PENDING, str(error), self.clock.now() + wait, counts_as_attempt=False)
        except Exception as error:  # network errors, timeouts, anything unforeseen: try again later
            if job.attempts + 1 >= self.settings.max_attempts:
                return Outcome(job, DeliveryStatus.FAILED, f"{type(error).__name__}: {error}")
            policy = RetryPolicy(self.settings.retry_first_seconds, self.settings.retry_max_seconds)
            delay = policy.delay(job.attempts)
            log.info("broadcast send to %s failed (%s); again in %.0f s", lane.channel, error, delay)
            retry_at = self.clock.now() + timedelta(seconds=delay)
            return Outcome(job, DeliveryStatus.PENDING, f"{type(error).__name__}: {error}", retry_at)
        lane.sent_to(job.external_id)
        return Outcome(job, DeliveryStatus.SENT)

    async def _content_of(self, broadcast_id: int) -> Content:
        if broadcast_id not in self._content:
            async with self.db.session() as session:
                broadcast = await session.get(Broadcast, broadcast_id)
                assert broadcast is not None
                kept = ref_id(broadcast.photo)  # a picture kept past its time is left out; the text still goes
                picture = await load(session, kept, self.clock.now()) if kept is not None else None
            self._content[broadcast_id] = Content(broadcast.text, picture or ("" if kept else broadcast.photo))
        return self._content[broadcast_id]

    async def _record(self) -> None:
        """Write outcomes in batches; only then free their places in flight. Ends once closing and idle."""
        while not (self._closing and self._idle):
            try:
                batch = [await asyncio.wait_for(self._outcomes.get(), self.poll_seconds)]
            except TimeoutError:
                continue
            await asyncio.sleep(self.flush_seconds)
            while not self._outcomes.empty():
                batch.append(self._outcomes.get_nowait())
            by_channel: dict[str, list[Outcome]] = {}
            for lane, outcome in batch:
                by_channel.setdefault(lane.channel, []).append(outcome)
            while True:
                try:
                    async with self.db.transaction() as session:
                        for channel, outcomes in by_channel.items():
                            await record_outcomes(session, channel, outcomes, self.clock.now())
                    break
                except Exception:
                    log.exception("could not record %d broadcast outcomes; trying again", len(batch))
                    await asyncio.sleep(1.0)
            for lane in {lane for lane, _ in batch}:
                mine = [outcome for owner, outcome in batch if owner is lane]
                lane.settle([outcome.job.delivery_id for outcome in mine])
                for outcome in mine:
                    if outcome.status is DeliveryStatus.PENDING and outcome.retry_at is not None:
                        job = outcome.job
                        if outcome.counts_as_attempt:
                            job = replace(job, attempts=job.attempts + 1)
                        lane.retry_later(job, outcome.retry_at)

    # -- watching and reporting ---------------------------------------------------------------------------------

    async def _watch(self, lock: SenderLock) -> None:
        checked = 0.0
        while not self._closing:
            if time.monotonic() - checked >= 1.0:
                await lock.check()  # raises when the lock's connection is gone: stop sending at once
                checked = time.monotonic()
            busy = await self._report()
            await asyncio.sleep(self.poll_seconds if busy else self.poll_seconds * IDLE_FACTOR)

    async def _report(self) -> bool:
        """Finish what is done, note cancellations, tell the admins; False when there is nothing to follow."""
        async with self.db.transaction() as session:
            await finish_completed(session, self.clock.now())
            found = await to_report(session)
            if not found:
                return False
            views = []
            for broadcast in found:
                number = broadcast.id or 0
                if broadcast.status == BroadcastStatus.CANCELLED.value:
                    self._stopped.add(number)
                    if self._in_flight(number):
                        continue  # the last word once the sends already under way are written
                lane = self.lanes.get(broadcast.admin_channel)
                editing = lane is not None and lane.transport.can_edit
                every = self.settings.progress_seconds if editing else 1.0
                final = broadcast.status != BroadcastStatus.SENDING.value
                if not final and time.monotonic() - self._looked.get(number, -every) < every:
                    continue
                if time.monotonic() < self._report_after.get(number, 0.0):
                    continue  # the platform asked us to wait (429): even the last word waits
                self._looked[number] = time.monotonic()
                admin = await session.get(User, broadcast.created_by)
                views.append((lane if editing else None, broadcast, await progress(session, broadcast),
                              admin.language if admin else "vi"))
        for lane, broadcast, done, language in views:
            try:
                if lane is not None:
                    await self._edit_progress(lane, broadcast, done, language)
                else:
                    await self._notify_progress(broadcast, done, language)
            except Exception as error:
                log.warning("progress of broadcast %s not reported: %s", broadcast.id, error)
        return True

    def _in_flight(self, broadcast_id: int) -> bool:
        return any(b == broadcast_id for lane in self.lanes.values() for b in lane.flying.values())

    async def _edit_progress(self, lane: Lane, broadcast: Broadcast, done: Progress, language: str) -> None:
        """The admin's one progress message, sent once and edited every ``progress_seconds`` and at the end."""
        final = done.status != BroadcastStatus.SENDING.value
        reply = progress_reply(translator(language), done, self.clock.now())
        message_id = broadcast.progress_message_id
        chat = broadcast.admin_chat_id
        if lane.chat_free_at(chat) > time.monotonic():
            return  # the admin's chat just got a message (a reply, their copy): the progress waits its next round
        await lane.rate.take()
        if lane.chat_free_at(chat) > time.monotonic():
            return  # a reply went while the progress waited for the rate: next round
        lane.sent_to(chat)  # taken now: a reply waits its gap from here
        try:
            if message_id:
                try:
                    await lane.transport.edit_report(chat, message_id, reply)
                except SendFailed:  # deleted, or too old to edit: a new one
                    message_id = await lane.transport.send_report(chat, reply)
            else:
                message_id = await lane.transport.send_report(chat, reply)
            lane.sent_to(chat)
        except Throttled as error:
            lane.rate.throttled(error.retry_after)
            if lane.pacer is not None:
                lane.pacer.throttled(chat, error.retry_after)
            self._report_after[broadcast.id or 0] = time.monotonic() + error.retry_after  # not before it said
            return
        except (SendFailed, RecipientBlocked) as error:
            log.warning("progress of broadcast %s not shown to the admin: %s", broadcast.id, error)
            if not final:
                return
        async with self.db.transaction() as session:
            row = await session.get(Broadcast, broadcast.id)
            assert row is not None
            row.progress_message_id = message_id
            row.final_reported = final

    async def _notify_progress(self, broadcast: Broadcast, done: Progress, language: str) -> None:
        """Channels that cannot edit: a fresh message at the start, each quarter and the end (notification outbox)."""
        final = done.status != BroadcastStatus.SENDING.value
        reached = 100 if final else min(100 - QUARTER, done.percent // QUARTER * QUARTER)  # 100: the end only
        if reached <= broadcast.progress_reported and not final:
            return
        async with self.db.transaction() as session:
            row = await session.get(Broadcast, broadcast.id, with_for_update=True)
            assert row is not None
            if reached > row.progress_reported:
                reply = progress_reply(translator(language), done, self.clock.now())
                enqueue(session, row.created_by, reply.to_json())
                row.progress_reported = reached
            row.final_reported = final


async def _start(transport: Transport) -> None:
    """Connect a transport, trying again while the platform cannot be reached."""
    delay = 1.0
    while True:
        try:
            await transport.start()
            return
        except ChannelUnavailable:
            raise
        except Exception as error:
            log.warning("%s: cannot connect for broadcasts (%s); again in %.0f s", transport.channel, error, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 60.0)


def build_sender(
    settings: Settings,
    db: Database,
    *,
    clock: Clock | None = None,
    shared: Shared | None = None,
    channels: Sequence[ChannelSpec] | None = None,
) -> BroadcastSender | None:
    """The sender for the configured channels that declare a broadcast lane (bot/channels.py), and the lanes that
    need no platform (the console's); None when none can broadcast. ``shared`` is the process's (the replies
    counted for the lanes to give way to, the channels' pacers shared with their lanes); a Zalo lane calls the API
    through a channel client of its own (not started: it only sends)."""
    if shared is None:
        conversation = Conversation(build_services(settings, db, channels))
        shared = Shared(settings, conversation, link_signer(settings.web), RecentSends())
    lanes = [
        spec.broadcast(shared)
        for spec in (registry() if channels is None else channels)
        if spec.broadcast is not None and (spec.lane_always or spec.configured(settings))
    ]
    metrics = shared.conversation.services.metrics
    return BroadcastSender(db, lanes, settings.broadcast, clock=clock, metrics=metrics) if lanes else None
