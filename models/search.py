"""Fuzzy catalogue search for the way buyers write in a chat.

A message is first understood (models.query): filters (stars, potential 5★, product group, places old or new,
regions), quantities and chat words set aside, typing leftovers decoded, English translated, synonyms attached.
Its terms are matched against an in-memory inverted index of normalised tokens, forgiving typos (optimal string
alignment distance), unfinished words (prefixes) and missing spaces ("nuocmam"); rapidfuzz then re-scores the best
candidates against the product name. Ranking: relevance, then a certificate still valid on the day asked about
before an expired one, then stars, then id. When nothing matches every term, the
closest partial matches are returned and marked so; when a filter empties the result, the matches without it.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date
from enum import StrEnum
from functools import lru_cache
from itertools import pairwise
from math import log

import numpy as np
from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA

from models import geography
from models.geography import PlaceKind
from models.lexicon import lexicon
from models.ocop import Group, certificate_expiry
from models.query import MAX_QUERY_CHARS, FilterKind, Filters, ParsedQuery, QueryParser, Term, parse_query
from models.text import accent_key, fold, normalize

__all__ = [
    "MAX_QUERY_CHARS", "Document", "FilterKind", "Filters", "Hit", "Notice", "ParsedQuery", "SearchIndex",
    "SearchResult", "parse_query",
]

MIN_RELEVANCE = 0.5  # share of the query's (idf-weighted) terms a product must match
# ... and this share of the best product's: when some products have all that was asked, one that lacks the thing
# itself ("nước mắm phú quốc": a pepper from Phú Quốc whose description mentions fish sauce) is not a result.
NEAR_BEST = 0.85
# When nothing matches every term, the closest matches are those that have, well enough (SOLID: a word of the name
# with a slip, or a word of the producer or category), the largest share of the query's terms: at least PARTIAL_MIN,
# and at least CLOSEST of the best share any product has.
PARTIAL_MIN = 0.2
CLOSEST = 0.6
SOLID = 0.8
OPTIONAL_WEIGHT = 0.5  # how much a chat or group word that matches adds, relative to a required one
MISSPELT = 0.45  # a word typed with other diacritics than the product spells it ("đậu" for "dầu") counts this much
RERANK = 100  # candidates re-scored with rapidfuzz
RARE = 2  # a known word held by at most this many products may still be a typo
# Filters dropped, in this order, to show the closest matches when the filters empty the result.
RELAX_ORDER = (
    FilterKind.STARS, FilterKind.POTENTIAL_5, FilterKind.PRODUCER_KIND, FilterKind.GROUP, FilterKind.PLACE,
)

# Field weights: a word in the product name counts most.
NAME, PRODUCER, CATEGORY, PLACE, DESCRIPTION = 1.0, 0.6, 0.5, 0.5, 0.35

# Address words that would otherwise match every product.
_PLACE_NOISE = frozenset("xa phuong thi tran huyen quan tinh thanh pho tp so duong thon ap ban to khu dac".split())


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
    decision_date: date | None = None  # of the certificate; valid 36 months

    @property
    def expires_on(self) -> date | None:
        return certificate_expiry(self.decision_date) if self.decision_date else None

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
    partial: bool = False  # no product matches every term: these are the closest
    relaxed: FilterKind | None = None  # the filters emptied the result: these are the matches without this one
    emptied_by: tuple[FilterKind, ...] = ()  # filters that each, when dropped, would give full matches
    ignored: tuple[str, ...] = ()  # words no product has, left out of the match

    @property
    def has_more(self) -> bool:
        return self.offset + len(self.hits) < self.total


@dataclass(frozen=True)
class _Scores:
    """A query's match against every product: required share (0–1), bonus of optional words, words unmatched."""

    share: np.ndarray
    solid: np.ndarray  # share of the required terms each product has well enough (SOLID), by idf and by count
    bonus: np.ndarray
    matched: bool  # at least one required term can match some product
    ignored: tuple[str, ...]
    confidence: float  # below 1 when words were ignored: the scores say so
    phrase: str  # the required terms as the catalogue spells them, for rapidfuzz


