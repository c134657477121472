"""Query understanding: what a buyer's chat message asks the catalogue for.

"chào shop, bên mình cần nhập mật ong bạc hà Hà Giang 4 sao, 2 tấn/tháng" becomes filters (4★, Hà Giang), a
quantity left out of the match ("2 tấn/tháng"), chat words left out ("chào shop", "bên mình", "cần nhập") and the
terms to match ("mật ong", "bạc hà"). Along the way:
- words typed with an input method's keys left in (Telex "mawts", VNI "tha1i", VIQR "ma^.t") are decoded when the
  word is not a word we know and its decoding is (models.typing_keys);
- English product terms become the Vietnamese catalogue terms ("fish sauce" → "nước mắm"; models.lexicon);
- a term also matches its synonyms and regional variants ("trà" → "chè", "thơm" → "dứa", "khóm"), a little below
  the word itself;
- phrases are read leftmost-longest over places, product groups, catalogue terms, English terms and chat words, so
  "thanh long an giang" is dragon fruit in An Giang, not "Long An".
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from enum import StrEnum
from functools import cache, lru_cache

from rapidfuzz.distance import OSA

from models import geography
from models.geography import Place, Resolution
from models.lexicon import Accents, Alternative, Phrase, lexicon
from models.ocop import Group, group_phrases
from models.text import accent_key, clean, fold, normalize
from models.typing_keys import decodings

MAX_QUERY_CHARS = 200

_POTENTIAL = re.compile(r"(?:tiem\s*nang|potential)\s*(?:5|nam|five)?\s*(?:sao|\*|★|stars?)?")
_STAR_NUMBER = {"ba": 3, "bon": 4, "nam": 5, "three": 3, "four": 4, "five": 5}
_STARS = re.compile(
    r"(?:(?P<from>\btu|>=|≥|\bfrom|\bat\s+least|\bmin)\s*)?(?P<n>\b[1-5]|\bba|\bbon|\bnam|\bthree|\bfour|\bfive)"
    r"[\s-]*(?:\*|★|sao\b|stars?\b)"
    r"(?P<up>\s*(?:tro\s*len|\+|or\s+more|or\s+above|and\s+above|and\s+up|up|tro\s*di))?"
)
_STAR_GLYPHS = re.compile(r"★{1,5}")
# Amounts buyers state ("20 tấn/tháng", "500 hộp", "1.000kg", "2-3 container"): recognised and not matched.
_UNITS = (
    "tan|ta|kg|kgs|kilo|kilogram|ki|ky|g|gr|gram|gam|lit|l|ml|hop|thung|chai|goi|tui|bao|cai|chiec|bo|lo|hu|can|"
    "cont|container|containers|xe|pallet|kien|bich|vi|khay|set|qua|trai|cay|chau|cuon|met|m|tam|suat|phan|"
    "tons?|tonnes?|t|boxes|box|bottles?|cartons?|cases?|packs?|packets?|bags?|units?|pcs|pieces?|liters?|litres?|"
    "jars?|cans?|sets?|kilos?|trays?"
)
_NUMBER = r"\d+(?:[.,]\d+)*(?:\s*k)?"
_QUANTITY = re.compile(
    rf"(?<![\w.,])(?:khoang|tam|around|about|approx\.?)?\s*{_NUMBER}(?:\s*(?:-|–|den|toi|to)\s*{_NUMBER})?\s*"
    rf"(?:{_UNITS})\b(?:\s*(?:/|moi|mot|1|per|a|each)\s*(?:thang|tuan|nam|ngay|dot|quy|vu|months?|weeks?|years?|"
    rf"days?|mo|wk)\b)?"
)
_EDGE_PUNCTUATION = ",;:!()[]{}\"“”«»"


class FilterKind(StrEnum):
    PLACE = "place"
    GROUP = "group"
    STARS = "stars"
    POTENTIAL_5 = "potential_5"
    PRODUCER_KIND = "producer_kind"


@dataclass(frozen=True)
class Filters:
    """Structured filters; from buttons, or parsed out of the query text. Empty means "any"."""

    places: tuple[Place, ...] = ()
    groups: frozenset[int] = frozenset()
    stars: int | None = None  # exactly this many
    min_stars: int | None = None
    potential_5: bool = False
    producer_kind: str | None = None

    def active(self) -> tuple[FilterKind, ...]:
        kinds = []
        if self.places:
            kinds.append(FilterKind.PLACE)
        if self.groups:
            kinds.append(FilterKind.GROUP)
        if self.stars is not None or self.min_stars is not None:
            kinds.append(FilterKind.STARS)
        if self.potential_5:
            kinds.append(FilterKind.POTENTIAL_5)
        if self.producer_kind:
            kinds.append(FilterKind.PRODUCER_KIND)
        return tuple(kinds)

    def without(self, kind: FilterKind) -> Filters:
        return {
            FilterKind.PLACE: lambda: replace(self, places=()),
            FilterKind.GROUP: lambda: replace(self, groups=frozenset()),
            FilterKind.STARS: lambda: replace(self, stars=None, min_stars=None),
            FilterKind.POTENTIAL_5: lambda: replace(self, potential_5=False),
            FilterKind.PRODUCER_KIND: lambda: replace(self, producer_kind=None),
        }[kind]()

    def combined(self, other: Filters) -> Filters:
        """These filters narrowed by ``other`` (explicit choices win over parsed ones)."""
        return Filters(
            places=other.places or self.places,
            groups=other.groups or self.groups,
            stars=other.stars if other.stars is not None else self.stars,
            min_stars=other.min_stars if other.min_stars is not None else self.min_stars,
            potential_5=self.potential_5 or other.potential_5,
            producer_kind=other.producer_kind or self.producer_kind,
        )


@dataclass(frozen=True)
class Term:
    """One thing the query asks for, and the ways a product can have it.

    ``words`` is what was typed (normalised). ``alternatives`` are matched exactly, except the first when
    ``literal``: that one is what was typed, and is also matched forgiving typos and unfinished words.
    """

    words: Phrase
    alternatives: tuple[Alternative, ...]
    literal: bool = True
    optional: bool = False  # a chat or group word: helps a product that has it, never required
    english: bool = False


@dataclass(frozen=True)
class ParsedQuery:
    text: str  # the query as searched (cleaned, maybe truncated)
    terms: tuple[Term, ...]
    filters: Filters
    ambiguous: tuple[Resolution, ...] = ()  # place words that could mean several places
    truncated: bool = False
    quantities: tuple[str, ...] = ()  # amounts stated, left out of the match ("20 tan/thang")
    decoded: tuple[tuple[str, str], ...] = ()  # (typed, read as) for words typed with input-method keys
    chatter: bool = False  # chat words and nothing to search for ("chào shop", "cho em hỏi")

    @property
    def required(self) -> tuple[Term, ...]:
        return tuple(term for term in self.terms if not term.optional)

    @property
    def words(self) -> tuple[str, ...]:
        """The words that must match, as the catalogue spells them (translations for English terms)."""
        return tuple(word for term in self.required for word in term.alternatives[0].words)

    @property
    def extra(self) -> tuple[str, ...]:
        """Words that help when they match but are not required (chat words, group words)."""
        return tuple(word for term in self.terms if term.optional for word in term.alternatives[0].words)


class Segment(StrEnum):
    PLACE = "place"
    GROUP = "group"
    VIETNAMESE = "vietnamese"  # a catalogue term with synonyms, or of several words
    ENGLISH = "english"
    CHAT = "chat"


@dataclass
class QueryParser:
    """Parses queries against the words of one catalogue (an index's vocabulary); stateless after construction."""

    catalogue_words: frozenset[str] = frozenset()
    _known: frozenset[str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._known = self.catalogue_words | _static_words()

    def parse(self, text: str) -> ParsedQuery:
        """Split free text into filters, quantities and terms. Never raises."""
        cleaned = clean(text)
        truncated = len(cleaned) > MAX_QUERY_CHARS
        cleaned = cleaned[:MAX_QUERY_CHARS]
        typed, decoded = self._decode_keys(cleaned)
        folded, stars, min_stars, potential = _take_stars(fold(typed))
        quantities = tuple(" ".join(m.group().split()) for m in _QUANTITY.finditer(folded))
        folded = _QUANTITY.sub(" ", folded)

        spelt = _spellings(typed)
        places: list[Place] = []
        ambiguous: list[Resolution] = []
        groups: set[int] = set()
        terms: list[Term] = []
        chatter = False
        for kind, words, value in self._segments(normalize(folded).split()):
            accents = _accents_of(words, spelt)
            if kind is Segment.PLACE:
                candidates: tuple[Place, ...] = value
                if len(candidates) > 1:
                    ambiguous.append(Resolution(" ".join(words), candidates))
                places.extend(p for p in candidates if p not in places)
            elif kind is Segment.GROUP:
                groups.add(int(value))
                # Producers are named after groups ("Công ty Thực phẩm Sao Mai"): the words stay optional.
                terms.extend(Term((w,), (Alternative((w,)),), optional=True) for w in words)
            elif kind is Segment.CHAT:
                if len(words) == 1 and accents and accents[0] not in lexicon().chat[words]:
                    terms.append(_vietnamese_term(words, accents))  # "tỏi" typed with its accents is not "tôi"
                elif len(words) == 1 and words[0] in self.catalogue_words:
                    terms.append(replace(_vietnamese_term(words, accents), optional=True))
                else:
                    chatter = True
            elif kind is Segment.ENGLISH:
                terms.append(self._english_term(words, value))
            else:
                terms.append(_vietnamese_term(words, accents))
        filters = Filters(
            places=tuple(places), groups=frozenset(groups), stars=stars, min_stars=min_stars, potential_5=potential
        )
        if not any(not t.optional for t in terms) and not chatter and not filters.active():
            # Only words that double as chat words ("tỏi" and "tôi" fold alike): search for them after all.
            terms = [replace(t, optional=False) for t in terms]
        chatter = chatter and not any(not t.optional for t in terms) and not filters.active()
        return ParsedQuery(
            cleaned, tuple(terms), filters, tuple(ambiguous), truncated, quantities, decoded, chatter=chatter
        )

    # -- typing leftovers ---------------------------------------------------------------------------------------

    def _decode_keys(self, text: str) -> tuple[str, tuple[tuple[str, str], ...]]:
        """The text with each word typed with Telex/VNI/VIQR keys replaced by its decoding, when the word is not
        one we know and its decoding is."""
        out: list[str] = []
        decoded: list[tuple[str, str]] = []
        for chunk in text.split(" "):
            core = chunk.strip(_EDGE_PUNCTUATION)
            reading = self._reading(core) if core else None
            if reading is None:
                out.append(chunk)
            else:
                decoded.append((core, reading))
                out.append(chunk.replace(core, reading, 1))
        return " ".join(out), tuple(decoded)

    def _reading(self, word: str) -> str | None:
        if len(word) > 16 or not any(ch.isalpha() for ch in word) or self._known_word(word):
            return None
        for candidate in decodings(word):
            if self._known_word(candidate):
                return candidate
        return None

    def _known_word(self, word: str) -> bool:
        """One word we know ("nu+o+'c", VIQR, is not: it only looks like several)."""
        words = normalize(word).split()
        return len(words) == 1 and words[0] in self._known

    # -- phrases ------------------------------------------------------------------------------------------------

    def _segments(self, tokens: list[str]) -> Iterable[tuple[Segment, Phrase, object]]:
        """Leftmost-longest reading of the tokens; a token no table knows is a Vietnamese word."""
        i = 0
        while i < len(tokens):
            for n in range(min(_MAX_PHRASE, len(tokens) - i), 0, -1):
                words = tuple(tokens[i : i + n])
                found = self._lookup(words) or self._slipped_place(words)
                if found is not None:
                    yield found[0], words, found[1]
                    i += n
                    break
            else:
                yield Segment.VIETNAMESE, (tokens[i],), None
                i += 1

    def _lookup(self, words: Phrase) -> tuple[Segment, object] | None:
        key = " ".join(words)
        if not (len(words) == 1 and any(ch.isdigit() for ch in key)):
            places = geography.lookup_key(key)
            if places:
                return Segment.PLACE, places
        group = _groups().get(key)
        if group is not None:
            return Segment.GROUP, group
        lex = lexicon()
        if words in lex.chat:
            return Segment.CHAT, None
        if words in lex.synonyms or words in lex.compounds:
            return Segment.VIETNAMESE, None
        if words in lex.english:
            return Segment.ENGLISH, lex.english[words]
        return None

    def _slipped_place(self, words: Phrase) -> tuple[Segment, object] | None:
        """A place name typed with a slip ("hafg giang", "ha giag", "thai nguyn"): only when a word of the phrase
        is one we do not know, so a real word is never bent into a place."""
        if len(words) < 2 or all(word in self._known for word in words):
            return None
        reading = " ".join(word if word in self._known else self._slip_reading(word) for word in words)
        places = _nearest_place(" ".join(words), reading)
        return (Segment.PLACE, places) if places else None

    def _slip_reading(self, word: str) -> str:
        """An unknown word as it was probably meant: its longest beginning typed with Telex/VNI keys that reads as
        a word we know, the letters after it a slip ("hafg": "hà"); otherwise the word without Telex tone keys."""
        for end in range(len(word) - 1, 1, -1):
            for candidate in decodings(word[:end]):
                folded = normalize(candidate)
                if folded in self._known:
                    return folded
        return _TELEX_TONE.sub("", word)

    def _english_term(self, words: Phrase, targets: tuple[Alternative, ...]) -> Term:
        """The Vietnamese terms an English phrase means, each with its synonyms; then the English words themselves
        when the catalogue has them too ("homestay", "arabica", "bonsai")."""
        weights: dict[tuple[Phrase, Accents | None], float] = {}
        for target in targets:
            for alternative in (target, *lexicon().synonyms_of(target.words, target.accents)):
                key = (alternative.words, alternative.accents)
                weights[key] = max(weights.get(key, 0.0), alternative.weight)
        if all(word in self.catalogue_words for word in words):
            weights.setdefault((words, None), 1.0)
        alternatives = tuple(Alternative(w, weight, a) for (w, a), weight in weights.items())
        return Term(words, alternatives, literal=False, english=True)


_MAX_PHRASE = 7


@cache
def _place_names() -> dict[int, tuple[str, ...]]:
    """The place keys of two words or more (names, not initials), by their number of words."""
    names: dict[int, list[str]] = {}
    for key in geography.all_keys():
        count = len(key.split())
        if count >= 2:
            names.setdefault(count, []).append(key)
    return {count: tuple(sorted(keys)) for count, keys in names.items()}


_TELEX_TONE = re.compile(r"(?<=[aeiouy])[fsrxj]")


@lru_cache(maxsize=4096)
def _nearest_place(phrase: str, reading: str) -> tuple[Place, ...]:
    """The places of the one place name of as many words within a small edit distance of ``phrase`` (one edit, two
    from nine letters; a swap of two letters is one) with the same first letter. Between names as near, the one
    nearer to ``reading`` (the slips read, "ha giang" for "hafg giang") wins over Hậu Giang; still tied, nothing."""
    allowed = 2 if len(phrase) >= 9 else 1
    near: dict[tuple[int, int], set[tuple[Place, ...]]] = {}
    for name in _place_names().get(len(phrase.split()), ()):
        if name[0] != phrase[0]:
            continue
        distance = OSA.distance(phrase, name, score_cutoff=allowed)
        if distance <= allowed:
            near.setdefault((distance, OSA.distance(reading, name)), set()).add(geography.lookup_key(name))
    if not near:
        return ()
    best = near[min(near)]
    return next(iter(best)) if len(best) == 1 else ()


def _take_stars(folded: str) -> tuple[str, int | None, int | None, bool]:
    """(the text without its star phrases, exactly n stars, at least n stars, potential 5★)."""
    potential = bool(_POTENTIAL.search(folded))
    folded = _POTENTIAL.sub(" ", folded)
    stars = min_stars = None
    for match in _STAR_GLYPHS.finditer(folded):
        stars = len(match.group())
    for match in _STARS.finditer(folded):
        n = _STAR_NUMBER.get(match.group("n")) or int(match.group("n"))
        if match.group("from") or match.group("up"):
            min_stars, stars = n, None
        else:
            stars = n
    return _STAR_GLYPHS.sub(" ", _STARS.sub(" ", folded)), stars, min_stars, potential


@cache
def _vietnamese_term(words: Phrase, accents: Accents | None = None) -> Term:
    """A Vietnamese term as typed, with its synonyms: of the whole phrase, and of its parts ("thịt heo" → "thịt
    lợn"); ``accents`` (as typed; None where typed without diacritics) choose among spellings ("dứa", "dừa")."""
    lex = lexicon()
    weights: dict[tuple[Phrase, Accents | None], float] = {}
    typed = accents or (None,) * len(words)
    for size in range(len(words), 0, -1):
        for start in range(len(words) - size + 1):
            part, part_accents = words[start : start + size], typed[start : start + size]
            for alternative in lex.synonyms_of(part, part_accents):
                replaced = words[:start] + alternative.words + words[start + size :]
                own = alternative.accents or (None,) * len(alternative.words)
                spelt = typed[:start] + own + typed[start + size :]
                weights.setdefault((replaced, spelt), alternative.weight)
    ranked = sorted(weights.items(), key=lambda item: -item[1])[: _MAX_ALTERNATIVES - 1]
    others = tuple(Alternative(phrase, weight, spelt) for (phrase, spelt), weight in ranked if phrase != words)
    return Term(words, (Alternative(words, 1.0, accents), *others))


_MAX_ALTERNATIVES = 8


def _spellings(text: str) -> dict[str, set[str]]:
    """How the words typed with diacritics are spelt, by their accent-free form ("toi" → {"tỏi"'s key})."""
    found: dict[str, set[str]] = {}
    for word in re.findall(r"[^\W\d_]+", text.lower()):
        if not word.isascii():
            found.setdefault(fold(word), set()).add(accent_key(word))
    return found


def _accents_of(words: Phrase, spelt: dict[str, set[str]]) -> Accents | None:
    """Per word, how it was typed when that is known and unambiguous; None when typed without diacritics."""
    accents = tuple(next(iter(keys)) if len(keys := spelt.get(word, set())) == 1 else None for word in words)
    return accents if any(accents) else None


@cache
def _groups() -> dict[str, Group]:
    """Group phrases, also after "nhóm" or "ngành" ("nhóm dược liệu")."""
    phrases = group_phrases()
    for key, group in list(phrases.items()):
        for prefix in ("nhom ", "nganh ", "nhom nganh "):
            phrases.setdefault(prefix + key, group)
    return phrases


@cache
def _static_words() -> frozenset[str]:
    """Words we know without a catalogue: places, groups, lexicon, chat words, star words."""
    lex = lexicon()
    words: set[str] = set(lex.vietnamese_words)
    for table in (lex.english, lex.chat):
        for phrase in table:
            words.update(phrase)
    for key in (*geography.all_keys(), *_groups()):
        words.update(key.split())
    words.update(("sao", "tiem", "nang", "tro", "len", "tu", *_STAR_NUMBER))
    return frozenset(words)


@cache
def _default_parser() -> QueryParser:
    return QueryParser()


def parse_query(text: str) -> ParsedQuery:
    """Parse without a catalogue's vocabulary (places, groups, lexicon and chat words only)."""
    return _default_parser().parse(text)
