"""/memos: the cooperation memos a user is party to; confirming, downloading, and (admins) marking signed."""

from __future__ import annotations

from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from handlers.actions import ConfirmMemo, DownloadMemo, ShowMemo, SignMemo, positive
from handlers.context import Context, notify
from handlers.messages import Attachment, Button, DocumentRef, Reply
from models.catalog import Product
from models.db import Database
from models.errors import Stale, StaleAction
from models.events import Event
from models.memos import (
    STATUS_MARKS,
    Memo,
    MemoKind,
    MemoStatus,
    confirm_memo,
    get_memo,
    may_confirm_for_party_b,
    memos_of,
    office,
    render_memo,
    sign_memo,
)
from models.people import User, users_of_producer


async def _sides(ctx: Context, memo: Memo) -> tuple[str, str, str]:
    """(what the memo is about, party A, party B) as listed."""
    if memo.kind == MemoKind.FRAMEWORK.value:
        return memo.message.split("\n")[0][:60], memo.org_a, memo.org_b
    buyer = memo.buyer_company or memo.buyer_name
    if memo.kind == MemoKind.PROVINCE.value:
        return memo.province, buyer, ctx.t("memo.office_for", province=memo.province)
    product = await ctx.session.get(Product, memo.product_id) if memo.product_id is not None else None
    return product.name if product else "?", buyer, memo.producer_name


async def list_memos(ctx: Context, _arg: str = "") -> None:
    memos = await memos_of(ctx.session, ctx.user)
    if not memos:
        ctx.say("memo.none")
        return
    lines, rows = [], []
    for memo in memos:
        about, party_a, party_b = await _sides(ctx, memo)
        lines.append(f"#{memo.id} {ctx.t(f'memo_kind.{memo.kind}')}: {about} — {party_a} ⇄ {party_b} — "
                     + ctx.t(f"memo_status.{memo.status}"))
        rows.append([Button(f"#{memo.id} {about}", ShowMemo(memo.id or 0).encode())])
    ctx.say("memo.list", body="\n".join(lines), buttons=rows)


async def show_memo(ctx: Context, action: ShowMemo) -> None:
    memo = await get_memo(ctx.session, ctx.user, positive(action.memo))
    none = ctx.t("contact.not_given")
    about, party_a, party_b = await _sides(ctx, memo)
    status = ctx.t(f"memo_status.{memo.status}")
    if memo.kind == MemoKind.FRAMEWORK.value:
        text = ctx.t("memo.detail_framework", number=memo.number, status=status,
                     party_a=f"{memo.org_a} ({memo.org_a_representative})",
                     party_b=f"{memo.org_b} ({memo.org_b_representative})", content=memo.message)
    elif memo.kind == MemoKind.PROVINCE.value:
        text = ctx.t("memo.detail_province", number=memo.number, status=status, province=memo.province,
                     buyer=party_a or none, wish=memo.message or none, volume=memo.volume or none)
    else:
        text = ctx.t("memo.detail", number=memo.number, status=status, product=about, buyer=party_a or none,
                     producer=party_b, volume=memo.volume or none, season=memo.season or none,
                     message=memo.message or none)
    if memo.status == MemoStatus.DRAFT.value:
        text += "\n" + ctx.t(
            "memo.confirmations",
            buyer=ctx.t("memo.yes" if memo.buyer_confirmed_at else "memo.not_yet"),
            producer=ctx.t("memo.yes" if memo.producer_confirmed_at else "memo.not_yet"),
        )
    if memo.producer_confirmed_by is not None and memo.kind == MemoKind.PRODUCER.value:
        text += "\n" + ctx.t("memo.confirmed_by_office")
    row = []
    if memo.status == MemoStatus.DRAFT.value:
        confirm = await _confirm_label(ctx, memo)
        if confirm:
            row.append(ctx.button(confirm, ConfirmMemo(memo.id or 0)))
    if memo.status in STATUS_MARKS:
        row.append(ctx.button("memo.download", DownloadMemo(memo.id or 0)))
    if memo.status == MemoStatus.CONFIRMED.value and ctx.user.is_admin:
        row.append(ctx.button("memo.sign", SignMemo(memo.id or 0)))
    ctx.send(Reply(ctx.t("memo.detail_page", body=text), buttons=(tuple(row),) if row else ()))


CONFIRM_FOR = {
    MemoKind.PRODUCER.value: "memo.confirm_for_producer",
    MemoKind.PROVINCE.value: "memo.confirm_for_province",
}


