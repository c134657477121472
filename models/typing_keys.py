"""Vietnamese typed with an input method's keys left in: Telex ("nuwowcs"), VNI ("nu7o7c1") and VIQR ("nu+o+'c").

Phones without a Vietnamese keyboard leave the keys of the typist's habitual method in the text. Each decoder takes
one word and returns the accented syllable (NFC, same case pattern, tone placed in the traditional style of the
catalogue: hòa, thủy, của, quý, giữa, người), or None when the word is not a Vietnamese syllable typed in that
method or when the method changes nothing. They never raise; words longer than ``MAX_LENGTH`` give None at once.
The encoders are the inverse, for valid syllables.

Choices where the orthography or the input methods leave room:

- Keys may follow their vowel or come at the end of the word (Unikey's free style): a tone key anywhere after the
  first vowel; Telex ``w`` and VNI ``6 7 8`` after the final consonant too, applied where they make a syllable
  (``uo`` → ươ first, then the vowels left to right: "hoacwj" → hoặc). VIQR's ``^ ( +`` must follow their vowel;
  its tone mark may follow any vowel of the word or end it.
- At most two tone keys (a correction; the last wins; Telex ``z`` and VNI ``0`` remove the tone). The same tone key
  twice is Unikey's undo, so such a word is not decoded ("chess" → None). VIQR takes one tone mark.
- A syllable ending in c, ch, p, t (or k) takes sắc, nặng or no tone: "maat" → "mât" is kept, since typists often
  leave tones out, but "hatf" (hàt) is not a syllable.
- Horn fix-ups as Unikey does them: uơ/ưo become ươ when that makes a syllable (nuowcs → nước, but thuowr → thuở),
  Telex "muaw" → mưa.
- Sounds of minority place names in the catalogue are accepted: final k after a/ă (Đắk Lắk), initials kr and pr
  (Krông, Prông), k before any vowel (Bắc Kạn, Kon Tum).
- Telex ``oo`` is always ô, so the loanword rhymes oong/ooc (xoong, soóc) are not syllables here.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator

MAX_LENGTH = 12

_VOWELS = frozenset("aeiouy")
_TONE_MARKS = ("", "\u0301", "\u0300", "\u0309", "\u0303", "\u0323")  # none, sắc, huyền, hỏi, ngã, nặng
_MODIFIERS = {"\u0302": "^", "\u0306": "(", "\u031b": "+"}  # circumflex, breve, horn (VIQR's own symbols)
_TONE_OF_MARK = {mark: tone for tone, mark in enumerate(_TONE_MARKS) if mark}
# (base vowel, modifier) → letter; "w" is Telex's key, a breve on a and a horn on o and u.
_MODIFIED = {
    ("a", "^"): "â", ("a", "("): "ă", ("e", "^"): "ê", ("o", "^"): "ô", ("o", "+"): "ơ", ("u", "+"): "ư",
    ("a", "w"): "ă", ("o", "w"): "ơ", ("u", "w"): "ư",
}  # fmt: skip
_WITH_DIACRITIC = frozenset("âăêôơư")

# gi and qu are recognised from the vowels that follow g and q.
_INITIALS = frozenset(["", *"b c ch d đ g gh h k kh kr l m n ng ngh nh p ph pr r s t th tr v x".split()])
_STOPS = frozenset({"c", "ch", "p", "t", "k"})
_RHYMES = frozenset(
    """
    a ai ao au ay âu ây e eo ê êu i ia iu iêu o oa oai oay oe oeo oi ô ôi ơ ơi
    u ua uây uê ui uôi uơ uy uya uyu ư ưa ưi ưu ươi ươu y yêu
    ac ăc âc ec oc ôc uc ưc iêc uôc ươc oac oăc
    ach êch ich oach uêch uych
    am ăm âm em êm im om ôm ơm um iêm yêm uôm ươm oam oăm
    an ăn ân en ên in on ôn ơn un iên yên uôn ươn oan oăn oen uân uyên
    ang ăng âng eng êng ong ông ung ưng iêng yêng uông ương oang oăng uâng
    anh ênh inh oanh uênh uynh
    ap ăp âp ep êp ip op ôp ơp up iêp ươp oap
    at ăt ât et êt it ot ôt ơt ut ưt iêt yêt uôt ươt oat oăt oet uât uyêt uyt
    ak ăk
    """.split()
)
# After qu the u is part of the initial: quả, quăng, quân, quê, quý, quỳnh, quyết, quốc, quơ.
_QU_RHYMES = frozenset(
    """
    a ac ach ai am an ang anh ao ap at au ay ăc ăm ăn ăng ăp ăt âc âm ân âng ât âu ây
    e em en eng eo ep et ê êch ên ênh êt i y ych yên yêt ynh yt ôc ơ
    """.split()
)
# After gi the i is part of the initial (già, giữa, giường); gì and gìn are g + i.
_GI_RHYMES = frozenset(
    r
    for r in _RHYMES
    if r[0] not in "iy"
    and not (r[0] == "u" and r[1:2] in _VOWELS | _WITH_DIACRITIC)
    and r[:2] not in {"oa", "oă", "oe"}
)

_CONSONANT_PREFIX = re.compile(r"[bcdfghjklmnpqrstvxz]*")
_FINAL = re.compile(r"(?:ch|nh|ng|c|m|n|p|t|k)?")
_TELEX_WORD = re.compile(r"[a-z]+")
_TELEX_BODY = re.compile(r"([aeiouyw]+)(ch|nh|ng|c|m|n|p|t|k)?(w?)")
_TELEX_TONES = {"s": 1, "f": 2, "r": 3, "x": 4, "j": 5, "z": 0}
_VNI_WORD = re.compile(r"[a-z][a-z0-9]*")
_VNI_TONES = {"1": 1, "2": 2, "3": 3, "4": 4, "5": 5, "0": 0}
_VNI_MODIFIERS = {"6": "^", "7": "+", "8": "("}
_VIQR_WORD = re.compile(r"[a-z][a-z^(+'`?~.]*")
_VIQR_TONES = {"'": 1, "`": 2, "?": 3, "~": 4, ".": 5}

Unit = tuple[str, str]  # a vowel typed: base letter, modifier ("" | "^" | "(" | "+" | "w")


def _prepared(word: str, shape: re.Pattern[str]) -> str | None:
    """The lower-case word if it is short, ASCII and shaped like the method's words, else None."""
    if not 0 < len(word) <= MAX_LENGTH or not word.isascii():
        return None
    low = word.lower()
    return low if shape.fullmatch(low) else None


