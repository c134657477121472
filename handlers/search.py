"""Searching: free text, or browsing region → province → group → stars; results as pages of short cards."""

from __future__ import annotations

from typing import Any

from handlers.actions import Browse, SearchPage, SetLanguage, ShowProduct
from handlers.certificates import list_flag
from handlers.context import Context, parse_index
from handlers.i18n import Translator, translator
from handlers.messages import Button, Reply
from models import geography
from models.certificates import local_today
from models.errors import Stale, StaleAction
from models.lexicon import gloss
from models.ocop import Group
from models.search import MAX_QUERY_CHARS, Filters, Notice, SearchResult
from models.search_log import record_search

PAGE = 5
REGIONS = tuple(geography.NEW_REGIONS)
UNITS = geography.current_units()
STAR_CHOICES = ("0", "3", "4", "5", "p")  # any, ≥3★ … 5★, potential 5★


async def search_text(ctx: Context, text: str) -> None:
    offered = ctx.state.data.get("offered_english", False)
    ctx.state.leave()  # a search replaces the question on screen (a flow's answers must not lose their data)
    ctx.state.data = {"search": {"q": text}, **({"offered_english": True} if offered else {})}
    await _show(ctx, offset=0, edit=False)


async def page(ctx: Context, action: SearchPage) -> None:
    if "search" not in ctx.state.data:
        raise StaleAction("no search to page", Stale.EXPIRED)
    await _show(ctx, offset=action.offset, edit=True)


async def show_again(ctx: Context) -> None:
    """The page of results last shown, as a new message (after the language changed)."""
    await _show(ctx, offset=ctx.state.data["search"].get("offset", 0), edit=False)


async def _show(ctx: Context, *, offset: int, edit: bool) -> None:
    saved: dict[str, Any] = ctx.state.data["search"]
    today = local_today(ctx.now)
    with ctx.services.metrics.search_seconds.time():
        result = await ctx.services.search.search(
            saved.get("q", ""), filters=_filters(saved), offset=offset, limit=PAGE, today=today
        )
    ctx.state.data["search"] = {**saved, "offset": offset}
    if not edit and (ctx.user.is_buyer or ctx.user.is_producer) and result.notice is not Notice.EMPTY:
        await record_search(ctx.session, ctx.user.id or 0, result.query, _filters(saved), ctx.now)
    if result.notice is Notice.EMPTY:
        ctx.say("search.greeting" if result.query.chatter else "search.empty_query")
        return
    lines = [ctx.t("search.too_long", limit=MAX_QUERY_CHARS)] if result.notice is Notice.TOO_LONG else []
    for ambiguous in result.query.ambiguous:
        names = ", ".join(place.name for place in ambiguous.candidates)
        lines.append(ctx.t("search.ambiguous", text=ambiguous.text, places=names))
    if result.ignored:
        lines.append(ctx.t("search.ignored", words=", ".join(result.ignored)))
    if not result.hits:
        _nothing(ctx, result, lines)
        return
    shown = {"n": result.total, "first": result.offset + 1, "last": result.offset + len(result.hits)}
    if result.relaxed:
        lines.append(ctx.t(f"search.relaxed.{result.relaxed.value}", **shown))
    elif result.partial:
        lines.append(ctx.t("search.partial", query=result.query.text, **shown))
    else:
        lines.append(ctx.t.plural("search.found", result.total, first=shown["first"], last=shown["last"]))
    rows: list[list[Button]] = []
    asked_in_english = any(term.english for term in result.query.terms)  # "black pepper" in a Vietnamese chat
    for number, hit in enumerate(result.hits, start=result.offset + 1):
        doc = hit.document
        stars = "★" * doc.stars + (" " + ctx.t("card.potential_short") if doc.potential_5 else "")
        flag = list_flag(ctx.t, doc.expires_on, today)
        name = display_name(ctx.t, doc.name, english=asked_in_english)
        lines.append(f"{number}. {name} — {stars} — {doc.place_label}" + (f" — {flag}" if flag else ""))
        rows.append([Button(f"{number}. {doc.name}", ShowProduct(doc.id).encode(), key=str(number))])
    navigation = []
    if result.offset > 0:
        navigation.append(ctx.button("search.previous", SearchPage(max(0, result.offset - PAGE))))
    if result.has_more:
        navigation.append(ctx.button("search.more", SearchPage(shown["last"])))
    if navigation:
        rows.append(navigation)
    if asked_in_english and ctx.t.language != "en" and not ctx.state.data.get("offered_english"):
        ctx.state.data["offered_english"] = True  # once: a Vietnamese reader may just have typed an English word
        lines.append(translator("en")("search.offer_english"))
        rows.append([ctx.button("lang.en", SetLanguage("en", results=1))])
    body = "\n".join(lines)
    ctx.send(Reply(ctx.t("search.page", body=body), buttons=_rows(rows), edit=edit, listed=len(result.hits)))


