"""The labelled query sets and the intents behind them: which products genuinely satisfy a query.

Each line of ``queries.jsonl`` (the control set) and ``chat_queries.jsonl`` (the chat set) holds the text a buyer
types, the bundled products it should find, its kind, and its intent: the words of the product's name it asks for
(accented, lower case; of the producer's name for queries naming the producer), a place, allowed star counts, and
for the chat set also allowed OCOP groups and "potential 5 stars". A word of the intent may be a list of
alternatives ("chè" or "trà"), each a word or a phrase whose words must all be in the name. The intent is what the
expected ids were computed from, and it extends them to generated products in larger catalogues.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from models import geography
from models.geography import Place, PlaceKind
from models.search import Document
from models.text import normalize

QUERIES = Path(__file__).with_name("queries.jsonl")
CHAT_QUERIES = Path(__file__).with_name("chat_queries.jsonl")
KINDS = ("accent-free", "typo", "abbreviation", "word-order", "place", "stars", "mixed")  # the control set
CHAT_KINDS = ("chat", "english", "typing", "synonym", "filter")  # the chat set (bench/make_chat_queries.py)
ALL_KINDS = KINDS + CHAT_KINDS
_WORD = re.compile(r"\w+")
_OLD_STYLE = re.compile(r"\b(huyen|quan|thi xa)\b")


# A word of an intent: one word (or phrase: all its words), or alternatives of which any one will do.
Word = str | tuple[str, ...]


@dataclass(frozen=True)
class Intent:
    words: tuple[Word, ...]  # every one must be in the product's name (or its producer's, by_producer)
    place: str | None = None  # a place name geography resolves unambiguously
    stars: tuple[int, ...] | None = None  # allowed star counts
    by_producer: bool = False  # the query names the producer ("htx che long coc"): its words may be there
    potential_5: bool = False  # only 4-star products rated as potential 5 stars
    groups: tuple[int, ...] | None = None  # allowed OCOP product groups (1-6)

    def to_json(self) -> dict[str, object]:
        """The JSON form; the chat set's fields only when set, so that the control set's lines stay as they are."""
        stars = list(self.stars) if self.stars else None
        words = [w if isinstance(w, str) else list(w) for w in self.words]
        out: dict[str, object] = {"words": words, "place": self.place, "stars": stars, "by_producer": self.by_producer}
        if self.potential_5:
            out["potential_5"] = True
        if self.groups:
            out["groups"] = list(self.groups)
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Intent:
        stars, groups = data.get("stars"), data.get("groups")
        return cls(
            tuple(w if isinstance(w, str) else tuple(w) for w in data["words"]),
            data.get("place"),
            tuple(stars) if stars else None,
            data.get("by_producer", False),
            data.get("potential_5", False),
            tuple(groups) if groups else None,
        )


@dataclass(frozen=True)
class Query:
    text: str
    expected: frozenset[int]
    kind: str
    intent: Intent


def tokens(text: str) -> set[str]:
    """Lower-case words with their diacritics kept: "chè" and "che" stay different words."""
    return set(_WORD.findall(unicodedata.normalize("NFC", text).lower()))


def stated_old_province(doc: Document) -> str | None:
    """The old province the certificate's address names, else the one recorded, else None."""
    address = doc.address
    if address.count(",") >= 2 or _OLD_STYLE.search(normalize(address)):
        place = geography.resolve(address.rsplit(",", 1)[-1]).place
        if place and place.kind is PlaceKind.OLD_PROVINCE:
            return place.name
        if place and place.kind is PlaceKind.PROVINCE:
            return geography.old_provinces_of(place.name)[0]
    return doc.old_province


def resolve_place(name: str) -> Place:
    place = geography.resolve(name).place
    if place is None:
        raise ValueError(f"intent place {name!r} does not resolve to exactly one place")
    return place


def in_place(doc: Document, place: Place) -> bool:
    """Whether the product is in the place; an unknown old province counts as in every part of its unit."""
    old = stated_old_province(doc)
    if place.kind is PlaceKind.PROVINCE:
        return doc.province in place.provinces
    if old is not None:
        return old in place.old_provinces
    return doc.province in place.provinces


class Matcher:
    """Finds every document that satisfies an intent, through an inverted index of name and producer words."""

    def __init__(self, documents: Sequence[Document]) -> None:
        self.documents = {doc.id: doc for doc in documents}
        names: dict[str, set[int]] = defaultdict(set)
        producers: dict[str, set[int]] = defaultdict(set)
        for doc in documents:
            for word in tokens(doc.name):
                names[word].add(doc.id)
                producers[word].add(doc.id)
            for word in tokens(doc.producer):
                producers[word].add(doc.id)
        self.names, self.producers = dict(names), dict(producers)

    def _phrase(self, postings: dict[str, set[int]], phrase: str) -> set[int]:
        """The documents with every word of ``phrase`` (one word or several)."""
        sets = [postings.get(word, set()) for word in phrase.split()]
        return set.intersection(*sets) if sets else set()

    def _word(self, postings: dict[str, set[int]], word: Word) -> set[int]:
        if isinstance(word, str):
            return self._phrase(postings, word)
        return set().union(*(self._phrase(postings, alternative) for alternative in word))

    def matches(self, intent: Intent) -> frozenset[int]:
        postings = self.producers if intent.by_producer else self.names
        sets = sorted((self._word(postings, word) for word in intent.words), key=len)
        ids = set.intersection(*sets) if sets else set(self.documents)
        place = resolve_place(intent.place) if intent.place else None
        return frozenset(
            i
            for i in ids
            if (intent.stars is None or self.documents[i].stars in intent.stars)
            and (not intent.potential_5 or self.documents[i].potential_5)
            and (intent.groups is None or int(self.documents[i].group) in intent.groups)
            and (place is None or in_place(self.documents[i], place))
        )


def load_queries(path: Path = QUERIES, kinds: Sequence[str] = ALL_KINDS) -> list[Query]:
    queries = []
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            data = json.loads(line)
            if data["kind"] not in kinds or not data["expected"]:
                raise ValueError(f"{path}:{number}: bad kind or no expected ids")
            queries.append(
                Query(data["query"], frozenset(data["expected"]), data["kind"], Intent.from_json(data["intent"]))
            )
    return queries


def dump_queries(queries: Iterable[Query], path: Path = QUERIES) -> None:
    with path.open("w", encoding="utf-8") as out:
        for q in queries:
            line = {"query": q.text, "expected": sorted(q.expected), "kind": q.kind, "intent": q.intent.to_json()}
            out.write(json.dumps(line, ensure_ascii=False) + "\n")
