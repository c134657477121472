"""One way to fail and one way to try again, for every call we make to a platform (Telegram, both Zalo APIs, the
Zalo token refresh, the broadcast transports).

Every failure is sorted into what to do next:
- ``Throttled(retry_after)``: the platform asked us to wait (429); wait that long, then try again.
- ``TryLater``: a network error, a timeout, a server error, an answer that is not the API's (an HTML 502 page):
  try again after a backoff.
- ``SendFailed``: the platform refuses this very request for good (a bad chat, a malformed message): never again.
- ``RecipientBlocked``: the user blocked the bot (403): nothing more to them until they write.
- ``RecipientUnreachable``: the platform will not deliver to this user for now (Zalo OA: no message from them in
  7 days): keep what was for them.
- ``ChannelUnavailable``: the platform refused our credentials: only a person can fix that; the channel stops.

``RetryPolicy`` gives the waits: ``retry_after`` when the platform named one, otherwise an exponential backoff with
jitter (so that replicas and chats that failed together do not come back together).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")


class Throttled(Exception):
    """The platform asked us to wait (429)."""

    def __init__(self, retry_after: float, what: str = "") -> None:
        super().__init__(f"{what + ': ' if what else ''}429: retry after {retry_after:g} s")
        self.retry_after = retry_after


class TryLater(Exception):
    """A network error, a timeout or a server error: the same request may succeed later."""


class SendFailed(Exception):
    """The platform refused this request for good (bad chat, bad photo, malformed message); ``reference`` names the
    call in our logs (and in the apology the user gets)."""

    def __init__(self, text: str, reference: str = "") -> None:
        super().__init__(text)
        self.reference = reference


class RecipientBlocked(Exception):
    """The platform says the user blocked the bot: stop sending to them."""


class RecipientUnreachable(Exception):
    """The platform will not deliver to this user for now (Zalo OA: no message from them in 7 days)."""


class ChannelUnavailable(Exception):
    """The channel cannot work at all (its credentials were refused): stop it; only a person can fix this."""


class Stopped(Exception):
    """Retrying ended because the caller is stopping."""


@dataclass(frozen=True)
class RetryPolicy:
    """Waits between attempts: ``first`` seconds, doubled each time up to ``maximum``, each spread by ±``jitter``
    (a fraction); a wait the platform named (``retry_after``) is honoured as it is, never shortened."""

    first: float = 0.5
    maximum: float = 60.0
    jitter: float = 0.25

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        if retry_after is not None and retry_after > 0:
            return retry_after + random.uniform(0, self.jitter)  # a little later than asked, never earlier
        base = min(self.first * 2 ** min(attempt, 30), self.maximum)
        return base * random.uniform(1 - self.jitter, 1 + self.jitter)

    async def call(
        self,
        attempt_once: Callable[[], Awaitable[T]],
        *,
        what: str,
        attempts: int | None = None,
        stopping: asyncio.Event | None = None,
        on_retry: Callable[[BaseException], None] | None = None,
    ) -> T:
        """``attempt_once()`` until it succeeds, waiting after ``Throttled`` and ``TryLater``; other errors, and the
        last failure once ``attempts`` are used (None: no limit), are raised; ``Stopped`` when ``stopping`` is set
        during a wait. ``on_retry`` is told of each failure that is tried again (the metrics count them)."""
        attempt = 0
        while True:
            try:
                return await attempt_once()
            except (Throttled, TryLater) as error:
                attempt += 1
                if attempts is not None and attempt >= attempts:
                    raise
                wait = self.delay(attempt - 1, error.retry_after if isinstance(error, Throttled) else None)
                if on_retry is not None:
                    on_retry(error)
                log.warning("%s failed (%s); trying again in %.1f s", what, error, wait)
                if stopping is None:
                    await asyncio.sleep(wait)
                    continue
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stopping.wait(), wait)
                if stopping.is_set():
                    raise Stopped(what) from error


DEFAULT = RetryPolicy()