async def _confirm_label(ctx: Context, memo: Memo) -> str:
    """The confirm button this user gets on a draft ("": none): their own side, or side B for the office."""
    user = ctx.user
    if memo.buyer_user_id is not None and memo.buyer_user_id == user.id:
        return "memo.confirm" if memo.buyer_confirmed_at is None else ""
    if memo.producer_id is not None and user.producer_id == memo.producer_id:
        return "memo.confirm" if memo.producer_confirmed_at is None else ""
    if memo.producer_confirmed_at is None and await may_confirm_for_party_b(ctx.session, user, memo):
        return CONFIRM_FOR[memo.kind]
    return ""


async def download(ctx: Context, action: DownloadMemo) -> None:
    memo = await get_memo(ctx.session, ctx.user, positive(action.memo))
    if memo.status not in STATUS_MARKS:
        raise StaleAction("no document yet")
    ctx.send(Reply(ctx.t("memo.document", number=memo.number), document=DocumentRef("memo", memo.id or 0)))


async def confirm(ctx: Context, action: ConfirmMemo) -> None:
    memo = await confirm_memo(ctx.session, ctx.user, positive(action.memo), ctx.now)
    others = await _parties(ctx.session, memo, ctx.user)
    if memo.status == MemoStatus.CONFIRMED.value:
        for user in others:
            notify(ctx.session, user, lambda t: _with_document(t("memo.confirmed_both", number=memo.number), memo))
        sign = SignMemo(memo.id or 0).encode()
        for admin in await office(ctx.session):
            if admin.id != ctx.user.id and admin not in others:
                notify(ctx.session, admin, lambda t: Reply(t("memo.office_both_confirmed", number=memo.number),
                                                           buttons=((Button(t("memo.sign"), sign),),),
                                                           document=DocumentRef("memo", memo.id or 0)))
        reply = _with_document(ctx.t("memo.confirmed_both", number=memo.number), memo)
        if ctx.user.is_admin:
            reply = Reply(reply.text, buttons=((Button(ctx.t("memo.sign"), sign),),), document=reply.document)
        ctx.send(reply)
        return
    confirm_payload = ConfirmMemo(memo.id or 0).encode()
    for user in others:
        notify(ctx.session, user, lambda t: Reply(t("memo.other_confirmed", number=memo.number),
                                                  buttons=((Button(t("memo.confirm"), confirm_payload),),)))
    ctx.say("memo.you_confirmed", number=memo.number)


async def sign(ctx: Context, action: SignMemo) -> None:
    memo = await mark_signed(ctx.session, ctx.user, positive(action.memo), ctx.now)
    ctx.say("memo.signed", number=memo.number)


async def mark_signed(session: AsyncSession, admin: User, memo_id: int, now: datetime) -> Memo:
    """An admin records the signature (in a chat or on the dashboard); both parties are told, with the document."""
    memo = await sign_memo(session, admin, memo_id, now)
    for user in await _parties(session, memo, admin):
        notify(session, user, lambda t: _with_document(t("memo.signed", number=memo.number), memo))
    return memo


def _with_document(text: str, memo: Memo) -> Reply:
    return Reply(text, document=DocumentRef("memo", memo.id or 0))


async def _parties(session: AsyncSession, memo: Memo, acting: User) -> list[User]:
    """Both sides' users except the one acting: the buyer, and the producer's users (a province memo: the
    office; a framework memo has no side on the bot)."""
    buyer = await session.get(User, memo.buyer_user_id) if memo.buyer_user_id is not None else None
    users = [buyer] if buyer else []
    if memo.producer_id is not None:
        users += await users_of_producer(session, memo.producer_id)
    elif memo.kind == MemoKind.PROVINCE.value:
        users += await office(session)
    return [user for user in users if user.id != acting.id]


async def load_document(db: Database, ref: DocumentRef | Attachment, place: str = "Hà Nội") -> tuple[str, bytes]:
    """(file name, bytes) of a document a reply carries (an Attachment) or refers to (rendered now); the reply was
    authorised when it was made."""
    if isinstance(ref, Attachment):
        return ref.filename, ref.data
    if ref.kind != "memo":
        raise StaleAction(f"unknown document kind {ref.kind!r}")
    async with db.session() as session:
        memo = await session.get(Memo, ref.id)
        if memo is None:
            raise StaleAction("no such memo", Stale.GONE)
        event = await session.get(Event, memo.event_id) if memo.event_id is not None else None
        data = await render_memo(session, memo, event=event.name if event else "", place=place)
    return f"bien-ban-ghi-nho-{memo.id}.docx", data
