"""Hostile input against the real Conversation: every command with random arguments, every button record with random
and tampered payloads, random text at every step of every flow, from a buyer, a producer, an admin and newcomers,
on SQLite and on PostgreSQL. Nothing may end in the "something went wrong" apology or an ERROR in the log, and no
reply may show a person what belongs to another buyer.

The world is built once per backend (buyers with requests and memos, a producer, an event, a broadcast); examples
then run against it as it changes, each starting from a known place: a flow step is restored from a snapshot taken
when the step was first reached through the conversation. Examples are derandomized, so CI sees the same inputs.
"""

from __future__ import annotations

import copy
import logging
import re
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import select

from handlers import actions, app, flow
from handlers.app import Conversation
from handlers.i18n import LANGUAGES, translator
from handlers.messages import Capabilities
from handlers.render import Rendered
from models.catalog import Product
from models.catalog_import import import_rows
from models.conversation import ChatState
from models.db import Database
from models.people import Identity, User
from models.tabular import read_bytes
from tests.chat import (
    CATALOGUE,
    ChatUser,
    claim_producer,
    load_catalogue,
    make_services,
    register_buyer,
    request_contact,
)

TYPED = Capabilities(buttons=False, edits=False, documents=False, photos=False, request_contact=False, max_text=2000)
TAPPED = Capabilities(documents=False, max_text=4096)  # buttons; no files, so /stats draws no chart

LAN_SECRET, MINH_SECRET = "Lan cần 300 hộp mã LX7311", "Minh cần 900 kg mã MK4422"
LAN_COMPANY, MINH_COMPANY = "Siêu thị Xanh", "Công ty Minh Kín"
LAN_PHONE, MINH_PHONE = "0913 579 246", "0988 246 135"
LANS = (LAN_SECRET, LAN_COMPANY, LAN_PHONE)
MINHS = (MINH_SECRET, MINH_COMPANY, MINH_PHONE)
PRIVATE = {"lan": MINHS, "minh": LANS, "hao": MINHS, "guest": LANS + MINHS, "claimant": LANS + MINHS}
APOLOGIES = tuple(translator(language)("error.unexpected", id="\x00").split("\x00")[0] for language in LANGUAGES)
SETTINGS = settings(
    deadline=None, derandomize=True, database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)

# -- hostile text -------------------------------------------------------------------------------------------------

FRAGMENTS = (
    "²", "³", "１２", "٣", "۴", "७", "①", "½", "𝟗", "#", "##", "#1", "#2", "#0", "# 3", "#99999999999999999999",
    "99999999999999999999", str(2**31), str(2**31 - 1), str(2**63), "-1", "+1", "0", "1", "2", "3", "4", "5", "7",
    "1.", "2.", "1e9", "0x1f", "1_000", "1.000", "NaN", "inf", "\x00", "\x07", "\x1b[31m", "\x7f", "\r\n", "\t",
    "\u200f", "\u202e", "\u200b", "\ufeff", "\u0301", "😀", "👨‍👩‍👧", "🇻🇳", "\ud83d", "\udfff", "/", ":", "@", "«»",
    "%s", "%(x)s", "{0}", "{name}", "{", "}", "<b>x</b>", "'; DROP TABLE app_user; --", "\\", "bỏ qua", "xong",
    "huỷ", "skip", "done", "ok", "Chè", "mật ong", "hà nội", "qn", "Sao Hoả", "31/02/2027", "10/01/2027",
    "2027-01-10", "32/13/2027", "01/01/0001", "12/12/9999", "0912 345 678", "+84", "all", "list", "new", "edit",
    "cancel", "memo", "grant", "revoke", "log", "status", "csv", "xlsx", "memos", "requests", "products",
    "telegram:9000", "console:office", "zalo_bot:", " ", "  ", "\n",
)
LONG = st.sampled_from([199, 200, 201, 300, 301, 1000, 1001, 2000, 2001, 5000]).flatmap(
    lambda n: st.sampled_from(["x", "9", "²", "ệ", "😀", "\x00"]).map(lambda c: c * n))
