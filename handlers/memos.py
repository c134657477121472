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
from models.memo_document import render_memo_docx
from models.memos import STATUS_MARKS, Memo, MemoStatus, confirm_memo, get_memo, memo_document, memos_of, sign_memo
from models.people import User, users_of_producer


async def list_memos(ctx: Context, _arg: str = "") -> None:
    memos = await memos_of(ctx.session, ctx.user)
    if not memos:
        ctx.say("memo.none")
        return
    lines, rows = [], []
    for memo in memos:
        product = await ctx.session.get(Product, memo.product_id)
        name = product.name if product else "?"
        lines.append(f"#{memo.id} {name} — {memo.buyer_company or memo.buyer_name} ⇄ {memo.producer_name} — "
                     + ctx.t(f"memo_status.{memo.status}"))
        rows.append([Button(f"#{memo.id} {name}", ShowMemo(memo.id or 0).encode())])
    ctx.say("memo.list", body="\n".join(lines), buttons=rows)


async def show_memo(ctx: Context, action: ShowMemo) -> None:
    memo = await get_memo(ctx.session, ctx.user, positive(action.memo))
    product = await ctx.session.get(Product, memo.product_id)
    none = ctx.t("contact.not_given")
    text = ctx.t(
        "memo.detail",
        number=memo.number,
        status=ctx.t(f"memo_status.{memo.status}"),
        product=product.name if product else "?",
        buyer=memo.buyer_company or memo.buyer_name or none,
        producer=memo.producer_name,
        volume=memo.volume or none,
        season=memo.season or none,
        message=memo.message or none,
    )
    if memo.status == MemoStatus.DRAFT.value:
        text += "\n" + ctx.t(
            "memo.confirmations",
            buyer=ctx.t("memo.yes" if memo.buyer_confirmed_at else "memo.not_yet"),
            producer=ctx.t("memo.yes" if memo.producer_confirmed_at else "memo.not_yet"),
        )
    row = []
    if memo.status == MemoStatus.DRAFT.value and _own_confirmation_missing(ctx.user, memo):
        row.append(ctx.button("memo.confirm", ConfirmMemo(memo.id or 0)))
    if memo.status in STATUS_MARKS:
        row.append(ctx.button("memo.download", DownloadMemo(memo.id or 0)))
    if memo.status == MemoStatus.CONFIRMED.value and ctx.user.is_admin:
        row.append(ctx.button("memo.sign", SignMemo(memo.id or 0)))
    ctx.say("memo.detail_page", body=text, buttons=[row] if row else [])


def _own_confirmation_missing(user: User, memo: Memo) -> bool:
    if memo.buyer_user_id == user.id:
        return memo.buyer_confirmed_at is None
    return user.producer_id == memo.producer_id and memo.producer_confirmed_at is None


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
        ctx.send(_with_document(ctx.t("memo.confirmed_both", number=memo.number), memo))
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
    """Both sides' users except the one acting."""
    buyer = await session.get(User, memo.buyer_user_id)
    users = [buyer] if buyer else []
    users += await users_of_producer(session, memo.producer_id)
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
        document = await memo_document(session, memo, event=event.name if event else "", place=place)
    return f"bien-ban-ghi-nho-{memo.id}.docx", render_memo_docx(document)
