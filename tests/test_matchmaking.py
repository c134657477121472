"""Partner scoring (models/matchmaking.py): fixed weights, the reasons, a stable order; the search log it reads."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlmodel import select

from handlers.i18n import translator
from handlers.suggestions import reasons_text
from models import matchmaking as mm
from models.catalog import Producer, Product
from models.db import Database
from models.events import EventRole, EventValues, Registration, add_event
from models.people import User
from models.query import parse_query
from models.search_log import KEEP, Interest, SearchLog, recent_interests, record_search
from models.text import normalize

TODAY = date(2026, 11, 27)
NOW = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)
VALID = TODAY + timedelta(days=400)


def offer(product_id: int, name: str, group: int = 1, stars: int = 4, expires: date | None = VALID) -> mm.Offer:
    return mm.Offer(product_id, name, group, stars, frozenset(normalize(name).split()), expires)


def producer(producer_id: int, province: str, *offers: mm.Offer, old: str | None = None) -> mm.ProducerSide:
    return mm.ProducerSide(producer_id, f"Producer {producer_id}", province, old, offers)


def search(text: str, words: str = "", places: tuple[str, ...] = (), groups: frozenset[int] = frozenset(),
           min_stars: int | None = None) -> Interest:
    return Interest(1, 1, text, frozenset(normalize(words).split()), places, groups, min_stars)


def buyer(**kw: object) -> mm.BuyerSide:
    values: dict[str, object] = {"user_id": 1, "name": "Siêu thị Xanh", "kind": "", "regions": ()}
    values.update(kw)
    return mm.BuyerSide(**values)  # type: ignore[arg-type]


COFFEE = producer(7, "Đắk Lắk", offer(70, "Cà phê bột Buôn Ma Thuột", stars=4), old="Đắk Lắk")
TEA = producer(3, "Thái Nguyên", offer(30, "Chè búp Tân Cương", stars=5), old="Thái Nguyên")
POTTERY = producer(5, "Hà Nội", offer(50, "Gốm men lam Bát Tràng", group=4, stars=3))


def test_the_score_is_the_sum_of_fixed_weights_with_each_reason() -> None:
    coffee_lover = buyer(kind="supermarket", regions=("Duyên hải Nam Trung Bộ và Tây Nguyên",),
                         interests=(search("cà phê Tây Nguyên", "ca phe", ("Tây Nguyên",)),))
    match = mm.score(coffee_lover, COFFEE, TODAY)
    assert match.score == mm.W_SEARCH + mm.W_REGION + mm.W_KIND + mm.W_STAR * 1 == 9
    assert [r.why for r in match.reasons] == [mm.Why.SEARCH, mm.Why.REGION, mm.Why.KIND, mm.Why.STARS]
    vi, en = translator("vi"), translator("en")
    assert reasons_text(vi, "buyer", match) == (
        "phù hợp với tìm kiếm «cà phê Tây Nguyên» của bạn; ở Duyên hải Nam Trung Bộ và Tây Nguyên, vùng bạn quan tâm")
    assert reasons_text(en, "buyer", match).startswith("matches your search “cà phê Tây Nguyên”")
    assert reasons_text(en, "producer", match).startswith("searched for “cà phê Tây Nguyên”, which your products")
    assert reasons_text(vi, "producer", mm.score(buyer(), POTTERY, TODAY)) == "cùng tham dự sự kiện"


def test_a_search_counts_only_when_a_product_answers_all_of_it() -> None:
    assert mm.answers(COFFEE, search("cà phê", "ca phe"))
    assert not mm.answers(COFFEE, search("cà phê Hà Nội", "ca phe", ("Hà Nội",)))  # wrong place
    assert not mm.answers(COFFEE, search("cà phê 5 sao", "ca phe", min_stars=5))  # not enough stars
    assert not mm.answers(COFFEE, search("thủ công", groups=frozenset({4})))  # wrong group
    assert mm.answers(POTTERY, search("thủ công Hà Nội", places=("Hà Nội",), groups=frozenset({4})))


def test_searches_and_requests_raise_a_producer() -> None:
    plain = buyer()
    assert [m.producer.id for m in mm.for_buyer(plain, [POTTERY, COFFEE, TEA], TODAY)] == [3, 7, 5]  # by stars
    searched = buyer(interests=(search("gốm", "gom"),))
    assert [m.producer.id for m in mm.for_buyer(searched, [POTTERY, COFFEE, TEA], TODAY)] == [5, 3, 7]
    asked = buyer(asked=(mm.Asked(7, "Cà phê bột Buôn Ma Thuột", 1),))
    ranked = mm.for_buyer(asked, [POTTERY, COFFEE, TEA], TODAY)
    assert [m.producer.id for m in ranked] == [7, 3, 5]
    assert ranked[0].reasons[0] == mm.Reason(mm.Why.REQUESTED, mm.W_REQUESTED, "Cà phê bột Buôn Ma Thuột")
    assert mm.Reason(mm.Why.GROUP, mm.W_GROUP, group=1) in ranked[0].reasons  # asked about food: food makers too
    assert mm.Reason(mm.Why.GROUP, mm.W_GROUP, group=1) in ranked[1].reasons


def test_an_expired_or_ending_certificate_lowers_the_rank() -> None:
    fresh = producer(9, "Đắk Lắk", offer(90, "Cà phê hạt", stars=4))
    ending = producer(4, "Đắk Lắk", offer(40, "Cà phê hạt", stars=4, expires=TODAY + timedelta(days=30)))
    expired = producer(2, "Đắk Lắk", offer(20, "Cà phê hạt", stars=5, expires=TODAY - timedelta(days=1)))
    fan = buyer(interests=(search("cà phê", "ca phe"),))
    ranked = mm.for_buyer(fan, [expired, ending, fresh], TODAY)
    assert [m.producer.id for m in ranked] == [9, 4, 2]
    assert [m.score for m in ranked] == [5, 4, 0]  # search 4 + 4★ 1; − 1 ending; 5★ not counted, − 4 expired
    assert ranked[2].shown()[-1].why == mm.Why.EXPIRED
    assert "chứng nhận OCOP đã hết hạn" in reasons_text(translator("vi"), "buyer", ranked[2])


def test_the_order_is_deterministic_and_ties_go_to_the_smaller_id() -> None:
    twins = [producer(n, "Hà Nội", offer(n * 10, "Gốm", group=4, stars=3)) for n in (8, 2, 6, 4)]
    orders = {tuple(m.producer.id for m in mm.for_buyer(buyer(), order, TODAY)) for order in (twins, twins[::-1])}
    assert orders == {(2, 4, 6, 8)}
    buyers = [buyer(user_id=n, regions=("Đồng bằng sông Hồng",) if n == 9 else ()) for n in (5, 9, 1)]
    assert [m.buyer.user_id for m in mm.for_producer(POTTERY, buyers, TODAY)] == [9, 1, 5]
    assert len(mm.for_buyer(buyer(), [producer(n, "Hà Nội") for n in range(1, 50)], TODAY)) == mm.TOP


def test_old_provinces_decide_the_place_when_known() -> None:
    # Lâm Đồng took in Đắk Nông and Bình Thuận: a producer from old Bình Thuận is not in Tây Nguyên.
    binh_thuan = producer(1, "Lâm Đồng", offer(1, "Nước mắm Phan Thiết"), old="Bình Thuận")
    da_lat = producer(2, "Lâm Đồng", offer(2, "Atiso Đà Lạt"), old="Lâm Đồng")
    highlands = buyer(regions=("Tây Nguyên",))
    assert mm.in_place(da_lat, "Tây Nguyên") and not mm.in_place(binh_thuan, "Tây Nguyên")
    assert [m.producer.id for m in mm.for_buyer(highlands, [binh_thuan, da_lat], TODAY)] == [2, 1]


async def _people(db: Database) -> tuple[int, list[int]]:
    """An event with a buyer (user 1), producers 1–3 (through users 2–4) and an unclaimed producer registrant."""
    async with db.transaction() as session:
        event = await add_event(session, EventValues("Kết nối", "", "Hà Nội", TODAY, TODAY, TODAY), None, NOW)
        ids = []
        for n, (name, province) in enumerate([("A", "Hà Nội"), ("B", "Đắk Lắk"), ("C", "Thái Nguyên")], start=1):
            made = Producer(name=f"HTX {name}", name_key=normalize(f"HTX {name}"), kind="cooperative",
                            province=province)
            session.add(made)
            await session.flush()
            session.add(Product(producer_id=made.id or 0, name=f"Chè {name}", name_key=f"che {name}", group=1,
                                stars=3 + n % 3, decision_date=date(2025, 1, 1)))
            ids.append(made.id or 0)
        people = [User(display_name="Lan", role="buyer")]
        people += [User(display_name=f"P{n}", role="producer", producer_id=pid) for n, pid in enumerate(ids)]
        people += [User(display_name="Unclaimed", role="producer"), User(display_name="Guest")]
        session.add_all(people)
        await session.flush()
        roles = [EventRole.BUYER] + [EventRole.PRODUCER] * 4
        for person, role in zip(people, roles, strict=False):
            session.add(Registration(event_id=event.id or 0, user_id=person.id or 0, role=role.value))
        return event.id or 0, ids


async def test_the_event_s_people_are_its_registrants(db: Database) -> None:
    event_id, producer_ids = await _people(db)
    async with db.session() as session:
        producers = await mm.event_producers(session, event_id)
        assert [p.id for p in producers] == producer_ids
        assert [len(p.products) for p in producers] == [1, 1, 1]
        buyers = await mm.event_buyers(session, event_id, NOW)
        assert [b.name for b in buyers] == ["Lan"]
        suggested = await mm.suggest_producers(session, event_id, buyers[0].user_id, NOW, TODAY)
        assert [m.producer.name for m in suggested] == ["HTX B", "HTX A", "HTX C"]  # 5★, 4★, 3★
        assert await mm.suggest_producers(session, event_id, 999, NOW, TODAY) == []
        assert [m.buyer.name for m in await mm.suggest_buyers(session, event_id, producer_ids[0], NOW, TODAY)] == [
            "Lan"]
        assert len(await mm.events_of(session, buyers[0].user_id, TODAY)) == 1


async def test_searches_are_logged_bounded_and_read_back(db: Database) -> None:
    async with db.transaction() as session:
        user = User(display_name="Lan", role="buyer")
        session.add(user)
        await session.flush()
        for n in range(KEEP + 5):
            await record_search(session, user.id or 0, parse_query(f"cà phê Tây Nguyên {n}"), None,
                                NOW - timedelta(days=100 if n == KEEP + 4 else 0))
        assert await record_search(session, user.id or 0, parse_query("chào shop"), None, NOW) is None
    async with db.session() as session:
        rows = (await session.exec(select(SearchLog).order_by(SearchLog.id))).all()
        assert len(rows) == KEEP
        assert rows[0].places == "Tây Nguyên" and "ca phe" in rows[0].words
        recent = await recent_interests(session, [user.id or 0], NOW)
        assert len(recent[user.id or 0]) == KEEP - 1  # the one 100 days old no longer counts
        assert recent[user.id or 0][0].label.startswith("cà phê Tây Nguyên")


async def test_the_kept_lists_follow_what_they_depend_on(db: Database) -> None:
    event_id, producer_ids = await _people(db)
    ticks = iter(range(0, 1000, 10))  # each look at the clock: 10 s later
    people = mm.EventPeople(ttl=25.0, clock=lambda: float(next(ticks)))
    async with db.session() as session:
        first = await people.producers(session, event_id, TODAY)
        assert await people.producers(session, event_id, TODAY) is first  # nothing changed
        buyers = await people.buyers(session, event_id, NOW, TODAY)
    async with db.transaction() as session:
        await record_search(session, buyers[0].user_id, parse_query("chè"), None, NOW)
    async with db.session() as session:
        renewed = await people.buyers(session, event_id, NOW, TODAY)
        assert renewed is not buyers and [i.text for i in renewed[0].interests] == ["chè"]  # a new search counts
        assert await people.producers(session, event_id, TODAY) is not first  # new search: a new mark for both
        kept = await people.producers(session, event_id, TODAY)
        assert await people.producers(session, event_id, TODAY + timedelta(days=1)) is not kept  # a new day
    async with db.transaction() as session:
        session.add(User(display_name="P9", role="producer", producer_id=producer_ids[0]))
    async with db.session() as session:
        kept = await people.producers(session, event_id, TODAY)
        assert await people.producers(session, event_id, TODAY) is kept
        for _ in range(3):
            latest = await people.producers(session, event_id, TODAY)
        assert latest is not kept  # renewed after ttl even though nothing it can see changed