ANY_CHARACTER = st.characters(exclude_categories=())  # surrogates too: a JSON body can carry a lone one
HOSTILE = st.one_of(
    st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(ANY_CHARACTER, max_size=12)), max_size=5).map("".join),
    LONG,
)
WORDS = st.one_of(
    st.sampled_from(["", "yes", "y", "no", "buyer", "producer", "admin", "all", "start", "r", "p", "g", "s", "0",
                     "3", "4", "5", "skip", "done", "save", "send", "back", "name", "theme", "venue", "dates",
                     "deadline", "description", "memos", "requests", "products", "csv", "xlsx", "vi", "en", "fr",
                     *flow.FLOWS, *(step.name for f in flow.FLOWS.values() for step in f.steps)]),
    st.from_regex(r"[a-z0-9_]{0,24}", fullmatch=True),
)
NUMBERS = st.one_of(
    st.integers(0, 9).map(str),  # ids of real records, and of unknown ones
    st.sampled_from([str(2**31 - 1), str(2**31), str(10**11), "9" * 12, str(2**63), "9" * 40]),  # too big
    st.sampled_from(["²", "³", "１２", "٣", "۴۵", "७", "①", "𝟗", "-1", "+1", "01", "1.0", "1e3", ""]),  # no numbers
)
IDS = st.one_of(NUMBERS, NUMBERS.map("#{}".format))
# What follows each command: its own words, and ids where it reads them (any text is tried for every command too).
SHAPES = {
    "stars": ["{id} {id}", "{id} {id} {id}", "{id}"],
    "hide": ["{id}"],
    "unhide": ["{id}"],
    "admin": ["grant {id}", "revoke {id}", "grant {text}", "revoke telegram:{id}", "{word}"],
    "claimcode": ["{id}"],
    "event": ["edit {id}", "cancel {id}", "memo {id} {id}", "memo {id}", "{word} {id}", "list"],
    "export": ["{word} {word}", "{word}"],
    "link": ["{id}", "{word}"],
}
FILLS = {"id": IDS, "word": WORDS, "text": HOSTILE}


@st.composite
def arguments(draw: st.DrawFn, command: str) -> str:
    shape = draw(st.sampled_from([*SHAPES.get(command, ["{id}", "{word} {id}"]), "{text}"]))
    return re.sub(r"\{(\w+)\}", lambda hole: draw(FILLS[hole.group(1)]), shape)


@st.composite
def payloads(draw: st.DrawFn, record: type[actions.Action]) -> str:
    """Button data for ``record``: well formed (ids of real and unknown records, words it takes or not), or
    tampered (fields of the wrong type, too few or too many, over-long, an unknown tag, any text)."""
    fields = [draw(NUMBERS if kind is int else WORDS) for kind in record._types]
    how = draw(st.sampled_from(["as is", "as is", "as is", "swap", "cut", "extra", "long", "hostile", "tag"]))
    if how == "swap" and fields:
        index = draw(st.integers(0, len(fields) - 1))
        fields[index] = draw(WORDS if record._types[index] is int else NUMBERS)
    elif how == "cut" and fields:
        fields = fields[: draw(st.integers(0, len(fields) - 1))]
    elif how == "extra":
        fields.append(draw(st.one_of(NUMBERS, WORDS)))
    elif how == "long":
        fields.append("9" * 70)
    elif how == "hostile":
        fields = [draw(HOSTILE) for _ in fields] or [draw(HOSTILE)]
    tag = draw(st.one_of(WORDS, st.sampled_from(sorted(actions._RECORDS)))) if how == "tag" else record.tag
    return ":".join((tag, *fields))


# -- the world ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tap:
    payload: str


@dataclass(frozen=True)
class Press:
    label: str


@dataclass(frozen=True)
class Shared:
    phone: str  # shared through the platform's "share my phone number" button


Move = str | Tap | Press | Shared


def t(key: str) -> str:
    return translator("vi")(key)


