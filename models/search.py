"""Fuzzy catalogue search for the way buyers type on phones.

A query such as "mat ong HG 4 sao" is split into filters (stars, potential 5★, product group, places old or new,
regions) and words. Words are matched against an in-memory inverted index of normalised tokens, forgiving typos
(optimal string alignment distance), unfinished words (prefixes) and missing spaces ("nuocmam"); rapidfuzz then
re-scores the best candidates against the product name. Ranking: relevance, then stars, then id.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from itertools import pairwise
from math import log

import numpy as np
from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA

from models import geography
from models.geography import Place, PlaceKind, Resolution
from models.ocop import Group, group_phrases
from models.text import clean, fold, normalize

MAX_QUERY_CHARS = 200
MIN_RELEVANCE = 0.5  # share of the query's (idf-weighted) words a product must match
RERANK = 100  # candidates re-scored with rapidfuzz
RARE = 2  # a known word held by at most this many products may still be a typo
SUGGEST_POOL = 50  # partial matches considered for "did you mean"

# Field weights: a word in the product name counts most.
NAME, PRODUCER, CATEGORY, PLACE, DESCRIPTION = 1.0, 0.6, 0.5, 0.5, 0.35

# Words that carry no search meaning in buyers' queries (after normalisation).
_STOPWORDS = frozenset(
    "tim kiem can mua cho toi minh o tai cua va cac nhung loai ocop please find buy from in the of and with".split()
)
_STOP_PHRASES = (("san", "pham"), ("dac", "san"), ("sp",))
# Address words that would otherwise match every product.
_PLACE_NOISE = frozenset("xa phuong thi tran huyen quan tinh thanh pho tp so duong thon ap ban to khu dac".split())
# Everyday spellings and English words, rewritten to the catalogue's words.
_REWRITES: dict[str, str] = {
    "cafe": "ca phe", "caphe": "ca phe", "cf": "ca phe", "coffee": "ca phe",
    "honey": "mat ong", "matong": "mat ong", "tea": "che", "fish sauce": "nuoc mam", "nuocmam": "nuoc mam",
    "rice": "gao", "wine": "ruou", "pepper": "ho tieu", "tieu": "ho tieu", "cashew": "hat dieu",
    "ginseng": "sam", "bird nest": "yen sao", "birds nest": "yen sao", "garlic": "toi", "ceramics": "gom",
    "pottery": "gom", "silk": "lua", "homestay": "homestay", "ruou vang": "ruou vang",
}

_POTENTIAL = re.compile(r"(?:tiem\s*nang|potential)\s*(?:5|nam)?\s*(?:sao|\*|★|stars?)?")
_STARS = re.compile(
    r"(?:(?P<from>tu|>=|≥|from|at\s+least)\s*)?(?P<n>[1-5])\s*(?:\*|★|sao|stars?)"
    r"(?P<up>\s*(?:tro\s*len|\+|or\s+more|and\s+up|up|tro\s*di))?"
)
_STAR_GLYPHS = re.compile(r"★{1,5}")


class FilterKind(StrEnum):
    PLACE = "place"
    GROUP = "group"
    STARS = "stars"
    POTENTIAL_5 = "potential_5"
    PRODUCER_KIND = "producer_kind"


@dataclass(frozen=True, slots=True)
class Document:
    """One product as the index sees it."""

    id: int
    name: str
    producer: str
    producer_kind: str
    province: str
    old_province: str | None
    ward: str
    address: str
    group: int
    subgroup: str
    stars: int
    potential_5: bool
    description: str

    @property
    def region(self) -> str:
        return geography.region_of(self.province)

    @property
    def place_label(self) -> str:
        """The current unit, with the old province in brackets when it was merged: "Cần Thơ (Sóc Trăng)"."""
        if self.old_province and self.old_province != self.province:
            return f"{self.province} ({self.old_province})"
        return self.province


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
class ParsedQuery:
    text: str  # the query as searched (cleaned, maybe truncated)
    words: tuple[str, ...]  # what is matched fuzzily
    filters: Filters
    ambiguous: tuple[Resolution, ...] = ()  # place words that could mean several places
    truncated: bool = False
    extra: tuple[str, ...] = ()  # words that help when they match but are not required (stopwords, group words)


@dataclass(frozen=True)
class Hit:
    document: Document
    score: float


class Notice(StrEnum):
    EMPTY = "empty"  # nothing searchable was typed
    TOO_LONG = "too_long"  # searched the first MAX_QUERY_CHARS characters only


@dataclass(frozen=True)
class SearchResult:
    query: ParsedQuery
    hits: tuple[Hit, ...]
    total: int
    offset: int
    notice: Notice | None = None
    suggestions: tuple[str, ...] = ()  # "did you mean" product names when nothing matched
    emptied_by: tuple[FilterKind, ...] = ()  # filters that each, when dropped, would give results

    @property
    def has_more(self) -> bool:
        return self.offset + len(self.hits) < self.total


def parse_query(text: str) -> ParsedQuery:
    """Split free text into filters and words. Never raises."""
    cleaned = clean(text)
    truncated = len(cleaned) > MAX_QUERY_CHARS
    cleaned = cleaned[:MAX_QUERY_CHARS]
    folded = fold(cleaned)

    potential = bool(_POTENTIAL.search(folded))
    folded = _POTENTIAL.sub(" ", folded)
    stars = min_stars = None
    for match in _STAR_GLYPHS.finditer(folded):
        stars = len(match.group())
    for match in _STARS.finditer(folded):
        n = int(match.group("n"))
        if match.group("from") or match.group("up"):
            min_stars, stars = n, None
        else:
            stars = n
    folded = _STAR_GLYPHS.sub(" ", _STARS.sub(" ", folded))

    tokens = _rewrite(normalize(folded).split())
    tokens, groups, group_words = _take_phrases(tokens, group_phrases())
    tokens, places, ambiguous = _take_places(tokens)
    words, dropped = _drop_stopwords(tokens)
    filters = Filters(
        places=places, groups=frozenset(int(g) for g in groups), stars=stars, min_stars=min_stars, potential_5=potential
    )
    # Producers are named after groups ("Công ty Thực phẩm Sao Mai") and stopwords are sometimes real words
    # ("cần" in "rượu cần", "tím" in "ba kích tím"): kept as optional words.
    return ParsedQuery(cleaned, tuple(words), filters, ambiguous, truncated, extra=tuple(group_words + dropped))


def _rewrite(tokens: list[str]) -> list[str]:
    out: list[str] = []
    i = 0
    while i < len(tokens):
        pair = " ".join(tokens[i : i + 2])
        if i + 1 < len(tokens) and pair in _REWRITES:
            out.extend(_REWRITES[pair].split())
            i += 2
        else:
            out.extend(_REWRITES.get(tokens[i], tokens[i]).split())
            i += 1
    return out


def _take_phrases(tokens: list[str], phrases: dict[str, Group]) -> tuple[list[str], set[Group], list[str]]:
    """(remaining tokens, groups named, the words that named them)."""
    found: set[Group] = set()
    rest: list[str] = []
    taken: list[str] = []
    i = 0
    while i < len(tokens):
        for n in range(min(12, len(tokens) - i), 1, -1):
            phrase = " ".join(tokens[i : i + n])
            if phrase in phrases:
                found.add(phrases[phrase])
                taken.extend(tokens[i : i + n])
                i += n
                break
        else:
            rest.append(tokens[i])
            i += 1
    return rest, found, taken


def _take_places(tokens: list[str]) -> tuple[list[str], tuple[Place, ...], tuple[Resolution, ...]]:
    places: list[Place] = []
    ambiguous: list[Resolution] = []
    rest: list[str] = []
    i = 0
    while i < len(tokens):
        for n in range(min(7, len(tokens) - i), 0, -1):
            key = " ".join(tokens[i : i + n])
            candidates = geography.lookup_key(key)
            if not candidates or (n == 1 and any(ch.isdigit() for ch in key)):
                continue
            if len(candidates) > 1:
                ambiguous.append(Resolution(key, candidates))
            places.extend(p for p in candidates if p not in places)
            i += n
            break
        else:
            rest.append(tokens[i])
            i += 1
    return rest, tuple(places), tuple(ambiguous)


def _drop_stopwords(tokens: list[str]) -> tuple[list[str], list[str]]:
    """(words to match, single stopwords dropped)."""
    out: list[str] = []
    dropped: list[str] = []
    i = 0
    while i < len(tokens):
        for phrase in _STOP_PHRASES:
            if tuple(tokens[i : i + len(phrase)]) == phrase:
                i += len(phrase)
                break
        else:
            (dropped if tokens[i] in _STOPWORDS else out).append(tokens[i])
            i += 1
    return out, dropped


def _max_typos(word: str) -> int:
    if len(word) <= 2 or word.isdigit():
        return 0
    return 1 if len(word) <= 5 else 2


class SearchIndex:
    """An immutable in-memory index over a catalogue; build a new one when the catalogue changes."""

    def __init__(self, documents: Iterable[Document]) -> None:
        self.documents: tuple[Document, ...] = tuple(documents)
        n = len(self.documents)
        postings: dict[str, dict[int, float]] = defaultdict(dict)
        for i, doc in enumerate(self.documents):
            for weight, text, joined in self._fields(doc):
                tokens = normalize(text).split()
                if weight == PLACE:
                    tokens = [t for t in tokens if t not in _PLACE_NOISE]
                pairs = [a + b for a, b in pairwise(tokens)] if joined else []
                for token in (*tokens, *pairs):
                    slot = postings[token]
                    if slot.get(i, 0.0) < weight:
                        slot[i] = weight
        self._postings = {
            token: (np.fromiter(slot.keys(), np.int32, len(slot)), np.fromiter(slot.values(), np.float32, len(slot)))
            for token, slot in postings.items()
        }
        self._idf = {token: log(1.0 + n / len(slot)) for token, slot in postings.items()}
        self._sorted_vocab = sorted(self._postings)
        by_length: dict[int, list[str]] = defaultdict(list)
        for token in self._sorted_vocab:
            by_length[len(token)].append(token)
        self._by_length = dict(by_length)
        self._expansions: dict[tuple[str, bool], tuple[tuple[str, float], ...]] = {}
        self._name_keys = [normalize(doc.name) for doc in self.documents]
        self._code_table: dict[str, int] = {}
        self._stars = np.fromiter((d.stars for d in self.documents), np.int8, n)
        self._potential = np.fromiter((d.potential_5 for d in self.documents), np.int8, n)
        self._groups = np.fromiter((d.group for d in self.documents), np.int8, n)
        self._province = self._codes(d.province for d in self.documents)
        self._old_province = self._codes(d.old_province or "" for d in self.documents)
        self._kind = self._codes(d.producer_kind for d in self.documents)

    def __len__(self) -> int:
        return len(self.documents)

    @staticmethod
    def _fields(doc: Document) -> Sequence[tuple[float, str, bool]]:
        group_label = Group(doc.group).label if 1 <= doc.group <= 6 else ""
        place = " ".join((doc.ward, doc.address, doc.province, doc.old_province or ""))
        return (
            (NAME, doc.name, True),
            (PRODUCER, doc.producer, True),
            (CATEGORY, f"{doc.subgroup} {group_label}", False),
            (PLACE, place, False),
            (DESCRIPTION, doc.description, False),
        )

    def _codes(self, values: Iterable[str]) -> np.ndarray:
        table = self._code_table
        return np.fromiter((table.setdefault(v, len(table)) for v in values), np.int32)

    def _code_set(self, values: Iterable[str]) -> np.ndarray:
        return np.array([self._code_table[v] for v in values if v in self._code_table], np.int32)

    # -- matching ---------------------------------------------------------------------------------------------

    def expansions(self, word: str, last: bool = False) -> tuple[tuple[str, float], ...]:
        """Index tokens a query word may stand for, with a similarity in (0, 1]."""
        key = (word, last)
        cached = self._expansions.get(key)
        if cached is not None:
            return cached
        found: dict[str, float] = {}
        if word in self._postings:
            found[word] = 1.0
        if word in self._postings and len(self._postings[word][0]) <= RARE:
            # A word the catalogue holds only once or twice is as likely a typo of a common one ("nuc" → "nhuc").
            for token, similarity in self._typos(word):
                found.setdefault(token, similarity * 0.9)
        elif word not in self._postings:
            # Only words the catalogue does not contain are read as typos or unfinished words: a correctly typed
            # short word ("che") must not also match its neighbours ("cha", "the").
            for token, similarity in self._typos(word):
                found.setdefault(token, similarity)
            if len(word) >= 3 and (last or len(word) >= 4):
                start = bisect_left(self._sorted_vocab, word)
                for token in self._sorted_vocab[start : start + 50]:
                    if not token.startswith(word):
                        break
                    found.setdefault(token, 0.8)
        result = tuple(sorted(found.items(), key=lambda item: -item[1])[:40])
        if len(self._expansions) > 50_000:
            self._expansions.clear()
        self._expansions[key] = result
        return result

    def _typos(self, word: str) -> list[tuple[str, float]]:
        """Index tokens within 1–2 edits (optimal string alignment: a swap is one edit) of ``word``."""
        typos = _max_typos(word)
        found = []
        for length in range(len(word) - typos, len(word) + typos + 1) if typos else ():
            for token, distance, _ in process.extract(
                word, self._by_length.get(length, ()), scorer=OSA.distance, score_cutoff=typos, limit=None
            ):
                if distance and not token.isdigit():
                    found.append((token, 1.0 - distance / (len(word) + 1)))
        return found

    def _relevance(self, words: Sequence[str], extra: Sequence[str] = ()) -> np.ndarray:
        """Per product, the idf-weighted share of ``words`` it matches (0–1); ``extra`` words can only add."""
        n = len(self.documents)
        total = np.zeros(n, np.float32)
        norm = 0.0
        for position, word in enumerate((*words, *extra)):
            optional = position >= len(words)
            expansions = self.expansions(word, last=position == len(words) - 1)
            if not expansions:
                norm += 0.0 if optional else log(1.0 + n)  # an unknown word still counts against every product
                continue
            best = np.zeros(n, np.float32)
            for token, similarity in expansions:
                ids, weights = self._postings[token]
                np.maximum.at(best, ids, weights * similarity)
            idf = max(self._idf[token] for token, _ in expansions)
            total += best * idf * (0.5 if optional else 1.0)
            norm += 0.0 if optional else idf
        return np.minimum(total / norm, 1.0) if norm else total

    def _mask(self, filters: Filters) -> np.ndarray:
        mask = np.ones(len(self.documents), np.bool_)
        if filters.places:
            units = {u for p in filters.places for u in p.provinces}
            olds = {o for p in filters.places for o in p.old_provinces}
            mask &= np.isin(self._province, self._code_set(units)) | np.isin(self._old_province, self._code_set(olds))
        if filters.groups:
            mask &= np.isin(self._groups, list(filters.groups))
        if filters.stars is not None:
            mask &= self._stars == filters.stars
        if filters.min_stars is not None:
            mask &= self._stars >= filters.min_stars
        if filters.potential_5:
            mask &= self._potential == 1
        if filters.producer_kind:
            mask &= self._kind == self._code_table.get(filters.producer_kind, -1)
        return mask

    def _old_place_bonus(self, filters: Filters) -> np.ndarray | None:
        olds = {o for p in filters.places if p.kind is PlaceKind.OLD_PROVINCE for o in p.old_provinces}
        return np.isin(self._old_province, self._code_set(olds)) if olds else None

    def _ranked(self, query: ParsedQuery, filters: Filters, need: int) -> tuple[list[tuple[float, int]], int]:
        mask = self._mask(filters)
        if not query.words:
            ids = np.flatnonzero(mask)
            order = sorted(ids.tolist(), key=lambda i: (-self._stars[i], -self._potential[i], self._name_keys[i], i))
            return [(1.0, i) for i in order], len(order)
        relevance = self._relevance(query.words, query.extra)
        bonus = self._old_place_bonus(filters)
        if bonus is not None:
            relevance = np.minimum(relevance + 0.05 * bonus, 1.0)
        candidates = np.flatnonzero(mask & (relevance >= MIN_RELEVANCE))
        total = len(candidates)
        if not total:
            return [], 0
        top = max(need, RERANK)
        if total > top:
            candidates = candidates[np.argpartition(-relevance[candidates], top - 1)[:top]]
        phrase = " ".join(query.words)
        scored = []
        for i in candidates.tolist():
            similarity = fuzz.token_set_ratio(phrase, self._name_keys[i]) / 100.0
            scored.append((round(0.8 * float(relevance[i]) + 0.2 * similarity, 2), i))
        scored.sort(key=lambda item: (-item[0], -self._stars[item[1]], -self._potential[item[1]], item[1]))
        return scored, total

    def search(
        self, text: str, *, filters: Filters | None = None, offset: int = 0, limit: int = 10
    ) -> SearchResult:
        """Search ``text``, narrowed by explicit ``filters``; ``offset``/``limit`` page the ranked hits."""
        query = parse_query(text)
        notice = Notice.TOO_LONG if query.truncated else None
        effective = query.filters.combined(filters) if filters else query.filters
        if not query.words and not effective.active():
            return SearchResult(query, (), 0, offset, notice=Notice.EMPTY)
        offset, limit = max(0, offset), max(1, min(limit, 100))
        ranked, total = self._ranked(query, effective, offset + limit)
        hits = tuple(Hit(self.documents[i], score) for score, i in ranked[offset : offset + limit])
        result = SearchResult(query, hits, total, offset, notice=notice)
        if total:
            return result
        emptied_by = self._emptying_filters(query, effective)
        return replace(result, emptied_by=emptied_by, suggestions=() if emptied_by else self.suggest(query))

    def _emptying_filters(self, query: ParsedQuery, filters: Filters) -> tuple[FilterKind, ...]:
        return tuple(kind for kind in filters.active() if self._ranked(query, filters.without(kind), 1)[1])

    def suggest(self, query: ParsedQuery, limit: int = 3) -> tuple[str, ...]:
        """Closest product names, for "did you mean …": the best partial matches, re-scored by rapidfuzz."""
        if not query.words or not self.documents:
            return ()
        relevance = self._relevance(query.words)
        top = min(SUGGEST_POOL, len(relevance))
        candidates = np.argpartition(-relevance, top - 1)[:top]
        candidates = [int(i) for i in candidates if relevance[i] > 0]
        phrase = " ".join(query.words)
        scored = sorted(
            ((fuzz.WRatio(phrase, self._name_keys[i]), i) for i in candidates),
            key=lambda item: (-item[0], -self.documents[item[1]].stars, item[1]),
        )
        names: list[str] = []
        for score, i in scored:
            name = self.documents[i].name
            if score >= 60 and name not in names:
                names.append(name)
        return tuple(names[:limit])