def _tone(keys: list[str], table: dict[str, int]) -> int | None:
    """The tone the keys leave (the last one; 0 for none), or None for a doubled key or too many keys."""
    if len(keys) > 2 or len(set(keys)) < len(keys):
        return None
    return table[keys[-1]] if keys else 0


def _valid(initial: str, rhyme: str) -> bool:
    """Whether initial + rhyme is a Vietnamese syllable (spelling rules c/k, g/gh, ng/ngh, iê/yê included)."""
    if initial == "qu":
        return rhyme in _QU_RHYMES
    if initial == "gi":
        return rhyme in _GI_RHYMES
    if initial not in _INITIALS or rhyme not in _RHYMES:
        return False
    first = rhyme[0]
    if rhyme.startswith("yê"):
        return not initial
    if rhyme.startswith("iê") and not initial:
        return False
    if initial in ("gh", "ngh"):
        return first in "eêi"
    if initial in ("c", "ng"):
        return first not in "eêiy"
    return not (initial == "g" and first in "eêy")


def _tone_index(nucleus: str, final: str) -> int:
    """Where the tone goes, traditional style: the (last) vowel with a diacritic, else the middle of three, the
    second of two before a final consonant, the first of two at the end of the syllable (hòa, thủy, hoàng)."""
    marked = [i for i, ch in enumerate(nucleus) if ch in _WITH_DIACRITIC]
    if marked:
        return marked[-1]
    if len(nucleus) == 3:
        return 1
    return 1 if len(nucleus) == 2 and final else 0


def _syllable(initial: str, nucleus: str, final: str, tone: int) -> str | None:
    if not _valid(initial, nucleus + final) or (final in _STOPS and tone not in (0, 1, 5)):
        return None
    i = _tone_index(nucleus, final)
    toned = unicodedata.normalize("NFC", nucleus[i] + _TONE_MARKS[tone])
    return initial + nucleus[:i] + toned + nucleus[i + 1 :] + final


def _apply_floating(nucleus: str, modifier: str) -> list[str]:
    """The nuclei a modifier typed away from its vowel can make: ươ first, then each vowel left to right."""
    options = [nucleus.replace("uo", "ươ", 1)] if modifier in "+w" and "uo" in nucleus else []
    for i, ch in enumerate(nucleus):
        letter = _MODIFIED.get((ch, modifier))
        if letter:
            options.append(nucleus[:i] + letter + nucleus[i + 1 :])
    return options