def routes(ids: dict[str, int]) -> dict[tuple[str, str], tuple[str, list[Move]]]:
    """How a person reaches each step of each flow through the conversation (who, and what they do)."""
    buyer_steps = ["/start", Press(t("start.role_buyer")), "Siêu thị Mới", Press(t("buyer_kind.supermarket"))]
    claim = ["/start", Press(t("start.role_producer")), "hao dat"]
    contact = [Tap(actions.ContactProducer(ids["Gốm"]).encode()), "Cần hàng mẫu", "50 bộ"]
    event = ["/event new", "Hội chợ Xuân", "2", "Văn Miếu", "10/02/2027 - 12/02/2027", "bỏ qua", "Gian hàng"]
    broadcast = ["/broadcast", "Tin mới", "bỏ qua"]
    audience = {kind: Press(t(f"broadcast.kind.{kind}")) for kind in ("buyers", "place", "lang", "event")}
    edit = ["/event edit 1"]
    province = ["/province", "Lào Cai", "Chè shan tuyết", "bỏ qua"]
    framework = ["/framework", "Văn phòng Điều phối", "Ông Hùng", "Hiệp hội Bán lẻ", "Bà Mai", "Kết nối", "bỏ qua"]
    grid = ["/meetings grid 1", Press(t("meeting.all_days")), "08:00-12:00", "bỏ qua",
            Press("20 phút"), Press(t("meeting.numbered_tables")), "3"]
    return {
        ("onboard", "role"): ("guest", buyer_steps[:1]),
        ("onboard", "company"): ("guest", buyer_steps[:2]),
        ("onboard", "kind"): ("guest", buyer_steps[:3]),
        ("onboard", "phone"): ("guest", buyer_steps),
        ("regions", "regions"): ("guest", [*buyer_steps, "bỏ qua"]),
        ("onboard", "find"): ("claimant", claim[:2]),
        ("onboard", "pick"): ("claimant", claim),
        ("onboard", "code"): ("claimant", [*claim, "1"]),
        ("contact", "message"): ("lan", contact[:1]),
        ("contact", "volume"): ("lan", contact[:2]),
        ("contact", "season"): ("lan", contact),
        ("contact", "confirm"): ("lan", [*contact, "bỏ qua"]),
        **{("event", step): ("office", event[: i + 1]) for i, step in enumerate(("name", "theme", "venue", "dates",
                                                                                 "deadline", "description"))},
        ("event", "confirm"): ("office", event),
        **{("event_edit", name): ("office", [*edit, Press(t(f"event.field.{name}"))])
           for name in ("name", "theme", "venue", "dates", "deadline", "description")},
        ("broadcast", "text"): ("office", broadcast[:1]),
        ("broadcast", "photo"): ("office", broadcast[:2]),
        ("broadcast", "audience"): ("office", broadcast),
        ("broadcast", "place"): ("office", [*broadcast, audience["place"]]),
        ("broadcast", "which"): ("office", [*broadcast, audience["place"], "qn"]),
        ("broadcast", "language"): ("office", [*broadcast, audience["lang"]]),
        ("broadcast", "event"): ("office", [*broadcast, audience["event"]]),
        ("broadcast", "preview"): ("office", [*broadcast, audience["buyers"]]),
        ("stars", "stars"): ("office", [Tap(actions.EditStars(ids["Chè"]).encode())]),
        ("link", "confirm"): ("linker", ["/link {code}"]),
        ("claimcode", "pick"): ("office", ["/claimcode gốm bát tràng"]),  # two potters
        ("claimcode", "confirm"): ("office", ["/claimcode HTX Lúa gạo Mỹ Xuyên"]),
        ("party", "offer"): ("guest", [*buyer_steps, "bỏ qua", "bỏ qua"]),
        **{("party", field): ("guest", [*buyer_steps, "bỏ qua", "bỏ qua", Press(t("profile.now")), *["bỏ qua"] * i])
           for i, field in enumerate(("representative", "position", "address", "tax_code", "email"))},
        ("profile", "field"): ("lan", ["/profile"]),
        ("profile", "value"): ("lan", ["/profile", Press(t("profile.field.tax_code"))]),
        **{("province_memo", step): ("lan", province[: i + 1]) for i, step in enumerate(("province", "wish",
                                                                                          "volume", "send"))},
        **{("framework", step): ("office", framework[: i + 1]) for i, step in enumerate(("org_a", "rep_a", "org_b",
                                                                                           "rep_b", "content",
                                                                                           "event", "create"))},
        **{("meeting_grid", step): ("office", grid[: i + 1]) for i, step in enumerate(("days", "hours", "breaks",
                                                                                       "minutes", "tables", "count",
                                                                                       "confirm"))},
    }


