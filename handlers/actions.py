"""Button payloads: small typed records, one codec.

A payload is its record's tag and fields joined by ":" ("p:12", "er:3:buyer"), at most 64 bytes (Telegram's
callback_data). Fields are ids and indexes (non-negative ints up to ``models.parse.MAX_ID``, in ASCII digits as
``encode`` writes them) or short words (``[a-z0-9_]``, up to 24 characters); trailing empty words are left out.
``decode`` checks the tag, the number of fields and each field's type and range, so a payload that was tampered
with, cut, or written by another version is refused (``Stale.OUTDATED``).

Versions: a record's tag names its version. Changing a record's fields means giving it a new tag; buttons already
sent then read as out of date instead of meaning something else. Every payload is still authorised on use: a record
only says what was pressed, the handler checks that this user may do it now.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any, ClassVar, TypeVar, get_type_hints

from handlers.messages import MAX_ACTION_BYTES
from models import parse
from models.errors import Stale, StaleAction

_WORD = re.compile(r"[a-z0-9_]{0,24}")
_RECORDS: dict[str, type[Action]] = {}
A = TypeVar("A", bound="type[Action]")


class Action:
    """A button's meaning; subclasses are frozen dataclasses registered with ``@action(tag)``."""

    tag: ClassVar[str] = ""
    _types: ClassVar[tuple[type, ...]] = ()

    def encode(self) -> str:
        values = [str(getattr(self, f.name)) for f in dataclasses.fields(self)]  # type: ignore[arg-type]
        while values and values[-1] == "":
            values.pop()
        payload = ":".join((self.tag, *values))
        if len(payload.encode()) > MAX_ACTION_BYTES:
            raise ValueError(f"payload longer than {MAX_ACTION_BYTES} bytes: {payload!r}")
        return payload


def action(tag: str):
    """Register a record under ``tag``; its fields must be ``int`` or ``str``."""

    def register(cls: A) -> A:
        if tag in _RECORDS or not _WORD.fullmatch(tag) or not tag:
            raise ValueError(f"bad or duplicate action tag {tag!r}")
        record = dataclasses.dataclass(frozen=True)(cls)
        hints = get_type_hints(record)
        types = tuple(hints[f.name] for f in dataclasses.fields(record))
        if any(t not in (int, str) for t in types):
            raise TypeError(f"{cls.__name__}: action fields are int or str")
        record.tag, record._types = tag, types
        _RECORDS[tag] = record
        return record

    return register


def decode(payload: str) -> Action:
    """The record a payload stands for; StaleAction (out of date) for anything else."""
    if len(payload) > MAX_ACTION_BYTES or len(payload.encode(errors="replace")) > MAX_ACTION_BYTES:
        raise StaleAction("payload too long")
    tag, *parts = payload.split(":")
    record = _RECORDS.get(tag)
    if record is None:
        raise StaleAction(f"unknown action {payload[:20]!r}")
    fields = dataclasses.fields(record)  # type: ignore[arg-type]
    if len(parts) > len(fields):
        raise StaleAction(f"too many fields in {payload[:40]!r}")
    values: dict[str, Any] = {}
    for index, (field, kind) in enumerate(zip(fields, record._types, strict=True)):
        if index >= len(parts):
            if field.default is dataclasses.MISSING:
                raise StaleAction(f"missing {field.name} in {payload[:40]!r}")
            continue
        text = parts[index]
        if kind is int:
            number = parse.canonical(text)
            if number is None:
                raise StaleAction(f"bad {field.name} in {payload[:40]!r}")
            values[field.name] = number
        else:
            if not _WORD.fullmatch(text):
                raise StaleAction(f"bad {field.name} in {payload[:40]!r}")
            values[field.name] = text
    return record(**values)


def is_payload(text: str) -> bool:
    """Whether ``text`` is one of our payloads (Zalo OA buttons send theirs back as the user's text)."""
    try:
        decode(text)
    except StaleAction:
        return False
    return True


def positive(value: int) -> int:
    """A database id from a payload: 0 is never one."""
    if value <= 0:
        raise StaleAction("id 0", Stale.GONE)
    return value


# -- the records -------------------------------------------------------------------------------------------------


@action("start")
class Start(Action):
    pass


@action("cancel")
class Cancel(Action):
    pass


@action("lang")
class SetLanguage(Action):
    code: str
    results: int = 0  # 1: pressed under search results (the English offer), which then come again in the language


