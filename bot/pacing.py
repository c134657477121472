"""Keeping a channel's sends within the platform's limits: so many messages a second in all, and a gap between two
messages to one chat (Telegram: about 30 a second, one a second to a private chat, 20 a minute to a group).

Sends take their turn (virtual scheduling): whoever asks first goes first, and a burst is spread out rather than
refused. A chat the platform throttled anyway (429) waits what it was told; when several chats are throttled within
a second the whole channel waits (the limit we hit is then the overall one: another process, or the broadcast lane).
The broadcast lane of the same channel consults the same pacer for the chats it shares with the replies (the
admin's), so the two never crowd one chat.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field

MARGIN = 0.03  # we aim this fraction below the platform's limits: clocks and networks jitter
MAX_CHATS = 50_000  # chats remembered (the least recently sent to are forgotten)
THROTTLES_FOR_ALL = 3  # 429s within a second that make the whole channel wait


@dataclass
class Pacer:
    per_second: float  # messages a second in all (0: no overall limit)
    chat_gap: float  # seconds between two messages to one private chat (0: none)
    group_gap: float = 3.0  # seconds between two messages to one group chat
    clock: Callable[[], float] = time.monotonic
    _next: float = 0.0  # when the next send overall may go
    _chats: OrderedDict[str, float] = field(default_factory=OrderedDict)  # chat -> when its next send may go
    _throttles: deque[float] = field(default_factory=deque)

    def _gap(self, chat_id: str) -> float:
        return (self.group_gap if chat_id.startswith("-") else self.chat_gap) * (1 + MARGIN)

    async def wait(self, chat_id: str) -> None:
        """Wait for the chat's next turn, then for a turn overall (the sends to one chat are made one after the
        other, so the chat's turn is taken before the overall one: a chat that must wait holds up nobody)."""
        ahead = self._chats.get(chat_id, 0.0) - self.clock()
        if ahead > 0:
            await asyncio.sleep(ahead)
        now = self.clock()
        at = max(now, self._next)  # without an overall limit, _next only moves when the whole channel is throttled
        if self.per_second > 0:
            self._next = at + (1 + MARGIN) / self.per_second
        self._remember(chat_id, at + self._gap(chat_id))
        if at > now:
            await asyncio.sleep(at - now)

    def throttled(self, chat_id: str, retry_after: float) -> None:
        """The platform said 429 for this chat: its next turn is ``retry_after`` from now at the earliest."""
        now = self.clock()
        self._remember(chat_id, now + retry_after)
        self._throttles.append(now)
        while self._throttles and self._throttles[0] < now - 1.0:
            self._throttles.popleft()
        if len(self._throttles) >= THROTTLES_FOR_ALL:
            self._next = max(self._next, now + retry_after)

    def chat_free_at(self, chat_id: str) -> float:
        """When the chat's next turn may come (the clock's time); for the broadcast lane."""
        return self._chats.get(chat_id, 0.0)

    def note_sent(self, chat_id: str) -> None:
        """A message went to the chat by another way (the broadcast lane): the next one waits its gap."""
        self._remember(chat_id, self.clock() + self._gap(chat_id))

    def _remember(self, chat_id: str, free_at: float) -> None:
        """The chat's next turn is ``free_at`` at the earliest; the least recently used chats beyond ``MAX_CHATS``
        are forgotten (every way in trims: a broadcast notes each recipient, with no reply to trim meanwhile)."""
        self._chats[chat_id] = max(self._chats.get(chat_id, 0.0), free_at)
        self._chats.move_to_end(chat_id)
        while len(self._chats) > MAX_CHATS:
            self._chats.popitem(last=False)
