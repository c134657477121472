"""The durable-delivery building blocks on virtual time: the pacer (bot/pacing.py), the retry policy (bot/retry.py)
and group commit (bot/group_commit.py). Nothing here sleeps on the wall clock: the pacer and the retry policy get a
clock and an ``asyncio`` whose sleeps advance it."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import random
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from types import SimpleNamespace
from typing import Any, TypeVar

import pytest

from bot import pacing, retry
from bot.broadcast_sender import Lane, SendRate
from bot.broadcast_transports import Transport
from bot.group_commit import GroupCommit
from bot.pacing import MARGIN, THROTTLES_FOR_ALL, Pacer
from bot.retry import (
    ChannelUnavailable,
    RecipientBlocked,
    RecipientUnreachable,
    RetryPolicy,
    SendFailed,
    Stopped,
    Throttled,
    TryLater,
)
from models.stored_files import StoredFile

T = TypeVar("T")


class VirtualTime:
    """A clock and a ``sleep`` on it: sleepers wake in the order of their time, and time jumps to the next one only
    once every task has gone as far as it can (so concurrent waits are ordered as on a real clock)."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.slept: list[float] = []
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        woken: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.now + max(seconds, 0.0), next(self._order), woken))
        await woken

    async def _settle(self) -> None:
        for _ in range(20):  # every runnable task goes as far as it can
            await asyncio.sleep(0)

    async def run(self, *jobs: Coroutine[Any, Any, T]) -> list[T]:
        """Run ``jobs`` concurrently, in the order given, moving time on whenever all of them are asleep."""
        tasks = [asyncio.create_task(job) for job in jobs]
        while True:
            await self._settle()
            if all(task.done() for task in tasks):
                return [task.result() for task in tasks]
            assert self._sleepers, "a job waits for something other than time"
            at, _, woken = heapq.heappop(self._sleepers)
            self.now = max(self.now, at)
            woken.set_result(None)

    async def at(self, pacer: Pacer, chat_id: str) -> float:
        """When ``pacer`` let a send to ``chat_id`` go."""
        await pacer.wait(chat_id)
        return self.now


@pytest.fixture
def vt(monkeypatch: pytest.MonkeyPatch) -> VirtualTime:
    """Virtual time for bot/pacing.py: its ``asyncio.sleep`` advances the clock given to the pacers."""
    virtual = VirtualTime()
    monkeypatch.setattr(pacing, "asyncio", SimpleNamespace(sleep=virtual.sleep))
    return virtual


def spacing(times: Sequence[float]) -> list[float]:
    return [round(b - a, 9) for a, b in itertools.pairwise(times)]


# -- the pacer ------------------------------------------------------------------------------------------------------


async def test_sends_overall_are_spaced_by_the_rate_with_the_margin(vt: VirtualTime) -> None:
    """A burst to ten chats is spread out, first come first served, 3% slower than the platform's rate."""
    pacer = Pacer(per_second=10, chat_gap=1.0, clock=vt.clock)
    start = vt.now
    times = await vt.run(*(vt.at(pacer, str(chat)) for chat in range(1, 11)))
    assert times[0] == start  # alone, a send goes at once
    assert spacing(times) == pytest.approx([(1 + MARGIN) / 10] * 9)
    assert times == sorted(times)  # in the order they asked
    assert MARGIN == 0.03


async def test_a_send_after_a_quiet_spell_goes_at_once(vt: VirtualTime) -> None:
    pacer = Pacer(per_second=2, chat_gap=0, clock=vt.clock)
    await vt.run(vt.at(pacer, "1"), vt.at(pacer, "2"))
    vt.now += 60  # nothing sent for a minute: no turn was banked, none is owed
    quiet = vt.now
    assert await vt.run(vt.at(pacer, "3"), vt.at(pacer, "4")) == [quiet, pytest.approx(quiet + 1.03 / 2)]


async def test_one_private_chat_gets_a_message_a_gap_apart(vt: VirtualTime) -> None:
    pacer = Pacer(per_second=0, chat_gap=1.0, clock=vt.clock)
    start = vt.now
    first, other, second = await vt.run(vt.at(pacer, "42"), vt.at(pacer, "43"), vt.at(pacer, "42"))
    assert (first, other) == (start, start)  # no overall limit: another chat is not held up
    assert second - first == pytest.approx(1.0 * (1 + MARGIN))
    assert pacer.chat_free_at("42") == pytest.approx(second + 1.0 * (1 + MARGIN))