@lru_cache(maxsize=50_000)
def _spelt(text: str) -> tuple[tuple[str, str], ...]:
    """(accent-free word, how it is spelt) for each word of a catalogue text."""
    return tuple((fold(word), accent_key(word)) for word in _LETTERS.findall(text.lower()))


_LETTERS = re.compile(r"[^\W\d_]+")


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
        spellings: dict[str, dict[str, set[int]]] = defaultdict(lambda: defaultdict(set))
        for i, doc in enumerate(self.documents):
            for weight, text, joined in self._fields(doc):
                if weight != DESCRIPTION:
                    for folded, key in _spelt(text):
                        spellings[folded][key].add(i)
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
        # Words the catalogue spells in several ways once accents are dropped ("dừa", "dứa"): who spells them how.
        known = lexicon().spellings_by_fold
        self._spellings = {
            folded: {key: np.array(sorted(ids), np.int32) for key, ids in keys.items()}
            for folded, keys in spellings.items()
            if len(keys.keys() | known.get(folded, frozenset())) > 1
        }
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
        self.parser = QueryParser(frozenset(self._postings))
        names = np.array(self._name_keys, dtype=str)
        # Each certificate's last day (date ordinal); a product with no decision date is never taken for expired.
        self._expires = np.fromiter(
            (e.toordinal() if (e := d.expires_on) else date.max.toordinal() for d in self.documents), np.int32, n
        )
        self._listing_order = np.lexsort((np.arange(n), names, -self._potential, -self._stars.astype(np.int16)))

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

    def _word(
        self, word: str, fuzzy: bool, last: bool, seen: dict, accent: str | None = None, strict: bool = False
    ) -> tuple[np.ndarray, float] | None:
        """Per product, how well ``word`` matches (field weight × similarity), and its idf; None if no product has
        it. ``fuzzy`` also counts typos and unfinished words. ``accent`` is how the word is spelt: a product that
        spells it otherwise counts MISSPELT, or not at all when ``strict``. ``seen`` caches within one query."""
        key = (word, fuzzy, last, accent, strict)
        if key in seen:
            return seen[key]
        exact = ((word, 1.0),) if word in self._postings else ()
        expansions = self.expansions(word, last) if fuzzy else exact
        found = None
        if expansions:
            best = np.zeros(len(self.documents), np.float32)
            for token, similarity in expansions:
                ids, weights = self._postings[token]
                weights = weights * similarity
                if token == word and accent is not None and word in self._spellings:
                    weights = weights * self._spelling_factor(word, accent, ids, 0.0 if strict else MISSPELT)
                np.maximum.at(best, ids, weights)
            found = best, max(self._idf[token] for token, _ in expansions)
        seen[key] = found
        return found

    def _spelling_factor(self, word: str, accent: str, ids: np.ndarray, factor: float) -> np.ndarray:
        """For the products in ``ids``: 1, or ``factor`` where the product spells ``word`` only otherwise. A
        spelling that neither the catalogue nor the lexicon has ("diều" for "điều") is taken for a slip."""
        spellings = self._spellings[word]
        spelt_so = spellings.get(accent)
        if spelt_so is None and accent not in lexicon().spellings:
            return np.ones(len(ids), np.float32)  # a spelling neither the catalogue nor we know is a slip
        elsewise = [found for key, found in spellings.items() if key != accent]
        if not elsewise:
            return np.ones(len(ids), np.float32)
        other = np.isin(ids, np.concatenate(elsewise))
        if spelt_so is not None:
            other &= ~np.isin(ids, spelt_so)
        return np.where(other, np.float32(factor), np.float32(1.0))

    def _term(self, term: Term, last: bool, seen: dict) -> tuple[np.ndarray, np.ndarray, float] | None:
        """Per product: the best of the term's alternatives (an alternative of several words counts as its weakest
        word), and the idf-weighted words it has well enough (SOLID) even when it lacks others; with the idf of the
        first alternative some product has."""
        best: np.ndarray | None = None
        solid: np.ndarray | None = None
        idf = 0.0
        for k, alternative in enumerate(term.alternatives):
            fuzzy = term.literal and k == 0
            accents = alternative.accents or (None,) * len(alternative.words)
            words = [
                self._word(word, fuzzy, fuzzy and last and j == len(alternative.words) - 1, seen, accents[j], not fuzzy)
                for j, word in enumerate(alternative.words)
            ]
            has = np.zeros(len(self.documents), np.float32)
            for found in words:
                if found is not None:
                    has += (found[0] >= SOLID) * np.float32(found[1])
            solid = has if solid is None else np.maximum(solid, has)
            if any(found is None for found in words):
                continue
            matched = words[0][0]
            for found in words[1:]:
                matched = np.minimum(matched, found[0])
            if best is None:
                idf = sum(found[1] for found in words)
            scaled = matched * alternative.weight if alternative.weight != 1.0 else matched
            best = scaled if best is None else np.maximum(best, scaled)
        if best is None or solid is None:
            return None
        return best, solid, idf

    def _scores(self, query: ParsedQuery) -> _Scores:
        n = len(self.documents)
        seen: dict = {}
        total = np.zeros(n, np.float32)
        solid = np.zeros(n, np.float32)
        covered = np.zeros(n, np.float32)  # terms had well, each counting the same
        bonus = np.zeros(n, np.float32)
        norm = 0.0
        known = 0
        ignored: list[str] = []
        phrase: list[str] = []
        required = query.required
        for position, term in enumerate(required):
            found = self._term(term, position == len(required) - 1, seen)
            if found is None:
                ignored.append(" ".join(term.words))  # unknown words lower confidence, they do not veto
                continue
            total += found[0] * found[2]
            solid += found[1]
            covered += np.minimum(found[1] / found[2], 1.0)
            norm += found[2]
            known += 1
            phrase.extend(term.alternatives[0].words)
        for term in query.terms:
            if term.optional:
                found = self._term(term, False, seen)
                if found is not None:
                    bonus += found[0] * found[2] * OPTIONAL_WEIGHT
        if norm:
            total = np.minimum(total / norm, 1.0)
            solid = 0.5 * np.minimum(solid / norm, 1.0) + 0.5 * covered / known  # by weight and by count
            bonus /= norm
        elif bonus.any():
            bonus /= float(bonus.max())
        confidence = norm / (norm + len(ignored) * log(1.0 + n)) if norm else 0.0
        return _Scores(total, solid, bonus, bool(norm), tuple(ignored), confidence, " ".join(phrase))

    def _mask(self, filters: Filters) -> np.ndarray:
        mask = np.ones(len(self.documents), np.bool_)
        if filters.places:
            mask &= self._in_places(filters)
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

    def _in_places(self, filters: Filters) -> np.ndarray:
        """A current unit covers all of its territory. An old province, region or grouping is decided by the
        product's old province where it is known, by its current unit otherwise: "Tây Nguyên" does not take in
        the products of coastal Bình Định although today's Gia Lai covers both."""
        known_old = self._old_province != self._code_table.get("", -1)
        inside = np.zeros(len(self.documents), np.bool_)
        for place in filters.places:
            in_unit = np.isin(self._province, self._code_set(place.provinces))
            if place.kind is PlaceKind.PROVINCE:
                inside |= in_unit
            else:
                in_old = np.isin(self._old_province, self._code_set(place.old_provinces))
                inside |= np.where(known_old, in_old, in_unit)
        return inside

    def _old_place_bonus(self, filters: Filters) -> np.ndarray | None:
        olds = {o for p in filters.places if p.kind is PlaceKind.OLD_PROVINCE for o in p.old_provinces}
        return np.isin(self._old_province, self._code_set(olds)) if olds else None

    def _expired(self, today: date | None) -> np.ndarray:
        """Per product: 1 when its certificate had ended before ``today`` (none when no day is given)."""
        if today is None:
            return np.zeros(len(self.documents), np.int8)
        return (self._expires < today.toordinal()).astype(np.int8)

    def _listed(self, mask: np.ndarray, need: int, expired: np.ndarray) -> tuple[list[tuple[float, int]], int]:
        """The first ``need`` products by validity, stars, then name (a listing by filters alone), and how many
        there are."""
        order = self._listing_order[mask[self._listing_order]]
        order = order[np.argsort(expired[order], kind="stable")]
        return [(1.0, int(i)) for i in order[:need]], len(order)

    def _ranked(
        self, scores: _Scores, filters: Filters, need: int, expired: np.ndarray, partial: bool = False
    ) -> tuple[list[tuple[float, int]], int]:
        mask = self._mask(filters)
        if not scores.matched:
            return self._listed(mask, need, expired)
        relevance = scores.share
        bonus = self._old_place_bonus(filters)
        if bonus is not None:
            relevance = relevance + 0.05 * bonus
        if partial:
            solid = np.where(mask, scores.solid, 0.0)
            enough = solid >= max(PARTIAL_MIN, CLOSEST * float(solid.max(initial=0.0)))
        else:
            enough = relevance >= MIN_RELEVANCE
            best = float(relevance[mask & enough].max(initial=0.0))
            if best >= 1.0:  # only when a product has everything asked: then the others must come close
                enough &= relevance >= NEAR_BEST * best
        candidates = np.flatnonzero(mask & enough)
        total = len(candidates)
        if not total or not need:
            return [], total
        # Optional words (chat words that are also catalogue words, group words) order equally relevant products.
        ranking = np.minimum(np.maximum(relevance, scores.solid) if partial else relevance, 1.0) + 0.2 * scores.bonus
        top = max(need, RERANK)
        if total > top:
            candidates = candidates[np.argpartition(-ranking[candidates], top - 1)[:top]]
        scored = []
        for i in candidates.tolist():
            similarity = fuzz.token_set_ratio(scores.phrase, self._name_keys[i]) / 100.0
            scored.append((round((0.8 * float(ranking[i]) + 0.2 * similarity) * scores.confidence, 2), i))
        # Equally relevant: a valid certificate first (a tie-break, not a filter), then more stars.
        scored.sort(key=lambda i: (-i[0], expired[i[1]], -self._stars[i[1]], -self._potential[i[1]], i[1]))
        return scored, total

    def search(
        self, text: str, *, filters: Filters | None = None, offset: int = 0, limit: int = 10, today: date | None = None
    ) -> SearchResult:
        """Search ``text``, narrowed by explicit ``filters``; ``offset``/``limit`` page the ranked hits. When no
        product matches, the hits are the matches without the first filter that emptied the result (``relaxed``)
        or, failing that, the closest partial matches (``partial``). Given ``today``, of equally relevant products
        those whose certificate had ended come last."""
        query = self.parser.parse(text)
        notice = Notice.TOO_LONG if query.truncated else None
        effective = query.filters.combined(filters) if filters else query.filters
        if not query.required and not effective.active():
            return SearchResult(query, (), 0, offset, notice=Notice.EMPTY)
        offset, limit = max(0, offset), max(1, min(limit, 100))
        scores = self._scores(query)
        result = SearchResult(query, (), 0, offset, notice=notice, ignored=scores.ignored)
        if not scores.matched and not effective.active():
            return result  # nothing typed is in the catalogue, and no filter to list by
        need = offset + limit
        expired = self._expired(today)
        ranked, total = self._ranked(scores, effective, need, expired)
        if not total and scores.matched:
            emptied_by = tuple(kind for kind in RELAX_ORDER if kind in effective.active()
                               and self._ranked(scores, effective.without(kind), 0, expired)[1])
            result = replace(result, emptied_by=emptied_by, partial=True)
            if emptied_by:
                ranked, total = self._ranked(scores, effective.without(emptied_by[0]), need, expired)
                result = replace(result, relaxed=emptied_by[0])
            else:
                ranked, total = self._ranked(scores, effective, need, expired, partial=True)
        hits = tuple(Hit(self.documents[i], score) for score, i in ranked[offset:need])
        return replace(result, hits=hits, total=total)
