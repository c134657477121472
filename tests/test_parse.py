"""Reading numbers, ids and dates from what people type and platforms send: ASCII digits only, within bounds,
and never an exception (models.parse)."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from handlers import actions
from handlers.render import choose_option
from models import parse
from models.errors import Stale, StaleAction

UNICODE_DIGITS = ["²", "１２", "٣", "۴", "७", "๒", "①", "½", "𝟙", "᭑"]  # isdigit() or isnumeric(), not 0-9


@pytest.mark.parametrize("text", UNICODE_DIGITS)
def test_unicode_digits_are_not_numbers(text: str) -> None:
    assert parse.number(text) is None
    assert parse.record_id(text) is None and parse.record_id("#" + text) is None
    assert parse.option_number(text, 20) is None
    assert parse.quantity(text) is None
    assert parse.canonical(text) is None


def test_numbers_and_ids() -> None:
    assert parse.number(" 42 ") == 42 and parse.number("007") == 7 and parse.number("0") == 0
    for bad in ("", " ", "-1", "+1", "1e3", "1_000", "4.2", "0x10", "12a", "1 2", "\x00", "١"):
        assert parse.number(bad) is None, bad
    assert parse.number("5", 1, 4) is None and parse.number("4", 1, 4) == 4
    assert parse.record_id("#12") == 12 and parse.record_id(" 12 ") == 12 and parse.record_id("# 12") == 12
    assert parse.record_id("0") is None and parse.record_id("##12") is None and parse.record_id("12#") is None


def test_ids_fit_the_databases_32_bit_integer() -> None:
    assert parse.record_id(str(2**31 - 1)) == 2**31 - 1
    assert parse.record_id(str(2**31)) is None
    assert parse.record_id("99999999999999999999") is None
    assert parse.number("0" * 50 + "12") == 12  # leading zeros are not magnitude
    assert parse.number("9" * 5000) is None  # int() itself refuses more than 4300 digits


def test_canonical_is_exactly_as_we_write_it() -> None:
    assert parse.canonical("12") == 12 and parse.canonical("0") == 0
    for bad in ("012", " 12", "12 ", "+12", str(2**31)):
        assert parse.canonical(bad) is None, bad


def test_option_numbers() -> None:
    assert parse.option_number("2", 3) == 2 and parse.option_number("2.", 3) == 2 and parse.option_number(" 3 ", 3) == 3
    assert parse.option_number("4", 3) is None and parse.option_number("0", 3) is None
    assert parse.option_number("1", 0) is None


def test_quantities_with_or_without_thousands() -> None:
    for text in ("1200", "1.200", "1,200", "1 200", "1\u00a0200"):
        assert parse.quantity(text) == 1200, text
    assert parse.quantity("1.000.000") == 1_000_000
    for bad in ("1.5", "1.2000", "1.000,5", "1,000.000", ".100", "1..000", "10" * 7):
        assert parse.quantity(bad) is None, bad


def test_dates() -> None:
    assert parse.calendar_date("15/01/2027") == date(2027, 1, 15)
    assert parse.calendar_date("15-1-27") == date(2027, 1, 15)
    assert parse.calendar_date("15.01.2027") == date(2027, 1, 15)
    assert parse.calendar_date(" 2027-01-15 ") == date(2027, 1, 15)
    for bad in ("31/02/2027", "29/02/2027", "32/01/2027", "15/13/2027", "15/01/1999", "15/01/2101",
                "15/01-2027", "١٥/٠١/٢٠٢٧", "15/01/２０２７", "2027-1-15", "0/0/0", "", "15/01/99999"):
        assert parse.calendar_date(bad) is None, bad
    assert parse.calendar_date("29/02/2028") == date(2028, 2, 29)


def test_dates_in_text() -> None:
    assert parse.dates_in("10/01/2027 - 11/01/2027") == [date(2027, 1, 10), date(2027, 1, 11)]
    assert parse.dates_in("từ 2027-01-10 đến 12.01.2027") == [date(2027, 1, 10), date(2027, 1, 12)]
    assert parse.dates_in("không có ngày") == []
    assert parse.dates_in("31/02/2027") is None and parse.dates_in("01/01/0001") is None
    assert parse.dates_in("٠١/٠١/٢٠٢٧") == []  # not digits to us
    assert parse.dates_in("110/01/2027") == []  # not a day


def test_plain_text_is_safe_to_store() -> None:
    assert parse.plain("a\x00b\x07c\x1bd\x7f") == "abcd"
    assert parse.plain("dòng 1\ndòng 2\tcột\r\n") == "dòng 1\ndòng 2\tcột\r\n"
    assert parse.plain("x\ud83dy") == "x\ufffdy" and parse.plain("x\ud83dy").encode()
    assert parse.plain("\u200f٣ 😀 ２") == "\u200f٣ 😀 ２"  # marks, emoji and other scripts are text


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.text(alphabet=st.characters(exclude_categories=()), max_size=40), st.integers(0, 30))  # surrogates too
def test_the_readers_are_total(text: str, count: int) -> None:
    for value in (parse.number(text), parse.record_id(text), parse.canonical(text), parse.quantity(text),
                  parse.option_number(text, count)):
        assert value is None or 0 <= value <= parse.MAX_QUANTITY
    if parse.number(text) is not None:
        assert text.strip().isascii() and text.strip().isdigit()
    day = parse.calendar_date(text)
    assert day is None or parse.FIRST_YEAR <= day.year <= parse.LAST_YEAR
    assert parse.dates_in(text) is None or all(d.year >= parse.FIRST_YEAR for d in parse.dates_in(text) or [])
    assert parse.plain(text).encode("utf-8") is not None and "\x00" not in parse.plain(text)


# -- where the readers are used ------------------------------------------------------------------------------------


@pytest.mark.parametrize("payload", ["p:²", "p:１２", "p:٣", "p:012", "p: 12", "p:+12", "p:-1", "p:1.0",
                                     f"p:{2**31}", "p:99999999999", "p:" + "9" * 60, "ev:1:b²", "p:12:3", "p:"])
def test_a_tampered_payload_is_outdated(payload: str) -> None:
    with pytest.raises(StaleAction) as refused:
        actions.decode(payload)
    assert refused.value.reason is Stale.OUTDATED


def test_payloads_take_ids_up_to_the_largest_the_database_holds() -> None:
    assert actions.decode(f"p:{2**31 - 1}") == actions.ShowProduct(2**31 - 1)
    assert actions.decode("s:0") == actions.SearchPage(0)


def test_a_typed_number_picks_an_option_only_in_ascii_digits() -> None:
    options = [["Chè", "p:1", "1"], ["Mật ong", "p:2", "2"], ["Bỏ qua", "f:x:y:skip", "Bỏ qua"]]
    assert choose_option("2", options) == "p:2" and choose_option("2.", options) == "p:2"
    assert choose_option("02", options) == "p:2"
    assert choose_option("bo qua", options) == "f:x:y:skip" and choose_option("Mật ong", options) == "p:2"
    for typed in ("²", "２", "٢", "3", "0", "99999999999999999999", ""):
        assert choose_option(typed, options) is None, typed