async def test_group_chats_get_the_group_gap(vt: VirtualTime) -> None:
    """Chat ids starting with "-" are groups (Telegram: about 20 a minute)."""
    pacer = Pacer(per_second=0, chat_gap=1.0, group_gap=3.0, clock=vt.clock)
    start = vt.now
    await vt.run(vt.at(pacer, "-1001"), vt.at(pacer, "1001"))
    assert pacer.chat_free_at("-1001") == pytest.approx(start + 3.0 * (1 + MARGIN))
    assert pacer.chat_free_at("1001") == pytest.approx(start + 1.0 * (1 + MARGIN))
    assert (await vt.run(vt.at(pacer, "-1001")))[0] == pytest.approx(start + 3.0 * (1 + MARGIN))


async def test_a_chat_that_must_wait_holds_up_nobody(vt: VirtualTime) -> None:
    """The chat's turn is taken before the overall one: the others use the overall turns meanwhile."""
    pacer = Pacer(per_second=10, chat_gap=1.0, clock=vt.clock)
    start = vt.now
    await vt.run(vt.at(pacer, "1"))
    again, *others = await vt.run(vt.at(pacer, "1"), *(vt.at(pacer, str(c)) for c in range(2, 6)))
    assert others == pytest.approx([start + n * 0.103 for n in range(1, 5)])
    assert again == pytest.approx(start + 1.03)


async def test_a_429_makes_only_that_chat_wait(vt: VirtualTime) -> None:
    pacer = Pacer(per_second=30, chat_gap=1.0, clock=vt.clock)
    start = vt.now
    pacer.throttled("7", retry_after=5.0)
    throttled, other = await vt.run(vt.at(pacer, "7"), vt.at(pacer, "8"))
    assert other == start  # another chat goes at once
    assert throttled == pytest.approx(start + 5.0)  # the throttled one waits what it was told, not more
    pacer.throttled("7", retry_after=0.5)  # a shorter wait never shortens a turn already set
    assert pacer.chat_free_at("7") == pytest.approx(start + 5.0 + 1.03)


async def test_throttles_on_several_chats_within_a_second_make_the_whole_channel_wait(vt: VirtualTime) -> None:
    pacer = Pacer(per_second=30, chat_gap=1.0, clock=vt.clock)
    start = vt.now
    for chat in range(THROTTLES_FOR_ALL - 1):
        pacer.throttled(str(chat), retry_after=4.0)
        vt.now += 0.3
    now = vt.now
    assert await vt.run(vt.at(pacer, "fresh-1")) == [now]  # two 429s: only those chats wait
    pacer.throttled("last", retry_after=4.0)  # the third within a second: the limit hit is the overall one
    assert now - start < 1.0 and THROTTLES_FOR_ALL == 3
    assert await vt.run(vt.at(pacer, "fresh-2")) == [pytest.approx(now + 4.0)]


async def test_throttles_spread_over_more_than_a_second_do_not_stop_everyone(vt: VirtualTime) -> None:
    pacer = Pacer(per_second=30, chat_gap=1.0, clock=vt.clock)
    for chat in range(THROTTLES_FOR_ALL + 2):
        pacer.throttled(str(chat), retry_after=10.0)
        vt.now += 0.6  # never three within one second
    now = vt.now
    assert await vt.run(vt.at(pacer, "fresh")) == [now]


async def test_throttles_for_all_hold_a_channel_without_an_overall_rate(vt: VirtualTime) -> None:
    """``per_second=0`` (no limit of ours) still obeys the platform when it throttles the whole channel."""
    pacer = Pacer(per_second=0, chat_gap=1.0, clock=vt.clock)
    for chat in range(THROTTLES_FOR_ALL):
        pacer.throttled(str(chat), retry_after=2.0)
    hit = vt.now
    assert await vt.run(vt.at(pacer, "fresh")) == [pytest.approx(hit + 2.0)]


