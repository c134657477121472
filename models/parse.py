"""Reading what users and platforms send us: text made safe to keep, and numbers, ids and dates in ASCII digits
within bounds.

Every reader returns None for what it cannot read and never raises. Only ``0-9`` are digits here: the Unicode
digits ``str.isdigit()`` accepts (superscript "²", full-width "１２", Arabic-Indic "٣") are not numbers, and
neither are signs, exponents, underscores or values out of range. Surrounding white space is allowed.
"""

from __future__ import annotations

import re
from datetime import date

MAX_ID = 2**31 - 1  # every id column is a 32-bit signed INTEGER (models/migrations), on PostgreSQL as on SQLite
MAX_QUANTITY = 10**12 - 1  # the largest amount a flow reads as a number
MAX_TIMESTAMP = 253_402_300_799  # 9999-12-31 23:59:59 UTC: the latest expiry a signed link can name
FIRST_YEAR, LAST_YEAR = 2000, 2100  # the years a date typed for an event or a deadline may fall in

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # C0 controls but tab and line breaks; DEL
_SURROGATE = re.compile(r"[\ud800-\udfff]")  # left alone by a JSON "\\ud83d" without its pair; no UTF-8 for it
_DIGITS = re.compile(r"[0-9]+")  # (a str pattern's [0-9] is ASCII only, unlike \d)
_GROUPED = re.compile(r"[0-9]{1,3}(?:[., \u00a0][0-9]{3})*")  # thousands grouped by ".", ",", a space or NBSP
_DAY_MONTH_YEAR = re.compile(r"([0-9]{1,2})([/.\-])([0-9]{1,2})\2([0-9]{4}|[0-9]{2})")
_ISO = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_DATES_IN = re.compile(
    r"(?<![0-9])(?:([0-9]{1,2})[/.\-]([0-9]{1,2})[/.\-]([0-9]{4})|([0-9]{4})-([0-9]{2})-([0-9]{2}))(?![0-9])"
)


def plain(text: str) -> str:
    """Text as a platform sent it, safe to store and to encode: control characters (NUL among them, which
    PostgreSQL refuses) dropped, tab and line breaks kept, a lone surrogate replaced by U+FFFD."""
    return _SURROGATE.sub("\ufffd", _CONTROL.sub("", text))


def number(text: str, low: int = 0, high: int = MAX_ID) -> int | None:
    """The whole number ``text`` spells in ASCII digits, when ``low <= n <= high``."""
    text = text.strip()
    if not _DIGITS.fullmatch(text):
        return None
    significant = text.lstrip("0") or "0"
    if len(significant) > len(str(high)):  # never hands int() a huge string
        return None
    value = int(significant)
    return value if low <= value <= high else None


def canonical(text: str, high: int = MAX_ID) -> int | None:
    """A number exactly as we write it (no white space, no leading zeros): button data and links we signed."""
    value = number(text, 0, high)
    return value if value is not None and str(value) == text else None


def record_id(text: str) -> int | None:
    """A database id as typed: "12" or "#12" (as lists show it), from 1 to MAX_ID."""
    return number(text.strip().removeprefix("#"), 1, MAX_ID)


def option_number(text: str, count: int) -> int | None:
    """The position (1 … ``count``) typed to pick an option of a numbered list: "2" or "2."."""
    return number(text.strip().rstrip("."), 1, count) if count > 0 else None


def quantity(text: str, high: int = MAX_QUANTITY) -> int | None:
    """An amount typed plainly or with its thousands grouped ("1200", "1.200", "1,200", "1 200"): 0 … ``high``."""
    text = text.strip()
    if _GROUPED.fullmatch(text) is None:
        return number(text, 0, high)
    separators = {character for character in text if not "0" <= character <= "9"}  # one kind ("1.200,000": no)
    digits = "".join(character for character in text if "0" <= character <= "9")
    return number(digits, 0, high) if len(separators) <= 1 else None


def calendar_date(text: str) -> date | None:
    """One date typed day/month/year ("15/01/2027", "15-1-27", "15.01.2027") or ISO ("2027-01-15"), in
    FIRST_YEAR … LAST_YEAR."""
    text = text.strip()
    iso = _ISO.fullmatch(text)
    if iso:
        return _day(iso.group(1), iso.group(2), iso.group(3))
    written = _DAY_MONTH_YEAR.fullmatch(text)
    if written is None:
        return None
    year = written.group(4)
    return _day(year if len(year) == 4 else f"20{year}", written.group(3), written.group(1))


def dates_in(text: str) -> list[date] | None:
    """Every date written day/month/year or ISO in ``text``, in order; None when one of them is no real date
    (31/02) or falls outside FIRST_YEAR … LAST_YEAR."""
    found = []
    for match in _DATES_IN.finditer(text):
        day, month, year = match.group(1, 2, 3) if match.group(1) else match.group(6, 5, 4)
        parsed = _day(year, month, day)
        if parsed is None:
            return None
        found.append(parsed)
    return found


def _day(year: str, month: str, day: str) -> date | None:
    numbers = number(year, FIRST_YEAR, LAST_YEAR), number(month, 1, 12), number(day, 1, 31)
    if None in numbers:
        return None
    try:
        return date(*numbers)  # type: ignore[arg-type]
    except ValueError:  # 31/02, 29/02 of a common year
        return None
