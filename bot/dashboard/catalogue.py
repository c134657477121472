"""The dashboard's Catalogue page: search with the chat's engine (services.search) and filters (group, stars,
potential 5★); the products hidden from search; a product's card with its audit trail, where an admin changes the
stars or hides/shows it through the same domain functions as the chat's /stars, /hide and /unhide."""

from __future__ import annotations

from aiohttp import web

from bot.dashboard.routes import Visit, page, redirect, render
from models import parse
from models.catalog import Producer, Product
from models.catalog_admin import RATINGS, set_hidden, set_stars
from models.errors import NotAuthorised, StaleAction
from models.ocop import Group
from models.query import Filters
from models.tables import PAGE_SIZE, hidden_products, trail

GROUPS = tuple(int(group) for group in Group)


def filters_of(query: dict[str, str]) -> Filters:
    """The filters a search form chose; anything else than its own values is ignored."""
    group = parse.canonical(query.get("group", ""))
    stars = parse.canonical(query.get("stars", ""))
    return Filters(groups=frozenset({group}) if group in GROUPS else frozenset(),
                   stars=stars if stars in RATINGS else None,
                   potential_5=query.get("potential") == "1")


async def catalogue(visit: Visit) -> web.Response:
    query = {key: visit.request.query.get(key, "") for key in ("q", "group", "stars", "potential", "page")}
    text = parse.plain(query["q"])[:200]
    filters = filters_of(query)
    number = parse.canonical(query["page"], high=10_000) or 1
    result = None
    if text.strip() or filters.active():
        result = await visit.services.search.search(text, filters=filters, offset=(number - 1) * PAGE_SIZE,
                                                    limit=PAGE_SIZE)
    pages = max(1, -(-result.total // PAGE_SIZE)) if result else 1
    return render(visit.request, "catalogue.html", visit=visit, result=result, text=text, filters=filters,
                  number=number, pages=pages, groups=GROUPS, ratings=RATINGS,
                  hidden=await hidden_products(visit.session), query=query)


async def _product(visit: Visit) -> tuple[Product, Producer] | None:
    product_id = parse.canonical(visit.request.match_info["id"])
    product = await visit.session.get(Product, product_id) if product_id is not None else None
    producer = await visit.session.get(Producer, product.producer_id) if product else None
    return (product, producer) if product and producer else None


async def product_card(visit: Visit, *, notice: str = "", status: int = 200) -> web.Response:
    found = await _product(visit)
    if found is None:
        return render(visit.request, "refused.html", visit=visit, status=404, title="dashboard.not_found_title",
                      message="dashboard.product_not_found")
    product, producer = found
    done = visit.request.query.get("done", "")
    if not notice and done in ("stars", "hidden", "shown"):
        notice = f"dashboard.product.{done}"
    return render(visit.request, "product.html", visit=visit, status=status, product=product, producer=producer,
                  notice=notice, ratings=RATINGS, trail=await trail(visit.session, f"product:{product.id}"))


async def change_stars(visit: Visit) -> web.Response:
    found = await _product(visit)
    stars = parse.canonical(visit.form.get("stars", ""))
    if found is None:
        return await product_card(visit)
    if stars not in RATINGS:
        return await product_card(visit, notice="dashboard.product.bad_stars", status=422)
    await set_stars(visit.session, visit.user, found[0].id or 0, stars or 0, visit.services.clock.now())
    return redirect(f"/dashboard/products/{found[0].id}?done=stars")


async def change_hidden(visit: Visit) -> web.Response:
    found = await _product(visit)
    hide = visit.form.get("hidden", "")
    if found is None:
        return await product_card(visit)
    if hide not in ("0", "1"):
        return await product_card(visit, notice="dashboard.stale_form", status=422)
    try:
        await set_hidden(visit.session, visit.user, found[0].id or 0, hide == "1", visit.services.clock.now())
    except (StaleAction, NotAuthorised):
        return await product_card(visit, notice="dashboard.stale_form", status=409)
    return redirect(f"/dashboard/products/{found[0].id}?done={'hidden' if hide == '1' else 'shown'}")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/dashboard/catalogue", page(catalogue))
    app.router.add_get("/dashboard/products/{id:[0-9]+}", page(product_card))
    app.router.add_post("/dashboard/products/{id:[0-9]+}/stars", page(change_stars, post=True))
    app.router.add_post("/dashboard/products/{id:[0-9]+}/hidden", page(change_hidden, post=True))