async def test_note_sent_and_chat_free_at_share_a_chat_with_the_broadcast_lane(vt: VirtualTime) -> None:
    pacer = Pacer(per_second=30, chat_gap=1.0, clock=vt.clock)
    assert pacer.chat_free_at("admin") == 0.0  # never sent to: free
    pacer.note_sent("admin")  # the broadcast lane sent the admin their copy
    noted = vt.now
    assert pacer.chat_free_at("admin") == pytest.approx(noted + 1.03)
    assert await vt.run(vt.at(pacer, "admin")) == [pytest.approx(noted + 1.03)]  # a reply waits its gap
    pacer.throttled("admin", 20.0)
    pacer.note_sent("admin")  # a later note never brings a throttled chat's turn forward
    assert pacer.chat_free_at("admin") == pytest.approx(vt.now + 20.0)


class NoTransport(Transport):
    channel = "telegram"

    async def send(self, chat_id: str, text: str, photo: str | StoredFile = "") -> str:
        raise AssertionError("nothing is sent in these tests")


def test_the_broadcast_lane_and_the_replies_see_each_others_sends() -> None:
    """As bot/broadcast_sender.py uses the pacer: on the real monotonic clock, nothing waited for."""
    pacer = Pacer(per_second=30, chat_gap=1.0)
    lane = Lane(NoTransport(), SendRate(29.0), 4, pacer=pacer)
    before = time.monotonic()
    lane.sent_to("111")  # a broadcast copy went to the chat: the replies' next turn there is a gap later
    assert pacer.chat_free_at("111") >= before + 1.0 * (1 + MARGIN)
    pacer.throttled("222", 30.0)  # the replies were told to wait there: so is the lane (its progress message)
    assert lane.chat_free_at("222") >= before + 30.0
    assert lane.chat_free_at("333") == 0.0


async def test_chats_beyond_max_chats_are_forgotten_least_recent_first(
    vt: VirtualTime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pacing, "MAX_CHATS", 3)
    pacer = Pacer(per_second=0, chat_gap=1.0, clock=vt.clock)
    await vt.run(*(vt.at(pacer, chat) for chat in "abc"))
    vt.now += 5
    await vt.run(vt.at(pacer, "a"), vt.at(pacer, "d"))  # "a" used again: "b" is now the least recent
    assert list(pacer._chats) == ["c", "a", "d"]
    assert pacer.chat_free_at("b") == 0.0


