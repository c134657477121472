"""What a handler works with: the services, the transaction, the user, the chat's state and the translator."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from handlers.actions import Action
from handlers.i18n import Translator, translator
from handlers.messages import Button, Capabilities, Incoming, Reply
from models import parse
from models.claims import random_code
from models.clock import Clock, SystemClock
from models.conversation import ChatState
from models.db import Database
from models.deeplinks import LinkBook
from models.errors import StaleAction
from models.matchmaking import EventPeople
from models.meetings import MeetingPolicy
from models.metrics import Metrics
from models.notifications import enqueue
from models.people import User
from models.requests import ContactPolicy
from models.search_service import SearchService

MAX_TEXT = 2000  # longest message we read; longer ones are refused with this limit stated


@dataclass
class Services:
    """Long-lived dependencies, built once by the runtime (bot/)."""

    db: Database
    search: SearchService
    clock: Clock = field(default_factory=SystemClock)
    policy: ContactPolicy = field(default_factory=ContactPolicy)
    admin_ids: dict[str, frozenset[str]] = field(default_factory=dict)  # channel -> admin user ids
    make_code: Callable[[], str] = random_code
    memo_place: str = "Hà Nội"
    default_language: str = "vi"
    flow_ttl: timedelta = timedelta(hours=24)  # a flow left alone longer than this ends at the next message
    broadcast_channels: tuple[str, ...] = ()  # the channels a broadcast reaches: those with a broadcast sender
    meetings: MeetingPolicy = field(default_factory=MeetingPolicy)  # quota per person per event, reminder
    web_url: str = ""  # where people reach our web server ([web] public_url, or the local address): dashboard links
    links: LinkBook = field(default_factory=LinkBook)  # deep links to the bot ([links]; Telegram's name from getMe)
    metrics: Metrics = field(default_factory=Metrics)  # this app's instruments (served at /metrics)
    event_people: EventPeople = field(default_factory=EventPeople)  # kept for partner suggestions (models/matchmaking)

    chat_locks: defaultdict[tuple[str, str], asyncio.Lock] = field(default_factory=lambda: defaultdict(asyncio.Lock))

    def chat_lock(self, channel: str, chat_id: str) -> asyncio.Lock:
        """Serialises everything that reads or writes one chat's state in this process (replies, notifications)."""
        return self.chat_locks[(channel, chat_id)]

@dataclass
class Context:
    services: Services
    session: AsyncSession
    incoming: Incoming
    user: User
    state: ChatState
    capabilities: Capabilities = field(default_factory=Capabilities)  # of the channel the update came from
    replies: list[Reply] = field(default_factory=list)
    wrong_answer: bool = False  # the last question was asked again after a wrong answer (the menu hint is shown)
    expired: bool = False  # the chat's flow was left alone too long and ended with this message

    @property
    def t(self) -> Translator:
        return translator(self.user.language)

    @property
    def now(self) -> datetime:
        return self.services.clock.now()

    def say(
        self, key: str, /, *, buttons: Sequence[Sequence[Button]] = (), edit: bool = False, **params: object
    ) -> None:
        self.send(Reply(self.t(key, **params), buttons=tuple(tuple(row) for row in buttons), edit=edit))

    def send(self, reply: Reply) -> None:
        self.replies.append(reply)

    def button(self, key: str, action: Action, /, **params: object) -> Button:
        return Button(self.t(key, **params), action.encode())

    def notify(self, recipient: User, build: Callable[[Translator], Reply]) -> None:
        notify(self.session, recipient, build)


def notify(session: AsyncSession, recipient: User, build: Callable[[Translator], Reply]) -> None:
    """Queue a message to another user, worded in their language, in the session's transaction."""
    if recipient.id is not None and not recipient.blocked:
        enqueue(session, recipient.id, build(translator(recipient.language)).to_json())


def parse_index(text: str, size: int) -> int:
    """An index into a fixed list of choices (0 ≤ index < size) from button data; a tampered one is stale."""
    index = parse.canonical(text, high=size - 1) if size > 0 else None
    if index is None:
        raise StaleAction(f"bad index {text[:20]!r}")
    return index