@action("f")
class Answer(Action):
    """An answer to a flow's question: a choice's value, "skip" or "done" (models of choices: handlers.flow)."""

    flow: str
    step: str
    value: str


@action("s")
class SearchPage(Action):
    offset: int


@action("b")
class Browse(Action):
    step: str = "start"  # start, r (region), p (province), g (group), s (stars)
    value: str = ""


@action("p")
class ShowProduct(Action):
    product: int


@action("c")
class ContactProducer(Action):
    product: int


@action("rv")
class ShowRequest(Action):
    request: int


@action("ra")
class AcceptRequest(Action):
    request: int


@action("rd")
class DeclineRequest(Action):
    request: int


@action("mv")
class ShowMemo(Action):
    memo: int


@action("mc")
class ConfirmMemo(Action):
    memo: int


@action("md")
class DownloadMemo(Action):
    memo: int


@action("ms")
class SignMemo(Action):
    memo: int


@action("cc")
class IssueClaimCode(Action):
    producer: int


@action("ag")
class GrantAdmin(Action):
    user: int


@action("ar")
class RevokeAdmin(Action):
    user: int


@action("ev")
class ShowEvent(Action):
    event: int


@action("er")
class RegisterForEvent(Action):
    event: int
    role: str


@action("eu")
class WithdrawFromEvent(Action):
    event: int


@action("ef")
class EditEvent(Action):
    event: int
    field: str = ""


@action("el")
class ExportRegistrants(Action):
    event: int


@action("ex")
class CancelEvent(Action):
    event: int
    confirmed: str = ""


@action("xp")
class Export(Action):
    kind: str
    format: str


@action("ke")
class EditStars(Action):
    product: int


@action("kh")
class HideProduct(Action):
    product: int


@action("ku")
class UnhideProduct(Action):
    product: int


@action("bx")
class StopBroadcast(Action):
    broadcast: int
    confirmed: str = ""


@action("sh")
class ShareProduct(Action):
    """The product card's "Share": its deep link and a short text to forward."""

    product: int


@action("pm")
class ShowProducer(Action):
    """A producer's listed products (where a producer's deep link lands)."""

    producer: int


@action("sg")
class SuggestPartners(Action):
    """A page of partner suggestions at an event (``offset``: the first shown, a multiple of the page size)."""

    event: int
    offset: int = 0
    turn: str = ""  # "p" on the paging buttons: the page replaces the list


@action("sgp")
class ShowSuggestedProducer(Action):
    event: int
    producer: int


@action("sgb")
class ShowSuggestedBuyer(Action):
    event: int
    buyer: int
# -- meetings at events (handlers/meetings.py) -------------------------------------------------------------------


@action("mtg")
class EventMeetings(Action):
    """An event's meetings page: book, agenda; for the office the grid and its tools."""

    event: int


@action("mtc")
class PickCounterpart(Action):
    """Whom to meet at the event (producers for a buyer, buyers for a producer), a page from ``offset``."""

    event: int
    offset: int = 0


@action("mtb")
class BookMeeting(Action):
    """Start (slot 0: the free slots) or send a meeting request with a counterpart at an event: ``party`` "p" is a
    producer (``who`` its id; the one asking is a buyer), "b" a buyer (``who`` a user id; the one asking a
    producer). The entry point other lists (suggested partners) use."""

    event: int
    party: str
    who: int
    slot: int = 0


@action("mte")
class EditGrid(Action):
    """The office opens or changes an event's meeting grid (a flow)."""

    event: int


@action("mto")
class OfficeBook(Action):
    """The office books for both: the buyer, then the producer, then the slot (0: not chosen yet)."""

    event: int
    buyer: int = 0
    producer: int = 0
    slot: int = 0
    offset: int = 0


@action("mts")
class ShowMeeting(Action):
    meeting: int


@action("mta")
class AnswerMeeting(Action):
    meeting: int
    answer: str  # yes | no


@action("mtp")
class ProposeSlot(Action):
    meeting: int
    slot: int = 0


@action("mtx")
class CancelMeeting(Action):
    meeting: int
    confirmed: str = ""


@action("mth")
class MarkMeeting(Action):
    meeting: int
    outcome: str  # held | no_show


@action("mtm")
class MemoFromMeeting(Action):
    meeting: int
    product: int = 0


@action("mtf")
class MeetingFile(Action):
    """A printable agenda (``scope`` "me") or the whole grid per table (``scope`` "grid", the office)."""

    event: int
    scope: str
    format: str  # xlsx | docx