class World:
    """The conversation, its people, and where each flow step was reached (who, and the chat's state there)."""

    def __init__(self, conversation: Conversation, users: dict[str, ChatUser]) -> None:
        self.conversation, self.users = conversation, users
        self.snapshots: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {}

    def __repr__(self) -> str:  # (hypothesis prints it with every failing example)
        return f"World({self.db.url.get_backend_name()})"

    @property
    def db(self) -> Database:
        return self.conversation.services.db

    async def state_of(self, user: ChatUser) -> ChatState:
        async with self.db.session() as session:
            state = await session.get(ChatState, (user.channel, user.name))
        assert state is not None
        return state

    async def put_at(self, name: str, values: dict[str, Any]) -> None:
        """Set a chat where a snapshot was taken (the step's question on screen, its answers so far)."""
        user = self.users[name]
        async with self.db.transaction() as session:
            state = await session.get(ChatState, (user.channel, user.name))
            assert state is not None
            for key, value in copy.deepcopy(values).items():
                setattr(state, key, value)
            state.updated_at = self.conversation.services.clock.now()

    async def is_admin(self, name: str) -> bool:
        user = self.users[name]
        async with self.db.session() as session:
            query = select(User).join(Identity).where(Identity.channel == user.channel,
                                                      Identity.external_id == user.name)
            found = (await session.exec(query)).first()
        return found is not None and found.is_admin


# A second Bát Tràng potter: "/claimcode gốm bát tràng" names two, for the office to pick from.
POTTER = CATALOGUE.splitlines()[0] + "\n" + (
    'Bình hút lộc men rạn,Công ty TNHH Gốm Bát Tràng Xưa,Doanh nghiệp,"xã Bát Tràng, thành phố Hà Nội",Hà Nội,'
    "Hàng thủ công mỹ nghệ,3,,78/QĐ-UBND,01/06/2024,0900 000 777,,Quanh năm\n"
)