@pytest.mark.parametrize("how", ["note_sent", "throttled"])
def test_the_broadcast_lane_and_429s_cannot_grow_the_pacer_beyond_max_chats(
    how: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A broadcast to many users notes each of them (note_sent), with no reply to trim the table meanwhile."""
    monkeypatch.setattr(pacing, "MAX_CHATS", 100)
    pacer = Pacer(per_second=30, chat_gap=1.0, clock=lambda: 50.0)
    for chat in range(1000):
        if how == "note_sent":
            pacer.note_sent(str(chat))
        else:
            pacer.throttled(str(chat), 1.0)
    assert len(pacer._chats) == 100
    assert pacer.chat_free_at("999") > 50.0 and pacer.chat_free_at("0") == 0.0  # the newest kept, the oldest not


# -- the retry policy -----------------------------------------------------------------------------------------------


def test_the_backoff_doubles_up_to_the_maximum() -> None:
    policy = RetryPolicy(first=0.5, maximum=60.0, jitter=0.0)
    assert [policy.delay(n) for n in range(9)] == [0.5, 1, 2, 4, 8, 16, 32, 60, 60]
    assert policy.delay(10_000) == 60.0  # no overflow however long it fails


@pytest.mark.parametrize("attempt", [0, 1, 3, 12])
def test_jitter_stays_within_its_bounds(attempt: int, monkeypatch: pytest.MonkeyPatch) -> None:
    policy = RetryPolicy(first=1.0, maximum=30.0, jitter=0.25)
    base = min(2.0**attempt, 30.0)
    monkeypatch.setattr(retry.random, "uniform", lambda low, high: low)
    assert policy.delay(attempt) == pytest.approx(base * 0.75)
    monkeypatch.setattr(retry.random, "uniform", lambda low, high: high)
    assert policy.delay(attempt) == pytest.approx(base * 1.25)
    monkeypatch.undo()
    random.seed(attempt)
    samples = [policy.delay(attempt) for _ in range(500)]
    assert all(base * 0.75 <= s <= base * 1.25 for s in samples)
    assert max(samples) - min(samples) > base * 0.25  # spread: replicas that failed together come back apart


def test_a_wait_the_platform_named_is_a_floor() -> None:
    policy = RetryPolicy(first=0.5, maximum=60.0, jitter=0.25)
    random.seed(7)
    for attempt, after in [(0, 7.0), (9, 0.2), (3, 120.0)]:
        waits = [policy.delay(attempt, retry_after=after) for _ in range(200)]
        assert all(after <= w <= after + 0.25 for w in waits)  # never earlier, a little later at most
    assert RetryPolicy(first=2.0, jitter=0.0).delay(0, retry_after=0) == 2.0  # 0 or None: the backoff


class Attempts:
    """``attempt_once`` for RetryPolicy.call: raises the given outcomes in turn, then returns "sent"."""

    def __init__(self, *outcomes: BaseException, on_call: Callable[[], None] = lambda: None) -> None:
        self.outcomes = list(outcomes)
        self.calls = 0
        self.on_call = on_call

    async def __call__(self) -> str:
        self.calls += 1
        self.on_call()
        if self.outcomes:
            raise self.outcomes.pop(0)
        return "sent"


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The waits bot/retry.py makes, recorded and not slept (a wait on ``stopping`` ends at once if it is set)."""
    recorded: list[float] = []

    async def sleep(seconds: float) -> None:
        recorded.append(seconds)

    async def wait_for(awaitable: Awaitable[Any], timeout: float) -> Any:
        recorded.append(timeout)
        job = asyncio.ensure_future(awaitable)
        await asyncio.sleep(0)
        if job.done():
            return job.result()
        job.cancel()
        raise TimeoutError

    monkeypatch.setattr(retry, "asyncio", SimpleNamespace(sleep=sleep, wait_for=wait_for))
    return recorded


@pytest.mark.parametrize("with_stopping", [False, True])
async def test_try_later_and_throttled_are_tried_again(
    with_stopping: bool, waits: list[float], caplog: pytest.LogCaptureFixture
) -> None:
    policy = RetryPolicy(first=0.5, maximum=60.0, jitter=0.0)
    attempt = Attempts(TryLater("timeout"), TryLater("502"), Throttled(7.0, "sendMessage"))
    stopping = asyncio.Event() if with_stopping else None
    with caplog.at_level(logging.WARNING, logger="bot.retry"):
        assert await policy.call(attempt, what="telegram: sendMessage", stopping=stopping) == "sent"
    assert attempt.calls == 4
    assert waits == [0.5, 1.0, 7.0]  # backoff grows; the platform's wait is taken as it is
    assert [r.getMessage().split(";")[0] for r in caplog.records] == [
        "telegram: sendMessage failed (timeout)", "telegram: sendMessage failed (502)",
        "telegram: sendMessage failed (sendMessage: 429: retry after 7 s)"]


async def test_the_last_failure_is_raised_once_the_attempts_are_used(waits: list[float]) -> None:
    attempt = Attempts(*(TryLater(f"down {n}") for n in range(5)))
    with pytest.raises(TryLater, match="down 2"):
        await RetryPolicy(jitter=0.0).call(attempt, what="x", attempts=3)
    assert attempt.calls == 3 and len(waits) == 2


@pytest.mark.parametrize("final", [
    RecipientBlocked("blocked"), RecipientUnreachable("7 days"), SendFailed("bad chat", "ref1"),
    ChannelUnavailable("token refused"), ValueError("a bug"),
])
async def test_final_outcomes_are_not_tried_again(final: Exception, waits: list[float]) -> None:
    attempt = Attempts(TryLater("blip"), final)
    with pytest.raises(type(final)) as raised:
        await RetryPolicy().call(attempt, what="x", stopping=asyncio.Event())
    assert raised.value is final and attempt.calls == 2 and len(waits) == 1


async def test_stopping_ends_the_retries(waits: list[float]) -> None:
    stopping = asyncio.Event()
    attempt = Attempts(*(TryLater("down") for _ in range(10)), on_call=lambda: stopping.set())
    with pytest.raises(Stopped) as raised:
        await RetryPolicy().call(attempt, what="telegram: connecting", stopping=stopping)
    assert attempt.calls == 1  # stopping came during the first wait: no second attempt
    assert isinstance(raised.value.__cause__, TryLater)


async def test_stopping_wakes_a_long_wait_at_once() -> None:
    """A wait of a minute (real asyncio) ends as soon as ``stopping`` is set."""
    stopping = asyncio.Event()
    waiting = asyncio.Event()

    async def down() -> str:
        waiting.set()
        raise Throttled(60.0)

    call = asyncio.create_task(RetryPolicy(first=60.0).call(down, what="x", stopping=stopping))
    await waiting.wait()
    await asyncio.sleep(0)  # the call is now in its wait
    stopping.set()
    with pytest.raises(Stopped):
        await asyncio.wait_for(call, 5)


# -- group commit ---------------------------------------------------------------------------------------------------


class Writes:
    """The ``write`` of a GroupCommit: records each batch; the writes numbered in ``held`` (from 0) wait for
    ``release[n]``; those in ``failing`` raise."""

    def __init__(self, held: Sequence[int] = (), failing: Sequence[int] = ()) -> None:
        self.batches: list[list[str]] = []
        self.failing = set(failing)
        self.started = {n: asyncio.Event() for n in held}
        self.release = {n: asyncio.Event() for n in held}

    async def __call__(self, items: Sequence[str]) -> None:
        number = len(self.batches)
        self.batches.append(list(items))
        if number in self.release:
            self.started[number].set()
            await self.release[number].wait()
        if number in self.failing:
            raise RuntimeError(f"write {number} failed")


async def test_submissions_made_together_are_written_in_one_batch() -> None:
    writes = Writes()
    commit: GroupCommit[str] = GroupCommit(writes)
    results = await asyncio.gather(*(commit.put([f"u{n}", f"v{n}"]) for n in range(5)))
    assert results == [None] * 5
    assert writes.batches == [["u0", "v0", "u1", "v1", "u2", "v2", "u3", "v3", "u4", "v4"]]


async def test_what_comes_during_a_write_waits_for_the_next_batch() -> None:
    writes = Writes(held=[0, 1])
    commit: GroupCommit[str] = GroupCommit(writes)
    first = asyncio.create_task(commit.put(["a"]))
    await writes.started[0].wait()  # "a" is being written
    later = [asyncio.create_task(commit.put([item])) for item in "bcd"]
    await asyncio.sleep(0)
    assert not any(task.done() for task in [first, *later])  # nobody is told before their batch commits
    writes.release[0].set()
    await first  # "a" committed...
    await writes.started[1].wait()
    assert not any(task.done() for task in later)  # ...the others not yet: they are the next batch
    writes.release[1].set()
    await asyncio.gather(*later)
    assert writes.batches == [["a"], ["b", "c", "d"]]


async def test_a_batch_holds_at_most_max_batch_items() -> None:
    writes = Writes()
    commit: GroupCommit[str] = GroupCommit(writes, max_batch=2)
    await asyncio.gather(*(commit.put([item]) for item in "abcde"))
    assert writes.batches == [["a", "b"], ["c", "d"], ["e"]]


async def test_a_failed_write_fails_every_caller_of_its_batch_and_the_next_batch_works() -> None:
    writes = Writes(held=[0], failing=[0])
    commit: GroupCommit[str] = GroupCommit(writes)
    doomed = [asyncio.create_task(commit.put([item])) for item in "ab"]
    await writes.started[0].wait()
    after = [asyncio.create_task(commit.put([item])) for item in "cd"]  # come during the failing write
    await asyncio.sleep(0)
    writes.release[0].set()
    outcomes = await asyncio.gather(*doomed, *after, return_exceptions=True)
    assert [str(o) if o else o for o in outcomes] == ["write 0 failed", "write 0 failed", None, None]
    assert outcomes[0] is outcomes[1]  # the write's own error, for each caller of that batch
    assert writes.batches == [["a", "b"], ["c", "d"]]
    await commit.put(["e"])  # and the writer starts again for a later submission
    assert writes.batches[-1] == ["e"]


async def test_a_caller_that_gives_up_does_not_stop_its_batch_nor_the_next() -> None:
    writes = Writes(held=[0])
    commit: GroupCommit[str] = GroupCommit(writes)
    gone = asyncio.create_task(commit.put(["a"]))
    await writes.started[0].wait()
    stays = asyncio.create_task(commit.put(["b"]))
    await asyncio.sleep(0)
    gone.cancel()  # e.g. the webhook's client hung up
    writes.release[0].set()
    await stays
    assert writes.batches == [["a"], ["b"]] and gone.cancelled()
