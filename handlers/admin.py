"""Admin commands of the conversation flow: producer claim codes."""

from __future__ import annotations

from handlers.context import Context, parse_id
from handlers.messages import Button
from models.catalog import Producer, find_producers
from models.claims import CODE_VALID, issue_code
from models.errors import NotAuthorised, StaleAction
from models.text import normalize


def require_admin(ctx: Context) -> None:
    if not ctx.user.is_admin:
        raise NotAuthorised("admins only")


async def claim_code(ctx: Context, arg: str) -> None:
    """/claimcode PRODUCER (name or id): a one-time code the producer types to claim their record."""
    require_admin(ctx)
    text = arg.strip()
    if not text:
        ctx.say("claimcode.usage")
        return
    if text.isdigit():
        producer = await ctx.session.get(Producer, int(text))
        producers = [producer] if producer else []
    else:
        producers = await find_producers(ctx.session, text)
        exact = [p for p in producers if p.name_key == normalize(text)]
        producers = exact if len(exact) == 1 else producers
    if not producers:
        ctx.say("claimcode.not_found", query=text[:100])
    elif len(producers) == 1:
        await _issue(ctx, producers[0])
    else:
        rows = [[Button(f"{p.name} — {p.province}", f"cc:{p.id}")] for p in producers]
        ctx.say("claimcode.pick", buttons=rows)


async def pick(ctx: Context, arg: str) -> None:
    require_admin(ctx)
    producer = await ctx.session.get(Producer, parse_id(arg))
    if producer is None:
        raise StaleAction("no such producer")
    await _issue(ctx, producer)


async def _issue(ctx: Context, producer: Producer) -> None:
    code = await issue_code(ctx.session, ctx.user, producer.id or 0, ctx.now, ctx.services.make_code)
    ctx.say("claimcode.issued", producer=producer.name, code=code, days=CODE_VALID.days)
