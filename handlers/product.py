"""The product card: what a buyer needs to decide whether to ask for contact. No contact details on it."""

from __future__ import annotations

from datetime import date

from handlers.actions import ContactProducer, SearchPage, ShowProduct, positive
from handlers.catalog_admin import card_buttons
from handlers.certificates import card_line, list_flag
from handlers.context import Context
from handlers.deeplink import share_button
from handlers.i18n import Translator
from handlers.messages import Button, Reply
from handlers.search import display_name
from models.catalog import Producer, Product, products_of, visible_product
from models.certificates import local_today
from models.errors import Stale, StaleAction


async def show(ctx: Context, action: ShowProduct) -> None:
    found = await visible_product(ctx.session, positive(action.product))
    if found is None:
        raise StaleAction("product not listed", Stale.GONE)
    product, producer = found
    rows = [[ctx.button("card.contact", ContactProducer(product.id or 0)), *share_button(ctx, product)]]
    if ctx.user.is_admin:
        rows.append(card_buttons(ctx, product))
    if "search" in ctx.state.data:
        rows.append([ctx.button("card.back", SearchPage(int(ctx.state.data["search"].get("offset", 0))))])
    ctx.send(Reply(card_text(ctx.t, product, producer, local_today(ctx.now)), buttons=_rows(rows), photo=product.photo))


async def list_own(ctx: Context, _arg: str = "") -> None:
    """/products: a producer's own listed products, each marked when its certificate has ended or soon will."""
    if not ctx.user.is_producer:
        ctx.say("products.producers_only")
        return
    products = await products_of(ctx.session, ctx.user.producer_id or 0)
    if not products:
        ctx.say("products.none")
        return
    today = local_today(ctx.now)
    lines: list[str] = []
    rows: list[list[Button]] = []
    for number, product in enumerate(products, start=1):
        flag = list_flag(ctx.t, product.expires_on, today)
        lines.append(f"{number}. {product.name} — {'★' * product.stars}" + (f" — {flag}" if flag else ""))
        rows.append([Button(f"{number}. {product.name}", ShowProduct(product.id or 0).encode(), key=str(number))])
    text = ctx.t("products.list", body="\n".join(lines))
    ctx.send(Reply(text, buttons=_rows(rows), listed=len(rows)))


def card_text(t: Translator, product: Product, producer: Producer, today: date) -> str:
    group = t(f"group.{product.group}") + (f" — {product.subgroup}" if product.subgroup else "")
    lines = [display_name(t, product.name), group]
    stars = t("card.stars", stars="★" * product.stars, n=product.stars)
    if product.potential_5:
        stars += " — " + t("card.potential")
    lines.append(stars)
    lines.append(t("card.producer", producer=producer.name, kind=t(f"producer_kind.{producer.kind}")))
    place = producer.province
    if producer.old_province and producer.old_province != producer.province:
        place += f" ({producer.old_province})"
    lines.append(t("card.place", place=", ".join(p for p in (producer.ward, place) if p)))
    if product.decision_no or product.decision_date:
        decided = f"{product.decision_date:%d/%m/%Y}" if product.decision_date else "?"
        lines.append(t("card.certificate", number=product.decision_no or "?", date=decided))
        if product.expires_on:
            lines.append(card_line(t, product.expires_on, today))
    details = (("card.unit", product.unit), ("card.capacity", product.capacity), ("card.season", product.season))
    for key, value in details:
        if value:
            lines.append(t(key, value=value))
    if product.description:
        lines.append("")
        lines.append(product.description)
    return "\n".join(lines)


def _rows(rows: list[list[Button]]) -> tuple[tuple[Button, ...], ...]:
    return tuple(tuple(row) for row in rows)