def _candidates(nucleus: str, floating: list[str]) -> list[str]:
    found = [nucleus]
    for modifier in floating:
        found = [option for n in found for option in _apply_floating(n, modifier)]
    ordered: list[str] = []
    for n in found:
        for option in (n.replace("uơ", "ươ").replace("ưo", "ươ"), n.replace("uă", "ưa"), n):
            if option not in ordered:
                ordered.append(option)
    return ordered


def _assemble(initial: str, units: list[Unit], final: str, floating: list[str], tone: int | None) -> str | None:
    """The first valid syllable the typed parts can make, lower case, or None."""
    if tone is None or not units:
        return None
    if initial == "q":
        if units[0] != ("u", ""):
            return None
        splits = [("qu", units[1:])]
    elif initial == "g" and len(units) > 1 and units[0] == ("i", ""):
        splits = [("gi", units[1:]), ("g", units)]
    else:
        splits = [(initial, units)]
    for init, vowels in splits:
        letters = [_MODIFIED.get((base, mod), "") if mod else base for base, mod in vowels]
        if not vowels or "" in letters:
            continue
        for nucleus in _candidates("".join(letters), floating):
            syllable = _syllable(init, nucleus, final, tone)
            if syllable:
                return syllable
    return None


def _result(decoded: str | None, word: str) -> str | None:
    """The decoded syllable in the word's case (all capitals, first capital, else lower), None if unchanged."""
    if decoded is None or decoded == word.lower():
        return None
    if word.isupper():
        decoded = decoded.upper()
    elif word[0].isupper():
        decoded = decoded[0].upper() + decoded[1:]
    return unicodedata.normalize("NFC", decoded)


def _prefix(pattern: re.Pattern[str], text: str, pos: int) -> str:
    """What the pattern (one that may match nothing) matches at pos."""
    match = pattern.match(text, pos)
    return match.group() if match else ""


def _initial(low: str) -> tuple[str, int]:
    """The initial consonants typed (dd → đ) and where the rest starts."""
    initial = _prefix(_CONSONANT_PREFIX, low, 0)
    if initial.startswith("dd"):
        return "đ" + initial[2:], len(initial)
    return initial, len(initial)


def decode_telex(word: str) -> str | None:
    """Telex: aa â, aw ă, ee ê, oo ô, ow ơ, uw/w ư, dd đ; tones s f r x j (z none) after the first vowel."""
    low = _prepared(word, _TELEX_WORD)
    if low is None:
        return None
    initial, start = _initial(low)
    rest = low[start:]
    keys = [ch for ch in rest if ch in _TELEX_TONES]
    body = _TELEX_BODY.fullmatch("".join(ch for ch in rest if ch not in _TELEX_TONES))
    if body is None:
        return None
    vowels, units, i = body[1], [], 0
    while i < len(vowels):
        ch, after = vowels[i], vowels[i + 1 : i + 2]
        if ch == "w":
            units.append(("u", "+"))
        elif ch in "aeo" and after == ch:
            units.append((ch, "^"))
            i += 1
        elif ch in "aou" and after == "w":
            units.append((ch, "w"))
            i += 1
        else:
            units.append((ch, ""))
        i += 1
    floating = ["w"] if body[3] else []
    final, tone = body[2] or "", _tone(keys, _TELEX_TONES)
    decoded = _assemble(initial, units, final, floating, tone)
    if decoded is None and ("w" in floating or any(mod == "w" for _, mod in units)):
        # A w that makes nothing where it was typed may belong to another vowel, as Unikey has it: "ruouwj" → rượu.
        floating += ["w"] * sum(mod == "w" for _, mod in units)
        units = [(base, "" if mod == "w" else mod) for base, mod in units]
        decoded = _assemble(initial, units, final, floating, tone)
    return _result(decoded, word)


def decode_vni(word: str) -> str | None:
    """VNI: digits after letters, 1-5 tones (0 none), 6 â ê ô, 7 ơ ư, 8 ă, 9 đ (d9); after the vowel or at the end."""
    low = _prepared(word, _VNI_WORD)
    if low is None:
        return None
    initial, pos = ("đ", 2) if low.startswith("d9") else _initial(low)
    units: list[Unit] = []
    floating: list[str] = []
    keys: list[str] = []
    while pos < len(low) and low[pos] in _VOWELS:
        base, mod = low[pos], ""
        pos += 1
        while pos < len(low) and low[pos].isdigit():
            digit = low[pos]
            pos += 1
            if digit in _VNI_TONES:
                keys.append(digit)
            elif digit in _VNI_MODIFIERS:
                modifier = _VNI_MODIFIERS[digit]
                if mod or (base, modifier) not in _MODIFIED:
                    floating.append(modifier)  # Unikey applies it to a vowel before: "ti6en" → tiên
                else:
                    mod = modifier
            else:
                return None
        units.append((base, mod))
    final = _prefix(_FINAL, low, pos)
    for digit in low[pos + len(final) :]:
        if digit in _VNI_TONES:
            keys.append(digit)
        elif digit in _VNI_MODIFIERS:
            floating.append(_VNI_MODIFIERS[digit])
        else:
            return None
    tone = _tone(keys, _VNI_TONES)
    decoded = _assemble(initial, units, final, floating, tone)
    if decoded is None and any(mod for _, mod in units):
        # A modifier that makes nothing on the vowel it followed may belong to another: "ruou75" → rượu.
        floating += [mod for _, mod in units if mod]
        decoded = _assemble(initial, [(base, "") for base, _ in units], final, floating, tone)
    return _result(decoded, word)


