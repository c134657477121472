"""Admin commands of the conversation flow: producer claim codes (found, shown, confirmed, then issued); granting
and revoking admin rights."""

from __future__ import annotations

from handlers import flow
from handlers.actions import GrantAdmin, IssueClaimCode, RevokeAdmin, positive
from handlers.context import Context
from handlers.flow import Flow, Kind, Option, Question, Step
from handlers.messages import Button, Reply
from models import admin as admins
from models import parse
from models.audit import recent
from models.claims import CODE_VALID, Candidate, claim_candidate, claim_candidates, issue_code
from models.clock import TIMEZONE
from models.errors import AdminChangeRefused, NotAuthorised, Stale, StaleAction
from models.people import User


def require_admin(ctx: Context) -> None:
    if not ctx.user.is_admin:
        raise NotAuthorised("admins only")


async def claim_code(ctx: Context, arg: str) -> None:
    """/claimcode PRODUCER (name, or id as "12" or "#12"): the producer found is shown and the office confirms
    before a one-time code is issued (the code the producer types to claim their record)."""
    require_admin(ctx)
    text = arg.strip()
    if not text:
        ctx.say("claimcode.usage")
        return
    producer_id = parse.record_id(text)
    if producer_id is not None:
        found = await claim_candidate(ctx.session, producer_id)
        candidates = [found] if found else []
    else:
        candidates = await claim_candidates(ctx.session, text)
    if not candidates:
        ctx.say("claimcode.not_found", query=text[:100])
    elif len(candidates) == 1:
        await flow.begin(ctx, CLAIM, at="confirm", pick=str(candidates[0].producer.id))
    else:
        await flow.begin(ctx, CLAIM, candidates=[c.producer.id for c in candidates])


async def pick(ctx: Context, action: IssueClaimCode) -> None:
    """A producer's button (of an earlier version's list): shown, to confirm."""
    require_admin(ctx)
    found = await claim_candidate(ctx.session, positive(action.producer))
    if found is None:
        raise StaleAction("no such producer", Stale.GONE)
    await flow.begin(ctx, CLAIM, at="confirm", pick=str(action.producer))


def _described(ctx: Context, found: Candidate) -> str:
    producer = found.producer
    return ctx.t("claimcode.candidate", name=producer.name, province=producer.province or "—", n=found.products)


async def _ask_pick(ctx: Context) -> Question:
    options = []
    for producer_id in ctx.state.data.get("candidates", []):
        found = await claim_candidate(ctx.session, int(producer_id))
        if found is not None:
            options.append(Option(str(producer_id), _described(ctx, found)))
    return Question(ctx.t("claimcode.pick"), options, cancel=True)


async def _chosen(ctx: Context) -> Candidate:
    found = await claim_candidate(ctx.session, parse.number(str(ctx.state.data.get("pick"))) or 0)
    if found is None:
        ctx.state.leave()
        raise StaleAction("the producer is gone", Stale.GONE)
    return found


async def _ask_confirm(ctx: Context) -> Question:
    found = await _chosen(ctx)
    text = ctx.t("claimcode.confirm", producer=_described(ctx, found))
    return Question(text, (Option("yes", ctx.t("claimcode.issue")),), cancel=True)


async def _issue(ctx: Context) -> None:
    producer = (await _chosen(ctx)).producer
    ctx.state.leave()
    code = await issue_code(ctx.session, ctx.user, producer.id or 0, ctx.now, ctx.services.make_code)
    ctx.say("claimcode.issued", producer=producer.name, code=code, days=CODE_VALID.days)


CLAIM = flow.register(Flow(
    "claimcode",
    (Step("pick", Kind.CHOICE, _ask_pick, then="confirm"), Step("confirm", Kind.CHOICE, _ask_confirm)),
    done=_issue,
    guard=require_admin,
))


# -- /admin: who administers the bot ------------------------------------------------------------------------------


async def manage(ctx: Context, arg: str) -> None:
    """/admin [list] | grant WHO | revoke WHO | log — WHO is "#12", an id on this channel, "telegram:123" or a name."""
    require_admin(ctx)
    word, _, rest = arg.strip().partition(" ")
    word = word.lower()
    if word in ("", "list"):
        await _list(ctx)
    elif word in ("grant", "revoke") and rest.strip():
        await _choose(ctx, rest.strip(), grant=word == "grant")
    elif word == "log":
        await _log(ctx)
    else:
        ctx.say("admin.usage")


async def grant_pick(ctx: Context, action: GrantAdmin) -> None:
    require_admin(ctx)
    await _change(ctx, await _user(ctx, action.user), grant=True)


async def revoke_pick(ctx: Context, action: RevokeAdmin) -> None:
    require_admin(ctx)
    await _change(ctx, await _user(ctx, action.user), grant=False)


async def _user(ctx: Context, user_id: int) -> User:
    user = await ctx.session.get(User, positive(user_id))
    if user is None:
        raise StaleAction("no such user", Stale.GONE)
    return user


def _who(user: User) -> str:
    return f"{user.display_name or '?'} (#{user.id})"


async def _choose(ctx: Context, text: str, *, grant: bool) -> None:
    people = await admins.find_people(ctx.session, text[:100], ctx.incoming.channel)
    if not people:
        ctx.say("admin.no_such_user", query=text[:100])
    elif len(people) == 1:
        await _change(ctx, people[0], grant=grant)
    else:
        record = GrantAdmin if grant else RevokeAdmin
        rows = [[Button(_who(user), record(user.id or 0).encode())] for user in people]
        ctx.say("admin.pick_user", buttons=rows)


async def _change(ctx: Context, target: User, *, grant: bool) -> None:
    try:
        if grant:
            await admins.grant_admin(ctx.session, ctx.user, target, ctx.now)
        else:
            await admins.revoke_admin(ctx.session, ctx.user, target, ctx.services.admin_ids, ctx.now)
    except AdminChangeRefused as refused:
        ctx.say(f"admin.refused.{refused.reason}", name=_who(target))
        return
    told = "admin.granted_you" if grant else "admin.revoked_you"
    ctx.notify(target, lambda t: Reply(t(told)))
    ctx.say("admin.granted" if grant else "admin.revoked", name=_who(target))


async def _list(ctx: Context) -> None:
    lines = []
    for view in await admins.admins(ctx.session, ctx.services.admin_ids):
        ids = ", ".join(f"{identity.channel} {identity.external_id}" for identity in view.identities)
        if view.listed:
            how = ctx.t("admin.from_config")
        elif view.grant is not None:
            when = f"{view.grant.granted_at.astimezone(TIMEZONE):%d/%m/%Y}"
            how = ctx.t("admin.granted_on", date=when, by=f"#{view.grant.granted_by}")
        else:
            how = ""
        lines.append(f"• {_who(view.user)} — {ids} — {how}")
    ctx.say("admin.list", body="\n".join(lines))


async def _log(ctx: Context) -> None:
    entries = await recent(ctx.session)
    if not entries:
        ctx.say("admin.log_empty")
        return
    lines = [
        f"{entry.at.astimezone(TIMEZONE):%d/%m %H:%M} #{entry.actor_id or '-'} {entry.action} {entry.subject}"
        + (f" — {entry.detail}" if entry.detail else "")
        for entry in entries
    ]
    ctx.say("admin.log", body="\n".join(lines))
