"""The flow engine: every conversation of several questions is a ``Flow`` of ``Step``s, run by one engine.

A step declares its question (``ask``), the kind of answer it takes (``kind``), how a typed answer is read and
checked (``read``), whether it may be skipped, and the step that follows (``then``: a name, a function choosing
one, or None when the flow is done). The engine asks; reads typed text by the step's kind (a bare number picks an
option of a menu, and is a value at a free-text step); takes button answers (``actions.Answer``) only for the
question on screen; after a wrong answer says why and asks again with the menu shown again, so a menu never
locks; honours cancel anywhere (handlers.app); and ends a flow left alone longer than ``Services.flow_ttl``
(handlers.app, at the next message). Where a chat stands is ``ChatState.flow``/``step``; answers so far are
``ChatState.data``, all saved in the update's transaction.

The flows: handlers/start.py (onboarding: buyer, producer claim; regions of interest), handlers/contact.py
(contact request), handlers/events.py (new event, edit an event), handlers/broadcast.py (compose a broadcast),
handlers/catalog_admin.py (change a product's stars), handlers/meetings.py (an event's meeting grid).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any

from handlers.actions import Answer, Cancel
from handlers.context import Context
from handlers.messages import Attachment, Button, Reply
from models import parse
from models.conversation import ChatState
from models.errors import Stale, StaleAction
from models.text import normalize

SKIP, DONE, CANCEL = "skip", "done", "cancel"
SKIP_WORDS = frozenset({"bo qua", "skip", "bo", "qua", "khong co", "next"})
DONE_WORDS = frozenset({"xong", "done", "ok", "xong roi", "finish"})
MAX_TEXT = 1000
_PHONE = re.compile(r"\+?[0-9][0-9 .\-]{7,17}[0-9]")


class Kind(StrEnum):
    """What a step takes; it decides what a typed number means (an option's number, or the value itself)."""

    CHOICE = "choice"  # one of the options (a typed number or option text picks it)
    MULTI = "multi"  # several options, each toggled, then "done"
    TEXT = "text"  # free text (a bare number is a value)
    PHONE = "phone"  # a phone number, typed or shared through the platform's button
    NUMBER = "number"
    DATE = "date"
    IMAGE = "image"  # a picture (or what ``read`` accepts typed, e.g. a link)
    FILE = "file"


VALUES = frozenset({Kind.TEXT, Kind.PHONE, Kind.NUMBER, Kind.DATE})  # kinds where a typed number is the answer


@dataclass(frozen=True)
class Option:
    value: str  # what the answer records: a short word ([a-z0-9_], at most 24 characters)
    label: str  # as shown, in the user's language


@dataclass(frozen=True)
class Question:
    text: str
    options: Sequence[Option] = ()
    photo: str | Attachment = ""
    request_contact: str = ""  # label of the platform's "share my phone number" button
    cancel: bool = False  # show a Cancel button too
    before: Sequence[Reply] = ()  # messages sent just before the question (a broadcast's preview)


class Invalid(Exception):
    """A wrong answer: the engine says ``key`` (with ``params``) and asks again."""

    def __init__(self, key: str, **params: object) -> None:
        super().__init__(key)
        self.key = key
        self.params = params


Ask = Callable[[Context], Awaitable[Question]]
Read = Callable[[Context, Any], Awaitable[Any]]
Then = str | Callable[[Context], Awaitable[str | None]] | None


@dataclass(frozen=True)
class Step:
    name: str
    kind: Kind
    ask: Ask
    read: Read | None = None  # typed text (a picture, a phone) → the value to keep; raise Invalid to re-ask. At a
    # menu, what is typed that is no option (a place's name); an option picked is kept as its value
    skip: bool = False
    then: Then = None
    limit: int = MAX_TEXT  # longest free text


@dataclass(frozen=True)
class Flow:
    name: str
    steps: tuple[Step, ...]
    done: Callable[[Context], Awaitable[None]]
    guard: Callable[[Context], None] | None = None  # checked before every answer (e.g. admins only)
    optional: bool = False  # nothing depends on it: text that answers none of its options leaves it (a search)
    _by_name: dict[str, Step] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", {step.name: step for step in self.steps})

    def step(self, name: str | None) -> Step | None:
        return self._by_name.get(name or "")


FLOWS: dict[str, Flow] = {}


def register(flow: Flow) -> Flow:
    FLOWS[flow.name] = flow
    return flow


def current(ctx: Context) -> tuple[Flow, Step] | None:
    flow = FLOWS.get(ctx.state.flow or "")
    step = flow.step(ctx.state.step) if flow else None
    return (flow, step) if flow and step else None


# -- asking -------------------------------------------------------------------------------------------------------


async def begin(ctx: Context, flow: Flow, at: str | None = None, **data: Any) -> None:
    """Start ``flow`` (at its first step, or ``at``) with ``data`` as its first answers."""
    step = flow.step(at) if at else flow.steps[0]
    assert step is not None, at
    ctx.state.enter(flow.name, step.name, **data)
    await ask(ctx, flow, step)


async def ask(ctx: Context, flow: Flow, step: Step, *, wrong: str = "", edit: bool = False) -> None:
    """Ask ``step``'s question; after a wrong answer, say what was wrong first (the menu comes again)."""
    question = await step.ask(ctx)
    text = f"{wrong}\n\n{question.text}" if wrong else question.text
    ctx.wrong_answer = bool(wrong)
    for reply in question.before:
        ctx.send(reply)
    ctx.send(
        Reply(
            text,
            buttons=_buttons(ctx, flow, step, question),
            photo=question.photo,
            request_contact=question.request_contact,
            edit=edit,
        )
    )


def _buttons(ctx: Context, flow: Flow, step: Step, question: Question) -> tuple[tuple[Button, ...], ...]:
    def answer(value: str, label: str) -> Button:
        return Button(label, Answer(flow.name, step.name, value).encode())

    rows = [(answer(option.value, _marked(ctx, step, option)),) for option in question.options]
    tail: list[Button] = []
    typed = step.kind in VALUES  # where a number is a value, skip and cancel are chosen by their word
    if step.kind is Kind.MULTI:
        tail.append(answer(DONE, ctx.t("flow.done")))
    if step.skip:
        label = ctx.t("flow.skip")
        tail.append(Button(label, Answer(flow.name, step.name, SKIP).encode(), key=label if typed else ""))
    if question.cancel:
        label = ctx.t("flow.cancel")
        tail.append(Button(label, Cancel().encode(), key=label if typed else ""))
    if tail:
        rows.append(tuple(tail))
    return tuple(rows)


def _marked(ctx: Context, step: Step, option: Option) -> str:
    chosen = step.kind is Kind.MULTI and option.value in ctx.state.data.get(step.name, [])
    return ("✓ " + option.label) if chosen else option.label


# -- answering ----------------------------------------------------------------------------------------------------


async def on_text(ctx: Context, text: str) -> bool:
    """A typed answer to the question on screen, read by the step's kind; False when it was no answer to an
    optional question (the flow is left and the text is handled as usual)."""
    found = current(ctx)
    if found is None:
        ctx.state.leave()
        raise StaleAction("the flow is gone", Stale.EXPIRED)
    flow, step = found
    if flow.guard:
        flow.guard(ctx)
    key = normalize(text)
    if step.kind not in VALUES:
        value = await _typed_choice(ctx, flow, step, text)
        if value is None and flow.optional:
            ctx.state.leave()
            return False
        if value == CANCEL:
            from handlers.common import cancel  # (common imports this module)

            await cancel(ctx)
        elif value is not None:
            await _chosen(ctx, flow, step, value)
        elif step.read is not None and step.kind is not Kind.MULTI:
            await _read(ctx, flow, step, text)  # a menu that also takes a typed value (a place's name, a link)
        elif step.kind in (Kind.IMAGE, Kind.FILE):
            await ask(ctx, flow, step, wrong=ctx.t("flow.send_image" if step.kind is Kind.IMAGE else "flow.send_file"))
        else:
            await ask(ctx, flow, step, wrong=ctx.t("flow.choose_listed"))
    elif step.skip and (key in SKIP_WORDS or key == normalize(ctx.t("flow.skip"))):
        await _advance(ctx, flow, step, None)
    else:
        await _read(ctx, flow, step, text)
    return True


async def on_media(ctx: Context) -> None:
    """A picture or a file where the question on screen wants something else: asked again, saying so."""
    await reask(ctx, ctx.t("flow.send_text"))


async def reask(ctx: Context, wrong: str) -> None:
    """Say what was wrong, then the question on screen again; outside a flow, just say it."""
    found = current(ctx)
    if found is None:
        ctx.send(Reply(wrong))
    else:
        await ask(ctx, *found, wrong=wrong)


async def on_answer(ctx: Context, answer: Answer) -> None:
    """A button pressed under a question: only the question on screen can be answered (and, for the office's
    flows, only by an admin: checked first, whatever the button)."""
    target = FLOWS.get(answer.flow)
    if target is not None and target.guard:
        target.guard(ctx)
    found = current(ctx)
    if found is None or answer.flow != found[0].name:
        raise StaleAction(f"answer to {answer.flow}/{answer.step}", Stale.EXPIRED if found is None else Stale.OUTDATED)
    flow, step = found
    if answer.step != step.name:
        raise StaleAction(f"{answer.step} was answered", Stale.ANSWERED)
    if answer.value == SKIP and step.skip:
        await _advance(ctx, flow, step, None)
    elif answer.value == DONE and step.kind is Kind.MULTI:
        await _advance(ctx, flow, step, list(ctx.state.data.get(step.name, [])))
    elif answer.value in {option.value for option in (await step.ask(ctx)).options}:
        await _chosen(ctx, flow, step, answer.value, edit=step.kind is Kind.MULTI)
    else:
        raise StaleAction(f"{answer.value!r} is not an option of {step.name}")


async def on_value(ctx: Context, value: Any) -> None:
    """Something other than text answered the question on screen (a picture, a shared phone number)."""
    found = current(ctx)
    if found is None:
        raise StaleAction("no question", Stale.EXPIRED)
    flow, step = found
    if flow.guard:
        flow.guard(ctx)
    await _read(ctx, flow, step, value)


def expects(ctx: Context, kind: Kind) -> bool:
    """Whether the question on screen takes this kind of answer (a picture, a phone number)."""
    return takes(ctx.state, kind)


def takes(state: ChatState, kind: Kind) -> bool:
    flow = FLOWS.get(state.flow or "")
    step = flow.step(state.step) if flow else None
    return step is not None and step.kind is kind


async def _typed_choice(ctx: Context, flow: Flow, step: Step, text: str) -> str | None:
    """The value of the option typed: by its text first, then by its number in the list as shown."""
    question = await step.ask(ctx)
    choices = [(option.label, option.value) for option in question.options]
    if step.kind is Kind.MULTI:
        choices.append((ctx.t("flow.done"), DONE))
    if step.skip:
        choices.append((ctx.t("flow.skip"), SKIP))
    if question.cancel:
        choices.append((ctx.t("flow.cancel"), CANCEL))
    key = normalize(text)
    by_text = [value for label, value in choices if key and normalize(label) == key]
    if by_text:
        return by_text[0]
    if step.kind is Kind.MULTI and key in DONE_WORDS:
        return DONE
    if step.skip and key in SKIP_WORDS:
        return SKIP
    position = parse.option_number(text, len(choices))
    return choices[position - 1][1] if position is not None else None


async def _chosen(ctx: Context, flow: Flow, step: Step, value: str, *, edit: bool = False) -> None:
    if value == SKIP:
        await _advance(ctx, flow, step, None)
    elif step.kind is Kind.MULTI and value == DONE:
        await _advance(ctx, flow, step, list(ctx.state.data.get(step.name, [])))
    elif step.kind is Kind.MULTI:
        chosen: list[str] = list(ctx.state.data.get(step.name, []))
        chosen = [v for v in chosen if v != value] if value in chosen else [*chosen, value]
        ctx.state.goto(step.name, **{step.name: chosen})
        await ask(ctx, flow, step, edit=edit)
    else:  # an option's value is kept as it is (``read`` is for what is typed instead)
        await _advance(ctx, flow, step, value)


async def _read(ctx: Context, flow: Flow, step: Step, raw: Any) -> None:
    try:
        raw = _checked(step, raw)
        value = await (step.read or _READERS[step.kind])(ctx, raw)
    except Invalid as invalid:
        await ask(ctx, flow, step, wrong=ctx.t(invalid.key, **invalid.params))
        return
    await _advance(ctx, flow, step, value)


def _checked(step: Step, raw: Any) -> Any:
    if isinstance(raw, str):
        raw = raw.strip()
        if len(raw) > step.limit:
            raise Invalid("input.too_long", limit=step.limit)
    return raw


async def _advance(ctx: Context, flow: Flow, step: Step, value: Any) -> None:
    """Keep the answer (None: skipped) and go on: the next step's question, or the flow's end."""
    if ctx.state.flow != flow.name:  # reading the answer ended the flow (too many wrong codes)
        return
    ctx.state.goto(step.name, **{step.name: value})
    following = step.then if isinstance(step.then, str) or step.then is None else await step.then(ctx)
    if ctx.state.flow != flow.name:  # ``then`` started another flow or left this one
        return
    if following is None:
        await flow.done(ctx)
        return
    target = flow.step(following)
    assert target is not None, following
    ctx.state.goto(target.name)
    await ask(ctx, flow, target)


# -- reading typed answers by kind ----------------------------------------------------------------------------------


async def read_text(_ctx: Context, text: str) -> str:
    if not text:
        raise Invalid("flow.empty")
    return text


async def read_phone(_ctx: Context, text: str) -> str:
    if not _PHONE.fullmatch(text):
        raise Invalid("flow.phone_invalid")
    return text[:40]


async def read_number(_ctx: Context, text: str) -> int:
    """A whole amount in ASCII digits, its thousands grouped or not ("1200", "1.200")."""
    value = parse.quantity(text)
    if value is None:
        raise Invalid("flow.number_invalid")
    return value


async def read_date(_ctx: Context, text: str) -> str:
    day = parse.calendar_date(text)
    if day is None:
        raise Invalid("flow.date_invalid", example=f"{date(2027, 1, 15):%d/%m/%Y}")
    return day.isoformat()


async def _not_typed(_ctx: Context, _text: str) -> None:
    raise Invalid("flow.send_image")


_READERS: dict[Kind, Read] = {
    Kind.TEXT: read_text,
    Kind.PHONE: read_phone,
    Kind.NUMBER: read_number,
    Kind.DATE: read_date,
    Kind.IMAGE: _not_typed,
    Kind.FILE: _not_typed,
    Kind.CHOICE: read_text,
    Kind.MULTI: read_text,
}