def decode_viqr(word: str) -> str | None:
    """VIQR: a( â^ e^ o^ o+ u+ after their vowel, dd đ; one tone ' ` ? ~ . after a vowel or at the end."""
    low = _prepared(word, _VIQR_WORD)
    if low is None:
        return None
    initial, pos = _initial(low)
    units: list[Unit] = []
    tones: list[str] = []
    while pos < len(low) and low[pos] in _VOWELS:
        base, mod = low[pos], ""
        pos += 1
        if pos < len(low) and low[pos] in "^(+":
            mod = low[pos]
            pos += 1
            if (base, mod) not in _MODIFIED:
                return None
        if pos < len(low) and low[pos] in _VIQR_TONES:
            tones.append(low[pos])
            pos += 1
        units.append((base, mod))
    final = _prefix(_FINAL, low, pos)
    pos += len(final)
    if pos < len(low) and low[pos] in _VIQR_TONES:
        tones.append(low[pos])
        pos += 1
    if pos != len(low) or len(tones) > 1:
        return None
    tone = _VIQR_TONES[tones[0]] if tones else 0
    return _result(_assemble(initial, units, final, [], tone), word)


def decodings(word: str) -> tuple[str, ...]:
    """The distinct decodings of one typed word that differ from it: Telex first, then VNI, then VIQR."""
    if not 0 < len(word) <= MAX_LENGTH:
        return ()
    typed = unicodedata.normalize("NFC", word).lower()
    found: list[str] = []
    for decode in (decode_telex, decode_vni, decode_viqr):
        decoded = decode(word)
        if decoded is not None and decoded.lower() != typed and decoded not in found:
            found.append(decoded)
    return tuple(found)


def _letters(word: str) -> Iterator[tuple[str, str, int]]:
    """Each letter as (base letter, modifier "" | "^" | "(" | "+" | "đ", tone)."""
    for ch in unicodedata.normalize("NFC", word):
        if ch in "đĐ":
            yield ("d" if ch == "đ" else "D"), "đ", 0
            continue
        decomposed = unicodedata.normalize("NFD", ch)
        marks = decomposed[1:]
        modifier = next((_MODIFIERS[m] for m in marks if m in _MODIFIERS), "")
        tone = next((_TONE_OF_MARK[m] for m in marks if m in _TONE_OF_MARK), 0)
        yield decomposed[0], modifier, tone


def _keyed(key: str, word: str) -> str:
    return key.upper() if word.isupper() else key


def encode_telex(word: str) -> str:
    """What a Telex typist types: doubled letter or w after its letter, dd for đ, the tone key at the end."""
    out, tone = [], 0
    for base, modifier, letter_tone in _letters(word):
        tone = letter_tone or tone
        key = {"": "", "^": base, "đ": base, "(": _keyed("w", word), "+": _keyed("w", word)}[modifier]
        out.append(base + key)
    if tone:
        out.append(_keyed("sfrxj"[tone - 1], word))
    return "".join(out)


def encode_vni(word: str) -> str:
    """What a VNI typist types: 6 7 8 after the vowel, d9 for đ, the tone digit at the end."""
    out, tone = [], 0
    for base, modifier, letter_tone in _letters(word):
        tone = letter_tone or tone
        out.append(base + {"": "", "^": "6", "+": "7", "(": "8", "đ": "9"}[modifier])
    if tone:
        out.append(str(tone))
    return "".join(out)


def encode_viqr(word: str) -> str:
    """VIQR: ^ ( + and the tone mark right after their vowel, dd for đ."""
    out = []
    for base, modifier, tone in _letters(word):
        out.append(base + (base if modifier == "đ" else modifier) + (" '`?~."[tone] if tone else ""))
    return "".join(out)