async def build_world(db: Database) -> World:
    await load_catalogue(db)
    await import_rows(db, read_bytes(POTTER.encode(), "potter.csv"))
    conversation = Conversation(make_services(db))
    users = {
        "office": ChatUser(conversation, "office", capabilities=TYPED),
        "lan": ChatUser(conversation, "lan", capabilities=TAPPED),
        "minh": ChatUser(conversation, "minh", channel="zalo_bot", capabilities=TYPED),
        "hao": ChatUser(conversation, "hao", capabilities=TAPPED),
        "guest": ChatUser(conversation, "guest", channel="zalo_bot", capabilities=TYPED),
        "claimant": ChatUser(conversation, "claimant", capabilities=TAPPED),
        "linker": ChatUser(conversation, "linker", channel="zalo_bot", capabilities=TYPED),
    }
    office, lan, minh, hao = (users[name] for name in ("office", "lan", "minh", "hao"))
    await office.says("/help")
    await register_buyer(lan, LAN_COMPANY, LAN_PHONE)
    await request_contact(lan, "che tan cuong", "Chè búp", message=LAN_SECRET)  # request 1, memo 1
    await register_buyer(minh, MINH_COMPANY, MINH_PHONE)
    await request_contact(minh, "mat ong", "Mật ong", message=MINH_SECRET)  # request 2, memo 2
    await claim_producer(office, hao, "HTX Chè Hảo Đạt")
    await hao.taps(actions.AcceptRequest(1).encode())  # memo 1: a draft with its document
    for move in ["/event new", "Hội chợ Tết", "2", "Hoàng Thành", "10/01/2027 - 11/01/2027", "bỏ qua", "Tết", "1"]:
        await office.says(move)
    await lan.taps(actions.RegisterForEvent(1, "buyer").encode())
    for move in ["/broadcast", "Hội chợ Tết sắp mở", "bỏ qua", Press(t("broadcast.kind.buyers")), "1"]:
        await play(office, move)
    assert office.saw("#1"), office.last
    async with db.session() as session:
        products = (await session.exec(select(Product))).all()
    ids = {name: next(p.id for p in products if p.name.startswith(name)) for name in ("Gốm", "Chè")}
    await lan.says("/link")
    code = lan.last.split("/link ")[1].split()[0]
    world = World(conversation, users)
    for (flow_name, step), (who, moves) in routes(ids).items():
        user = users[who]
        await user.says("/cancel")
        for move in moves:
            await play(user, move.format(code=code) if isinstance(move, str) else move)
        state = await world.state_of(user)
        assert (state.flow, state.step) == (flow_name, step), (flow_name, step, user.last)
        world.snapshots[(flow_name, step)] = (who, {"flow": state.flow, "step": state.step, "data": state.data,
                                                    "options": state.options})
        await user.says("/cancel")
    return world


async def play(user: ChatUser, move: Move) -> list[Rendered]:
    if isinstance(move, Tap):
        return await user.taps(move.payload)
    if isinstance(move, Press):
        return await user.presses(move.label)
    if isinstance(move, Shared):
        return await user.shares_phone(move.phone)
    return await user.says(move)


@pytest.fixture
async def world(db: Database) -> World:
    return await build_world(db)


async def handled(world: World, who: str, send: Any, caplog: pytest.LogCaptureFixture) -> None:
    """Send one thing from ``who`` and check it was answered politely, without anyone else's data."""
    user = world.users[who]
    admin = await world.is_admin(who)
    caplog.clear()
    replies = await send(user)
    errors = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert not errors, errors[0].getMessage()
    assert replies is not None
    for reply in replies:
        assert not any(apology in reply.text for apology in APOLOGIES), reply.text
        if not admin:
            leaked = [secret for secret in PRIVATE.get(who, ()) if secret in reply.text]
            assert not leaked, (who, leaked, reply.text)


PEOPLE = st.sampled_from(["lan", "minh", "hao", "office", "office", "office", "guest"])  # the office has most to try


# -- the fuzzers --------------------------------------------------------------------------------------------------


async def test_every_flow_step_has_a_route() -> None:
    every_step = {(f.name, step.name) for f in flow.FLOWS.values() for step in f.steps}
    assert set(routes({"Gốm": 1, "Chè": 2})) == every_step


@settings(SETTINGS, max_examples=30)
@given(data=st.data())
async def test_every_command_with_any_arguments(world: World, caplog: pytest.LogCaptureFixture,
                                                data: st.DataObject) -> None:
    """Each command with arguments shaped as it reads them, or anything; then, at times, a number or any text typed
    under what it showed (a list, a menu)."""
    who = data.draw(PEOPLE, label="who")
    for name in sorted(app.COMMANDS):
        spelling = data.draw(st.sampled_from(["/{}", "/{}@ocop_bot", "/{}".upper()]), label="spelling")
        text = " ".join((spelling.format(name), data.draw(arguments(name), label=name))).strip()
        await handled(world, who, lambda user, text=text: user.says(text), caplog)
        typed = data.draw(st.one_of(st.just(""), NUMBERS, HOSTILE), label="then")
        if typed.strip():
            await handled(world, who, lambda user, typed=typed: user.says(typed), caplog)


