"""Vietnamese text normalisation: the keys search, import and geography compare on.

``fold`` keeps punctuation and only drops what Vietnamese typists leave out (case, tones, the hook of đ);
``normalize`` also expands common abbreviations and reduces the text to space-separated words, so that
"TP. Hồ Chí Minh", "tp ho chi minh" and "Thành phố Hồ  Chí Minh" all give the same key.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_CONTROL = {c: " " for c in range(32)} | {0x7F: " "}
_NON_WORD = re.compile(r"[^\w]+|_")
_SPACES = re.compile(r"\s+")

# Administrative abbreviations as they are written on certificates and addresses. Single letters only
# count when a dot follows them ("p. Ba Đình"), since "x", "h" alone are too common otherwise.
_DOTTED = re.compile(r"(?<![\w.])(t\.p|tp|tx|tt|p|q|h|x)\.\s*")
_DOTTED_EXPANSION = {
    "t.p": "thanh pho ",
    "tp": "thanh pho ",
    "tx": "thi xa ",
    "tt": "thi tran ",
    "p": "phuong ",
    "q": "quan ",
    "h": "huyen ",
    "x": "xa ",
}
_WORD_EXPANSION = {
    "tp": "thanh pho",
    "tx": "thi xa",
    "htx": "hop tac xa",
    "thtx": "to hop tac",
    "cty": "cong ty",
    "tnhh": "trach nhiem huu han",
    "hkd": "ho kinh doanh",
    "sx": "san xuat",
    "sp": "san pham",
}


def clean(text: str) -> str:
    """NFC, control characters replaced by spaces, runs of white space collapsed: safe for display."""
    text = unicodedata.normalize("NFC", text).translate(_CONTROL)
    return _SPACES.sub(" ", text).strip()


def _base_letter(ch: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", ch) if not unicodedata.combining(c))


# Precomposed Latin letters (Vietnamese among them) → their base letters, for one str.translate pass.
_FOLD = {
    code: _base_letter(chr(code))
    for start, end in ((0x00C0, 0x024F), (0x1E00, 0x1EFF))
    for code in range(start, end + 1)
    if _base_letter(chr(code)) != chr(code)
} | {ord("đ"): "d", ord("Đ"): "d"}
_COMBINING = re.compile(r"[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")


def fold(text: str) -> str:
    """Lower-case, without tones or diacritics, đ → d; punctuation kept. ``fold("Đắk Lắk") == "dak lak"``."""
    folded = clean(text).lower().translate(_FOLD)
    if folded.isascii():
        return folded
    # Rare letters outside the table: decompose and drop the marks.
    stripped = _COMBINING.sub("", unicodedata.normalize("NFD", folded))
    return unicodedata.normalize("NFC", "".join(ch for ch in stripped if not unicodedata.combining(ch)))


@lru_cache(maxsize=100_000)
def normalize(text: str) -> str:
    """The comparison key: folded, abbreviations expanded, only words separated by single spaces.

    Idempotent (``normalize(normalize(s)) == normalize(s)``) and total: any string gives a string.
    Tone placement variants fold together because tones are dropped (hoà, hòa → hoa).
    """
    text = _DOTTED.sub(lambda m: _DOTTED_EXPANSION[m.group(1)], fold(text))
    words = _NON_WORD.sub(" ", text).split()
    return " ".join(_WORD_EXPANSION.get(word, word) for word in words)


def words(text: str) -> list[str]:
    """The words of ``normalize(text)``."""
    return normalize(text).split()


# Tone marks (after NFD) and the digit that stands for each in an accent key, as in VNI.
_TONE_MARKS = {"\u0301": "1", "\u0300": "2", "\u0309": "3", "\u0303": "4", "\u0323": "5"}


@lru_cache(maxsize=100_000)
def accent_key(word: str) -> str:
    """How a word is spelt with its diacritics, tone placement aside: "hoà" and "hòa" give "hoa2", "dứa" "dưa1",
    "dừa" "dưa2", "na" "na0". (Typed without any diacritic, a word could be any of them: callers decide.)"""
    word = clean(word).lower()
    if word.isascii():
        return word + "0"
    tone = "0"
    kept = []
    for ch in unicodedata.normalize("NFD", word):
        if ch in _TONE_MARKS:
            tone = _TONE_MARKS[ch]
        else:
            kept.append(ch)
    return unicodedata.normalize("NFC", "".join(kept)) + tone
