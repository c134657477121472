"""/requests: the producer's inbox and the buyer's sent requests; accepting, declining; reminders and expiry."""

from __future__ import annotations

from handlers.actions import AcceptRequest, ConfirmMemo, DeclineRequest, ShowMemo, ShowRequest, positive
from handlers.context import Context, Services, notify
from handlers.i18n import Translator
from handlers.messages import Button, DocumentRef, Reply
from models.memos import Memo
from models.parties import BuyerFacts, buyer_facts
from models.people import BuyerKind, Role, users_of_producer, users_with_role
from models.requests import (
    RequestStatus,
    RequestView,
    answer_request,
    due_for_reminder,
    expire_overdue,
    requests_of,
    view_request,
)


def answer_buttons(t: Translator, request_id: int | None) -> tuple[tuple[Button, ...], ...]:
    number = request_id or 0
    accept, decline = AcceptRequest(number).encode(), DeclineRequest(number).encode()
    return ((Button(t("inbox.accept"), accept), Button(t("inbox.decline"), decline)),)


def buyer_lines(t: Translator, buyer: BuyerFacts) -> str:
    """Who the buyer is, as a producer needs it to decide: company, kind, regions, how the phone was given (never the
    number), memos signed through the bot."""
    known = buyer.kind in set(BuyerKind)
    return t(
        "inbox.buyer_facts",
        buyer=buyer.company or t("inbox.a_buyer"),
        kind=t(f"buyer_kind.{buyer.kind}") if known else t("contact.not_given"),
        regions=", ".join(buyer.regions) or t("inbox.regions_any"),
        phone=t(f"inbox.phone.{buyer.phone}"),
        signed=buyer.signed_memos,
    )


async def list_requests(ctx: Context, _arg: str = "") -> None:
    received, sent = await requests_of(ctx.session, ctx.user)
    if not received and not sent:
        ctx.say("inbox.empty")
        return
    lines: list[str] = []
    rows: list[list[Button]] = []
    if received:
        lines.append(ctx.t("inbox.received"))
        for view in received:
            lines.append(_line(ctx.t, view, other=view.profile.company if view.profile else view.buyer.display_name))
            rows.append([Button(f"#{view.request.id} {view.product.name}", ShowRequest(view.request.id or 0).encode())])
    if sent:
        lines.append(ctx.t("inbox.sent"))
        for view in sent:
            lines.append(_line(ctx.t, view, other=view.producer.name))
            rows.append([Button(f"#{view.request.id} {view.product.name}", ShowRequest(view.request.id or 0).encode())])
    ctx.say("inbox.list", body="\n".join(lines), buttons=rows)


def _line(t: Translator, view: RequestView, *, other: str) -> str:
    status = t(f"request_status.{view.request.status}")
    return f"#{view.request.id} {view.product.name} — {other} — {status}"


async def show_request(ctx: Context, action: ShowRequest) -> None:
    view = await view_request(ctx.session, ctx.user, positive(action.request))
    request = view.request
    none = ctx.t("contact.not_given")
    text = ctx.t(
        "inbox.detail",
        number=request.id,
        product=view.product.name,
        status=ctx.t(f"request_status.{request.status}"),
        message=request.message,
        volume=request.volume or none,
        season=request.season or none,
        date=f"{request.created_at:%d/%m/%Y}",
    )
    can_answer = ctx.user.is_admin or ctx.user.producer_id == request.producer_id
    pending = request.status == RequestStatus.PENDING.value
    if can_answer and request.buyer_user_id != ctx.user.id:  # who is asking, before deciding
        text += "\n" + buyer_lines(ctx.t, await buyer_facts(ctx.session, view.buyer))
    ctx.say("inbox.detail_page", body=text, buttons=answer_buttons(ctx.t, request.id) if pending and can_answer else ())


async def accept(ctx: Context, action: AcceptRequest) -> None:
    request, memo = await answer_request(ctx.session, ctx.user, positive(action.request), accept=True, now=ctx.now)
    view = await view_request(ctx.session, ctx.user, request.id or 0)
    ctx.notify(view.buyer, lambda t: _accepted_for_buyer(t, view, memo))
    producer_users = await users_of_producer(ctx.session, view.producer.id or 0)
    for user in producer_users:
        if user.id != ctx.user.id:
            ctx.notify(user, lambda t: _accepted_for_producer(t, view, memo))
    reply = _accepted_for_producer(ctx.t, view, memo)
    if ctx.user not in producer_users:  # an admin relaying for a producer who is not on the bot
        reply = Reply(ctx.t("inbox.accepted_on_behalf") + "\n\n" + reply.text, reply.buttons, document=reply.document)
    ctx.send(reply)


def _memo_buttons(t: Translator, memo: Memo) -> tuple[tuple[Button, ...], ...]:
    confirm, view = ConfirmMemo(memo.id or 0).encode(), ShowMemo(memo.id or 0).encode()
    return ((Button(t("memo.confirm"), confirm), Button(t("memo.view"), view)),)


def _accepted_for_buyer(t: Translator, view: RequestView, memo: Memo) -> Reply:
    none = t("contact.not_given")
    producer = view.producer
    text = t(
        "inbox.accepted_buyer",
        product=view.product.name,
        producer=producer.name,
        phone=producer.phone or none,
        email=producer.email or none,
        address=producer.address or none,
        memo=memo.id,
    )
    return Reply(text, buttons=_memo_buttons(t, memo), document=DocumentRef("memo", memo.id or 0))


def _accepted_for_producer(t: Translator, view: RequestView, memo: Memo) -> Reply:
    none = t("contact.not_given")
    text = t(
        "inbox.accepted_producer",
        product=view.product.name,
        company=(view.profile.company if view.profile else "") or none,
        buyer=view.buyer.display_name or none,
        phone=view.buyer.phone or none,
        memo=memo.id,
    )
    return Reply(text, buttons=_memo_buttons(t, memo), document=DocumentRef("memo", memo.id or 0))


async def decline(ctx: Context, action: DeclineRequest) -> None:
    request, _memo = await answer_request(ctx.session, ctx.user, positive(action.request), accept=False, now=ctx.now)
    view = await view_request(ctx.session, ctx.user, request.id or 0)
    ctx.notify(view.buyer, lambda t: Reply(t("inbox.declined_buyer", product=view.product.name)))
    ctx.say("inbox.declined_producer", number=request.id)


async def run_due(services: Services) -> tuple[int, int]:
    """Remind producers of requests waiting too long, expire the oldest; returns (reminded, expired)."""
    now = services.clock.now()
    async with services.db.transaction() as session:
        reminded = await due_for_reminder(session, services.policy, now)
        admins = await users_with_role(session, Role.ADMIN)
        for view in reminded:
            for user in await users_of_producer(session, view.producer.id or 0) or admins:
                notify(session, user, lambda t, v=view: _reminder(t, v))
        expired = await expire_overdue(session, services.policy, now)
        for view in expired:
            notify(session, view.buyer, lambda t, v=view: Reply(t("inbox.expired_buyer", product=v.product.name)))
    return len(reminded), len(expired)


def _reminder(t: Translator, view: RequestView) -> Reply:
    request = view.request
    text = t("inbox.reminder", number=request.id, product=view.product.name, date=f"{request.created_at:%d/%m/%Y}")
    return Reply(text, buttons=answer_buttons(t, request.id))