@settings(SETTINGS, max_examples=30)
@given(data=st.data())
async def test_every_button_with_any_payload(world: World, caplog: pytest.LogCaptureFixture,
                                             data: st.DataObject) -> None:
    who = data.draw(PEOPLE, label="who")
    for record in sorted(actions._RECORDS.values(), key=lambda record: record.tag):
        payload = data.draw(payloads(record), label=record.tag)
        await handled(world, who, lambda user, payload=payload: user.taps(payload), caplog)
    anything = data.draw(HOSTILE, label="anything")
    await handled(world, who, lambda user: user.taps(anything), caplog)


@settings(SETTINGS, max_examples=10)
@given(data=st.data())
async def test_any_answer_at_every_step(world: World, caplog: pytest.LogCaptureFixture, data: st.DataObject) -> None:
    """At each step: typed text, a pressed answer with any value, or a phone number shared through the platform."""
    for (flow_name, step), (who, snapshot) in sorted(world.snapshots.items()):
        await world.put_at(who, snapshot)
        pressed = WORDS.map(lambda value, f=flow_name, s=step: Tap(actions.Answer(f, s, value).encode()))
        shared = HOSTILE.map(Shared)
        for answer in data.draw(st.lists(st.one_of(HOSTILE, HOSTILE, pressed, shared), min_size=1, max_size=2),
                                label=f"{flow_name}/{step}"):
            await handled(world, who, lambda user, answer=answer: play(user, answer), caplog)


async def test_another_buyers_request_or_memo_is_refused(world: World) -> None:
    """Payloads naming minh's request (2) and memo (2) get lan the refusal, and nothing of minh's."""
    lan = world.users["lan"]
    refusal = t("error.not_authorised")
    for record in (actions.ShowRequest(2), actions.AcceptRequest(2), actions.DeclineRequest(2), actions.ShowMemo(2),
                   actions.ConfirmMemo(2), actions.DownloadMemo(2), actions.SignMemo(2)):
        [reply] = await lan.taps(record.encode())
        assert reply.text == refusal and reply.notice, (record, reply.text)
    hao = world.users["hao"]  # a producer, but not minh's
    for record in (actions.ShowRequest(2), actions.AcceptRequest(2), actions.ShowMemo(2)):
        [reply] = await hao.taps(record.encode())
        assert reply.text == refusal, (record, reply.text)
    assert not any(secret in message.text for message in lan.seen + hao.seen for secret in MINHS)



async def test_what_the_fuzz_run_found_gets_the_polite_answer(world: World) -> None:
    """The inputs that ended in the apology before models.parse, each with the message for its place."""
    office, lan, guest = world.users["office"], world.users["lan"], world.users["guest"]
    typed = {
        "/stars ² 4": t("catalog.stars_usage"),
        "/stars 1 ²": t("catalog.stars_usage"),
        f"/stars {2**31} 4": t("catalog.stars_usage"),
        "/hide ٣": t("catalog.hide_usage"),
        "/unhide #99999999999999999999": t("catalog.hide_usage"),
        "/event edit ²": t("event.usage"),
        "/event memo 1 ²": t("event.usage"),
        "/admin grant #99999999999999999999": translator("vi")("admin.no_such_user",
                                                               query="#99999999999999999999"),
    }
    for text, answer in typed.items():
        await office.says(text)
        assert office.last == answer, (text, office.last)
    await office.says("/hide #3")  # an id as lists show it
    assert office.last.startswith("Đã ẩn «") and "/unhide 3" in office.last
    for payload in ("p:²", "p:２", f"p:{2**31}", "mv:99999999999", "er:1:b²"):
        [reply] = await lan.taps(payload)
        assert (reply.text, reply.notice) == (t("error.stale.outdated"), True), payload
    await guest.says("/start")
    for number in ("²", "١", "１", "99999999999999999999"):  # at a numbered menu
        await guest.says(number)
        assert guest.last.startswith(t("flow.choose_listed")), (number, guest.last)
    await guest.says("1")
    assert "Tên doanh nghiệp" in guest.last
