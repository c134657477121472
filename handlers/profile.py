"""The memo's party details: asked once after registering (buyer) or claiming a record (producer), every field and
the whole block skippable; shown and changed, field by field, with /profile.

The answers fill memos not yet confirmed (models.parties.refresh_memos); a confirmed memo keeps what was confirmed.
"""

from __future__ import annotations

from handlers.common import show_help
from handlers.context import Context
from handlers.flow import Ask, Flow, Invalid, Kind, Option, Question, Read, Step, begin, register
from models import parties
from models.catalog import Producer
from models.people import BuyerProfile
from models.text import normalize

CLEAR, LATER, NOW, DONE = "clear", "later", "now", "done"
CLEAR_WORDS = frozenset({"xoa", "clear", "delete"})


def _limit(field: str) -> int:
    return 60 if field == "tax_code" else parties.LIMITS[field]  # a mistyped code is answered, not cut


async def _read(ctx: Context, field: str, text: str) -> str:
    if not text:
        raise Invalid("flow.empty")
    if len(text) > _limit(field):
        raise Invalid("input.too_long", limit=_limit(field))
    if field == "tax_code":
        code = parties.tax_code(text)
        if code is None:
            raise Invalid("profile.tax_code_invalid")
        return code
    if field == "email":
        address = parties.email(text)
        if address is None:
            raise Invalid("profile.email_invalid")
        return address
    return text


async def _save(ctx: Context, record: BuyerProfile | Producer, values: dict[str, str]) -> None:
    for field, value in values.items():
        parties.set_detail(record, field, value)
    ctx.session.add(record)
    await ctx.session.flush()
    await parties.refresh_memos(ctx.session, record)


# -- asked once, after registering or claiming ------------------------------------------------------------------


async def offer(ctx: Context) -> None:
    """Ask for the details for memos (after the buyer's regions, or the producer's claim), unless given before."""
    record = await parties.record_of(ctx.session, ctx.user)
    if record is None or any(parties.details_of(record).values()):
        await show_help(ctx)
        return
    await begin(ctx, PARTY)


async def _ask_offer(ctx: Context) -> Question:
    return Question(ctx.t("profile.offer"), (Option(NOW, ctx.t("profile.now")), Option(LATER, ctx.t("profile.later"))))


async def _after_offer(ctx: Context) -> str | None:
    return parties.FIELDS[0] if ctx.state.data.get("offer") == NOW else None


def _ask_field(field: str) -> Ask:
    async def ask(ctx: Context) -> Question:
        number = parties.FIELDS.index(field) + 1
        return Question(f"({number}/{len(parties.FIELDS)}) {ctx.t(f'profile.ask.{field}')}")

    return ask


def _read_field(field: str) -> Read:
    async def read(ctx: Context, text: str) -> str:
        return await _read(ctx, field, text)

    return read


async def _finish_offer(ctx: Context) -> None:
    data = ctx.state.data
    given = {field: data[field] for field in parties.FIELDS if data.get(field)}
    ctx.state.leave()
    record = await parties.record_of(ctx.session, ctx.user)
    if given and record is not None:
        await _save(ctx, record, given)
        ctx.say("profile.saved_all")
    else:
        ctx.say("profile.later_done")
    await show_help(ctx)
    from handlers.deeplink import resume  # registered from a deep link: back to where it led

    await resume(ctx)


def _then(index: int) -> str | None:
    return parties.FIELDS[index + 1] if index + 1 < len(parties.FIELDS) else None


PARTY = register(
    Flow(
        "party",
        (
            Step("offer", Kind.CHOICE, _ask_offer, then=_after_offer),
            *(
                Step(field, Kind.TEXT, _ask_field(field), read=_read_field(field), skip=True, then=_then(index),
                     limit=_limit(field))
                for index, field in enumerate(parties.FIELDS)
            ),
        ),
        done=_finish_offer,
        optional=True,  # a search typed instead of an answer leaves it: /profile is there later
    )
)


# -- /profile ---------------------------------------------------------------------------------------------------


async def command(ctx: Context, _arg: str = "") -> None:
    if await parties.record_of(ctx.session, ctx.user) is None:
        ctx.say("profile.none")
        return
    await begin(ctx, PROFILE)


def _shown(ctx: Context, value: str) -> str:
    return value or ctx.t("profile.empty")


async def _ask_pick(ctx: Context) -> Question:
    record = await parties.record_of(ctx.session, ctx.user)
    details = parties.details_of(record) if record is not None else dict.fromkeys(parties.FIELDS, "")
    lines = [f"• {ctx.t(f'profile.field.{field}')}: {_shown(ctx, details[field])}" for field in parties.FIELDS]
    name = record.company if isinstance(record, BuyerProfile) else record.name if record is not None else ""
    options = tuple(Option(field, ctx.t(f"profile.field.{field}")) for field in parties.FIELDS)
    text = ctx.t("profile.show", name=name or ctx.t("profile.empty"), details="\n".join(lines))
    return Question(text, (*options, Option(DONE, ctx.t("profile.done"))))


async def _after_pick(ctx: Context) -> str | None:
    return None if ctx.state.data.get("field") == DONE else "value"


async def _ask_value(ctx: Context) -> Question:
    field = ctx.state.data["field"]
    record = await parties.record_of(ctx.session, ctx.user)
    current = parties.details_of(record)[field] if record is not None else ""
    text = ctx.t(f"profile.ask.{field}")
    if current:
        text = ctx.t("profile.current", value=current) + "\n" + text
    return Question(text, (Option(CLEAR, ctx.t("profile.clear")),) if current else (), cancel=True)


async def _read_value(ctx: Context, text: str) -> str:
    if normalize(text) in CLEAR_WORDS or normalize(text) == normalize(ctx.t("profile.clear")):
        return CLEAR
    return await _read(ctx, ctx.state.data["field"], text)


async def _finish_profile(ctx: Context) -> None:
    data = ctx.state.data
    field, value = data.get("field"), data.get("value")
    record = await parties.record_of(ctx.session, ctx.user)
    if field == DONE or record is None:
        ctx.state.leave()
        ctx.say("profile.closed")
        return
    if value is not None:  # skipped: unchanged
        await _save(ctx, record, {field: "" if value == CLEAR else value})
        ctx.say("profile.cleared" if value == CLEAR else "profile.saved", field=ctx.t(f"profile.field.{field}"))
    await begin(ctx, PROFILE)


PROFILE = register(
    Flow(
        "profile",
        (
            Step("field", Kind.CHOICE, _ask_pick, then=_after_pick),
            Step("value", Kind.TEXT, _ask_value, read=_read_value, skip=True, limit=max(map(_limit, parties.FIELDS))),
        ),
        done=_finish_profile,
        optional=True,
    )
)
