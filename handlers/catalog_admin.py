"""Catalogue management in the chat (admins): import a CSV/XLSX list sent as a file (a background job: the row
report comes as a notification), change a product's stars, hide a product or show it again. Admins see the buttons
for this on product cards."""

from __future__ import annotations

from handlers.actions import EditStars, HideProduct, ShowProduct, UnhideProduct, positive
from handlers.admin import require_admin
from handlers.context import Context
from handlers.flow import Flow, Kind, Option, Question, Step, begin, register
from handlers.i18n import Translator
from handlers.messages import Button
from models import parse
from models.catalog import Product
from models.catalog_admin import RATINGS, set_hidden, set_stars
from models.catalog_import import ImportReport
from models.clock import TIMEZONE
from models.errors import ImportProblem, Stale, StaleAction
from models.import_jobs import queue
from models.tabular import MAX_FILE_BYTES, UnreadableFile, read_bytes

MAX_ERRORS_SHOWN = 30


def explain(t: Translator, problem: ImportProblem) -> str:
    """Why a file or a row was refused, in the reader's language (field names as the spreadsheet calls them)."""
    params = dict(problem.params)
    if "column" in params:
        params["column"] = t(f"import.column.{params['column']}")
    if "columns" in params:
        params["columns"] = ", ".join(t(f"import.column.{name}") for name in params["columns"])  # type: ignore[attr-defined]
    return t(f"import.reason.{problem.code}", **params)


def card_buttons(ctx: Context, product: Product) -> list[Button]:
    """The admin's row on a product card."""
    number = product.id or 0
    return [ctx.button("catalog.edit_stars", EditStars(number)), ctx.button("catalog.hide", HideProduct(number))]


def import_report(t: Translator, name: str, report: ImportReport) -> str:
    """The row report of an import: the counts, then the first bad rows by line and reason."""
    text = t(
        "import.report",
        name=name,
        rows=report.rows,
        created=report.products_created,
        updated=report.products_updated,
        unchanged=report.products_unchanged,
        producers=report.producers_created,
        errors=len(report.errors),
    )
    lines = [t("import.row_error", line=error.line, reason=explain(t, error.problem))
             for error in report.errors[:MAX_ERRORS_SHOWN]]
    if len(report.errors) > MAX_ERRORS_SHOWN:
        lines.append(t("import.more_errors", n=len(report.errors) - MAX_ERRORS_SHOWN))
    return "\n".join([text, *lines])


async def on_document(ctx: Context) -> None:
    """A file sent to the bot: an admin's provincial list is checked for what costs little (size, kind, an XLSX's
    declared sizes) and queued for import (handlers/import_jobs.py); the row report comes when it is done."""
    if not ctx.user.is_admin:
        ctx.say("input.no_documents")
        return
    name, data = ctx.incoming.document_name[:200], ctx.incoming.document_data
    if not data:
        ctx.say("import.no_data", name=name, limit=MAX_FILE_BYTES // (1024 * 1024))
        return
    try:
        read_bytes(data, name)
    except UnreadableFile as error:
        ctx.say("import.failed", name=name, reason=explain(ctx.t, error))
        return
    await queue(ctx.session, ctx.user, name, data, ctx.now.astimezone(TIMEZONE).date(), ctx.now)
    ctx.say("import.queued", name=name)


async def stars_command(ctx: Context, arg: str) -> None:
    """/stars PRODUCT_ID N (the id as the card shows it, "#12" or "12")"""
    require_admin(ctx)
    parts = arg.split()
    product_id = parse.record_id(parts[0]) if len(parts) == 2 else None
    stars = parse.number(parts[1], min(RATINGS), max(RATINGS)) if len(parts) == 2 else None
    if product_id is None or stars is None:
        ctx.say("catalog.stars_usage")
        return
    await _set_stars(ctx, product_id, stars)


async def choose_stars(ctx: Context, action: EditStars) -> None:
    """The admin's "change stars" button on a card: the ratings to choose from."""
    require_admin(ctx)
    product = await _product(ctx, positive(action.product))
    await begin(ctx, STARS, product_id=product.id)


async def _ask_stars(ctx: Context) -> Question:
    product = await _product(ctx, int(ctx.state.data["product_id"]))
    text = ctx.t("catalog.choose_stars", name=product.name, stars=product.stars)
    return Question(text, tuple(Option(str(stars), f"{stars}★") for stars in RATINGS), cancel=True)


async def _stars_chosen(ctx: Context) -> None:
    data = ctx.state.data
    ctx.state.leave()
    await _set_stars(ctx, int(data["product_id"]), int(data["stars"]))


STARS = register(
    Flow("stars", (Step("stars", Kind.CHOICE, _ask_stars),), done=_stars_chosen, guard=require_admin)
)


async def _set_stars(ctx: Context, product_id: int, stars: int) -> None:
    product = await set_stars(ctx.session, ctx.user, product_id, stars, ctx.now)
    ctx.say("catalog.stars_set", name=product.name, stars=product.stars)


async def hide_command(ctx: Context, arg: str) -> None:
    """/hide PRODUCT_ID"""
    require_admin(ctx)
    product_id = parse.record_id(arg)
    if product_id is None:
        ctx.say("catalog.hide_usage")
        return
    await hide(ctx, HideProduct(product_id))


async def unhide_command(ctx: Context, arg: str) -> None:
    """/unhide PRODUCT_ID"""
    require_admin(ctx)
    product_id = parse.record_id(arg)
    if product_id is None:
        ctx.say("catalog.hide_usage")
        return
    await unhide(ctx, UnhideProduct(product_id))


async def hide(ctx: Context, action: HideProduct) -> None:
    require_admin(ctx)
    product = await set_hidden(ctx.session, ctx.user, positive(action.product), True, ctx.now)
    ctx.say("catalog.hidden", name=product.name, id=product.id,
            buttons=[[ctx.button("catalog.unhide", UnhideProduct(product.id or 0))]])


async def unhide(ctx: Context, action: UnhideProduct) -> None:
    require_admin(ctx)
    product = await set_hidden(ctx.session, ctx.user, positive(action.product), False, ctx.now)
    ctx.say("catalog.shown", name=product.name, buttons=[[ctx.button("catalog.open", ShowProduct(product.id or 0))]])


async def _product(ctx: Context, product_id: int) -> Product:
    product = await ctx.session.get(Product, product_id)
    if product is None:
        raise StaleAction("no such product", Stale.GONE)
    return product
