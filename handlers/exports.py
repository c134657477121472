"""/export memos|requests|products [csv|xlsx]: the office's spreadsheets, sent as files (admins only), worded in
the admin's language: translated headers and values, dates as dd/mm/yyyy."""

from __future__ import annotations

from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from handlers.actions import Export
from handlers.admin import require_admin
from handlers.context import Context
from handlers.i18n import Translator
from handlers.messages import Attachment, Reply
from models.errors import StaleAction
from models.exports import ExportFile, ExportFormat, ExportKind, export
from models.people import User
from models.sheet import Kind, Table
from models.tabular import Sheet
from models.text import normalize

# What admins type for each export, in either language (compared after normalize()).
KIND_WORDS = {
    "memos": ExportKind.MEMOS, "memo": ExportKind.MEMOS, "bien ban": ExportKind.MEMOS,
    "requests": ExportKind.REQUESTS, "request": ExportKind.REQUESTS, "yeu cau": ExportKind.REQUESTS,
    "products": ExportKind.PRODUCTS, "product": ExportKind.PRODUCTS, "san pham": ExportKind.PRODUCTS,
    "catalogue": ExportKind.PRODUCTS, "danh muc": ExportKind.PRODUCTS,
}


def parse(arg: str) -> tuple[ExportKind, ExportFormat] | None:
    key = normalize(arg)
    fmt = ExportFormat.XLSX
    for candidate in ExportFormat:
        if key == candidate.value or key.endswith(f" {candidate.value}"):
            fmt = candidate
            key = key.removesuffix(candidate.value).strip()
    kind = KIND_WORDS.get(key)
    return (kind, fmt) if kind else None


async def command(ctx: Context, arg: str) -> None:
    require_admin(ctx)
    chosen = parse(arg)
    if chosen is None:
        rows = [
            [ctx.button("export.button", Export(kind.value, fmt.value), kind=ctx.t(f"export.kind.{kind.value}"),
                        format=fmt.value.upper()) for fmt in ExportFormat]
            for kind in ExportKind
        ]
        ctx.say("export.usage", buttons=rows)
        return
    await _send(ctx, *chosen)


async def pick(ctx: Context, action: Export) -> None:
    require_admin(ctx)
    if action.kind not in set(ExportKind) or action.format not in set(ExportFormat):
        raise StaleAction(f"bad export {action!r}")
    await _send(ctx, ExportKind(action.kind), ExportFormat(action.format))


async def export_for(
    session: AsyncSession, user: User, kind: ExportKind, fmt: ExportFormat, now: datetime, t: Translator
) -> ExportFile:
    """An export in ``t``'s language (a chat's or the dashboard's), its sheet named after what it holds."""
    name = t(f"export.kind.{kind.value}")
    return await export(session, user, kind, fmt, now, lambda table: labelled(table, t, name))


async def _send(ctx: Context, kind: ExportKind, fmt: ExportFormat) -> None:
    if not ctx.capabilities.documents:
        ctx.say("export.no_files")
        return
    made = await export_for(ctx.session, ctx.user, kind, fmt, ctx.now, ctx.t)
    text = ctx.t("export.ready", kind=ctx.t(f"export.kind.{kind.value}"), rows=made.rows, format=fmt.value.upper())
    ctx.send(Reply(text, document=Attachment(made.filename, made.data, made.mime)))


# Kinds whose codes are msgids under a prefix of the same name ("memo_status.draft", "buyer_kind.supermarket"...).
_VOCABULARIES = {Kind.MEMO_KIND, Kind.MEMO_STATUS, Kind.REQUEST_STATUS, Kind.BUYER_KIND, Kind.PRODUCER_KIND, Kind.GROUP}


def labelled(table: Table, t: Translator, title: str = "") -> Sheet:
    """The table as people read it in ``t``'s language: headers ``export.column.*``, codes by their names, stars
    and yes/no in words; numbers and dates stay numbers and dates (the writer shows dates as dd/mm/yyyy)."""
    header = [t(f"export.column.{column.key}") for column in table.columns]
    kinds = [column.kind for column in table.columns]
    rows = [[_word(t, kind, value) for kind, value in zip(kinds, row, strict=True)] for row in table.rows]
    return Sheet(header, rows, title)


def _word(t: Translator, kind: Kind, value: object) -> object:
    if value is None or value == "":
        return None
    if kind is Kind.YES_NO:
        return t("export.yes") if value else t("export.no")
    if kind is Kind.STARS:
        return t("export.stars", n=value)
    if kind in _VOCABULARIES:
        key = f"{kind.value}.{value}"
        text = t(key)
        return value if text == key else text[:1].upper() + text[1:]  # a code we have no word for stays as it is
    return value
