"""/export memos|requests|products [csv|xlsx]: the office's spreadsheets, sent as files (admins only)."""

from __future__ import annotations

from handlers.actions import Export
from handlers.admin import require_admin
from handlers.context import Context
from handlers.messages import Attachment, Reply
from models.errors import StaleAction
from models.exports import ExportFormat, ExportKind, export
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


async def _send(ctx: Context, kind: ExportKind, fmt: ExportFormat) -> None:
    if not ctx.capabilities.documents:
        ctx.say("export.no_files")
        return
    made = await export(ctx.session, ctx.user, kind, fmt, ctx.now)
    text = ctx.t("export.ready", kind=ctx.t(f"export.kind.{kind.value}"), rows=made.rows, format=fmt.value.upper())
    ctx.send(Reply(text, document=Attachment(made.filename, made.data, made.mime)))
