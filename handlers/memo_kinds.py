"""Making the two memo kinds that do not come from a contact request.

/province (buyers): propose sourcing from a province — which province, what to source, the expected volume. The
other party is the coordination office acting for the province: every admin is told and any admin confirms for the
province (there is no per-province office in the bot), then an admin marks it signed as for any memo.

/framework (admins): a framework memo between two organisations (the office, an association, a province) — each
one's name and representative, then the content. It is made confirmed (the office drafts it after both agreed) and
an admin marks it signed at the ceremony. Both kinds belong to the event running today that the buyer registered for
(a buyer's proposal), or to the event the admin picks; /event memo MEMO EVENT changes it later.
"""

from __future__ import annotations

from handlers.actions import ConfirmMemo, ShowMemo, Start
from handlers.admin import require_admin
from handlers.context import Context
from handlers.flow import Flow, Invalid, Kind, Option, Question, Step, begin, read_text, register
from handlers.messages import Button, DocumentRef, Reply
from models import events as ev
from models import geography
from models.errors import NotAuthorised
from models.events import local_day, running_event_for
from models.memos import make_framework_memo, office, propose_to_province
from models.people import Role

MAX_NAME, MAX_PERSON, MAX_CONTENT = 300, 200, 1000


# -- buyers: /province ----------------------------------------------------------------------------------------------


async def province_command(ctx: Context, arg: str = "") -> None:
    if not ctx.user.is_buyer:
        if ctx.user.role == Role.NONE.value:
            ctx.say("contact.register_first", buttons=[[ctx.button("contact.register", Start())]])
        else:
            ctx.say("province_memo.buyers_only")
        return
    await begin(ctx, PROVINCE_MEMO)


async def _ask_province(ctx: Context) -> Question:
    return Question(ctx.t("province_memo.ask_province"), cancel=True)


async def _read_province(_ctx: Context, text: str) -> str:
    found = geography.resolve(text)
    place = found.place
    if place is None or place.current is None:
        candidates = [c.current for c in found.candidates if c.current]
        if found.ambiguous and candidates:
            raise Invalid("province_memo.which_province", names=", ".join(sorted(set(candidates))))
        raise Invalid("province_memo.unknown_province", text=text[:60])
    return place.current


async def _ask_wish(ctx: Context) -> Question:
    return Question(ctx.t("province_memo.ask_wish", province=ctx.state.data["province"]), cancel=True)


async def _ask_volume(ctx: Context) -> Question:
    return Question(ctx.t("contact.ask_volume"))


async def _ask_send(ctx: Context) -> Question:
    data = ctx.state.data
    text = ctx.t("province_memo.confirm", province=data["province"], wish=data["wish"],
                 volume=data.get("volume") or ctx.t("contact.not_given"))
    return Question(text, (Option("send", ctx.t("province_memo.send")),), cancel=True)


async def _propose(ctx: Context) -> None:
    data = ctx.state.data
    event_id = await running_event_for(ctx.session, ctx.user.id or 0, ctx.now)
    memo = await propose_to_province(ctx.session, ctx.user, data["province"], data["wish"], data.get("volume") or "",
                                     event_id, ctx.now)
    ctx.state.leave()
    buyer = memo.buyer_company or memo.buyer_name
    view, confirm = ShowMemo(memo.id or 0).encode(), ConfirmMemo(memo.id or 0).encode()
    for admin in await office(ctx.session):
        ctx.notify(admin, lambda t: Reply(
            t("province_memo.for_office", number=memo.number, buyer=buyer, province=memo.province, wish=memo.message,
              volume=memo.volume or t("contact.not_given")),
            buttons=((Button(t("memo.confirm_for_province"), confirm), Button(t("memo.view"), view)),),
        ))
    ctx.send(Reply(ctx.t("province_memo.sent", number=memo.number, province=memo.province),
                   document=DocumentRef("memo", memo.id or 0)))


def _buyers_only(ctx: Context) -> None:
    if not ctx.user.is_buyer:
        raise NotAuthorised("buyers only")


PROVINCE_MEMO = register(
    Flow(
        "province_memo",
        (
            Step("province", Kind.TEXT, _ask_province, read=_read_province, then="wish", limit=100),
            Step("wish", Kind.TEXT, _ask_wish, then="volume", limit=MAX_CONTENT),
            Step("volume", Kind.TEXT, _ask_volume, skip=True, then="send", limit=200),
            Step("send", Kind.CHOICE, _ask_send),
        ),
        done=_propose,
        guard=_buyers_only,
    )
)


# -- the office: /framework -----------------------------------------------------------------------------------------


async def framework_command(ctx: Context, arg: str = "") -> None:
    require_admin(ctx)
    await begin(ctx, FRAMEWORK_MEMO)


def _asker(key: str, cancel: bool = True):  # type: ignore[no-untyped-def]
    async def ask(ctx: Context) -> Question:
        return Question(ctx.t(key, **{k: v for k, v in ctx.state.data.items() if isinstance(v, str)}), cancel=cancel)

    return ask


async def _ask_event(ctx: Context) -> Question:
    events = await ev.upcoming(ctx.session, local_day(ctx.now))
    return Question(ctx.t("framework.ask_event"), [Option(str(e.id), e.name[:60]) for e in events])


async def _after_content(ctx: Context) -> str:
    return "event" if await ev.upcoming(ctx.session, local_day(ctx.now)) else "create"


async def _ask_create(ctx: Context) -> Question:
    data = ctx.state.data
    text = ctx.t("framework.confirm", org_a=data["org_a"], rep_a=data["rep_a"], org_b=data["org_b"],
                 rep_b=data["rep_b"], content=data["content"])
    return Question(text, (Option("create", ctx.t("framework.create")),), cancel=True)


async def _create(ctx: Context) -> None:
    data = ctx.state.data
    event = data.get("event")
    event_id = (await ev.get_event(ctx.session, int(event))).id if event else None
    memo = await make_framework_memo(
        ctx.session, ctx.user, ((data["org_a"], data["rep_a"]), (data["org_b"], data["rep_b"])), data["content"],
        event_id, ctx.now,
    )
    ctx.state.leave()
    ctx.send(Reply(ctx.t("framework.made", number=memo.number), document=DocumentRef("memo", memo.id or 0),
                   buttons=((Button(ctx.t("memo.view"), ShowMemo(memo.id or 0).encode()),),)))


FRAMEWORK_MEMO = register(
    Flow(
        "framework",
        (
            Step("org_a", Kind.TEXT, _asker("framework.ask_org_a"), read=read_text, then="rep_a", limit=MAX_NAME),
            Step("rep_a", Kind.TEXT, _asker("framework.ask_rep_a"), read=read_text, then="org_b", limit=MAX_PERSON),
            Step("org_b", Kind.TEXT, _asker("framework.ask_org_b"), read=read_text, then="rep_b", limit=MAX_NAME),
            Step("rep_b", Kind.TEXT, _asker("framework.ask_rep_b"), read=read_text, then="content",
                 limit=MAX_PERSON),
            Step("content", Kind.TEXT, _asker("framework.ask_content"), read=read_text, then=_after_content,
                 limit=MAX_CONTENT),
            Step("event", Kind.CHOICE, _ask_event, skip=True, then="create"),
            Step("create", Kind.CHOICE, _ask_create),
        ),
        done=_create,
        guard=require_admin,
    )
)