def display_name(t: Translator, name: str, *, english: bool = False) -> str:
    """A product's name, with the English kind of product for English readers, or for a list asked for in English
    ("Nước mắm Phú Quốc — fish sauce")."""
    kind = gloss(name) if english or t.language == "en" else None
    return t("card.name_gloss", name=name, gloss=kind) if kind else name


def _nothing(ctx: Context, result: SearchResult, lines: list[str]) -> None:
    lines.append(ctx.t("search.none", query=result.query.text or "…"))
    lines.append(ctx.t("search.tip"))
    ctx.say("search.page", buttons=[[ctx.button("browse.start", Browse())]], body="\n".join(lines))


def _filters(saved: dict[str, Any]) -> Filters | None:
    browse = saved.get("browse")
    if not browse:
        return None
    places = []
    for name in browse.get("places", []):
        place = geography.resolve(name).place
        if place is not None:
            places.append(place)
    stars = browse.get("stars", "0")
    return Filters(
        places=tuple(places),
        groups=frozenset(browse.get("groups", [])),
        min_stars=int(stars) if stars in {"3", "4"} else 3 if stars == "0" else None,  # "any" = every OCOP rating
        stars=5 if stars == "5" else None,
        potential_5=stars == "p",
    )


# -- browsing ---------------------------------------------------------------------------------------------------


async def browse_command(ctx: Context, _arg: str = "") -> None:
    """/browse."""
    await browse(ctx, Browse())


async def browse(ctx: Context, action: Browse) -> None:
    """Region (r), province (p), group (g), stars (s): each choice narrows the listing; then the products."""
    step, value = action.step, action.value
    browse_state: dict[str, Any] = dict(ctx.state.data.get("browse", {}))
    if step in {"", "start"}:
        ctx.state.leave()
        ctx.state.data = {"browse": {}}
        rows = [[Button(name, Browse("r", str(i)).encode())] for i, name in enumerate(REGIONS)]
        rows.append([ctx.button("browse.everywhere", Browse("r", "all"))])
        ctx.say("browse.region", buttons=rows)
        return
    if "browse" not in ctx.state.data:
        raise StaleAction("no browsing in progress", Stale.EXPIRED)
    if step == "r":
        if value == "all":
            browse_state = {"places": []}
            _ask_group(ctx)
        else:
            region = REGIONS[parse_index(value, len(REGIONS))]
            browse_state = {"region": region, "places": [region]}
            units = geography.NEW_REGIONS[region]
            rows = [[Button(unit, Browse("p", str(UNITS.index(unit))).encode())] for unit in units]
            rows.append([ctx.button("browse.whole_region", Browse("p", "all"))])
            ctx.say("browse.province", buttons=rows, region=region)
    elif step == "p":
        if value != "all":
            browse_state["places"] = [UNITS[parse_index(value, len(UNITS))]]
        _ask_group(ctx)
    elif step == "g":
        group = parse_index(value, 7)
        browse_state["groups"] = [group] if group else []
        rows = [[ctx.button(f"browse.stars.{choice}", Browse("s", choice))] for choice in STAR_CHOICES]
        ctx.state.data = {"browse": browse_state}
        ctx.say("browse.stars", buttons=rows)
        return
    elif step == "s":
        if value not in STAR_CHOICES:
            raise StaleAction(f"bad stars {value!r}")
        browse_state["stars"] = value
        ctx.state.data = {"search": {"q": "", "browse": browse_state}}
        await _show(ctx, offset=0, edit=False)
        return
    else:
        raise StaleAction(f"bad browse step {step!r}")
    ctx.state.data = {"browse": browse_state}


def _ask_group(ctx: Context) -> None:
    rows = [[ctx.button(f"group.{group.value}", Browse("g", str(group.value)))] for group in Group]
    rows.append([ctx.button("browse.any_group", Browse("g", "0"))])
    ctx.say("browse.group", buttons=rows)



def _rows(rows: list[list[Button]]) -> tuple[tuple[Button, ...], ...]:
    return tuple(tuple(row) for row in rows)
