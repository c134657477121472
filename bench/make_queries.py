"""Generate bench/queries.jsonl from the bundled catalogue: noisy queries the way buyers type them on phones.

    .venv/bin/python bench/make_queries.py          # rewrites bench/queries.jsonl (seeded: same catalogue, same file)

The committed .jsonl is the source of truth; rerun this only when the bundled catalogue changes, and review the diff.
Each query starts from words of one bundled product's name (a prefix, its kind plus a brand or place, or the whole
name) or of its producer's name, adds noise of one kind, and lists as expected every bundled product that satisfies
the same intent (all those words in its name, or its producer's for producer queries; the place; the stars).
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import replace
from itertools import pairwise
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the project root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.catalog_gen import SAMPLE_CATALOGUE, Names, bundled_documents
from bench.labels import KINDS, QUERIES, Intent, Matcher, Query, dump_queries, in_place, stated_old_province
from models import geography
from models.geography import PlaceKind
from models.search import Document
from models.text import fold

SEED = 300
PER_KIND = 50
MAX_EXPECTED = 4  # a query must be specific enough to name at most this many bundled products
_WORD = re.compile(r"\w+")

# Abbreviations buyers use for places (each resolves to the place, alone or among a few).
PLACE_ABBREVIATIONS: dict[str, tuple[str, ...]] = {
    "Hà Nội": ("HN", "hn", "hanoi"),
    "TP Hồ Chí Minh": ("HCM", "tphcm", "sg", "tp hcm"),
    "Bà Rịa - Vũng Tàu": ("BRVT", "brvt"),
    "Hải Phòng": ("HP", "hp"),
    "Hà Giang": ("HG", "hg"),
    "Cần Thơ": ("CT", "ct"),
    "Lâm Đồng": ("LĐ", "ld"),
    "Hưng Yên": ("HY", "hy"),
    "Vĩnh Long": ("VL", "vl"),
    "An Giang": ("AG", "ag"),
    "Cà Mau": ("CM", "cm"),
    "Thừa Thiên Huế": ("TTH", "tt hue"),
    "Đắk Lắk": ("daklak", "DakLak"),
    "Kon Tum": ("kontum",),
}
# Region phrases as typed, and the region or grouping each names.
REGION_PHRASES: dict[str, tuple[str, ...]] = {
    "Đồng bằng sông Cửu Long": ("mien tay", "dbscl", "ĐBSCL", "miền Tây"),
    "Tây Nguyên": ("tay nguyen", "Tây Nguyên"),
    "Miền Bắc": ("mien bac", "miền Bắc"),
    "Miền Trung": ("mien trung",),
    "Nam Bộ": ("mien nam", "nam bo"),
    "Trung du và miền núi phía Bắc": ("vung nui phia bac", "mien nui phia bac"),
}
# fmt: off
# Legal forms at the start of producer names, longest first (folded); buyers shorten them to "htx" and "cty".
_LEGAL_FORMS = (
    "hop tac xa", "htx", "cong ty tnhh mtv", "cong ty tnhh", "cong ty co phan", "cong ty cp", "cong ty", "cty tnhh",
    "cty",
)
_KEYBOARD_NEIGHBOURS = {
    "a": "sq", "b": "vn", "c": "xv", "d": "sf", "e": "wr", "g": "fh", "h": "gj", "i": "uo", "k": "jl", "l": "k",
    "m": "n", "n": "bm", "o": "ip", "p": "o", "r": "et", "s": "ad", "t": "ry", "u": "yi", "v": "cb", "y": "tu",
}
# fmt: on


def words_of(text: str) -> list[str]:
    return _WORD.findall(unicodedata.normalize("NFC", text))


def plain(words: Sequence[str]) -> str:
    """Accent-free, lower case: how most buyers type."""
    return fold(" ".join(words))


def typo(word: str, rng: random.Random) -> str:
    """One realistic slip in a word of four letters or more: swap, drop, double or hit a neighbouring key."""
    i = rng.randrange(1, len(word) - 1)
    op = rng.choice(("swap", "drop", "double", "neighbour"))
    if op == "swap" and word[i] != word[i + 1]:
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if op == "drop":
        return word[:i] + word[i + 1 :]
    if op == "neighbour" and word[i] in _KEYBOARD_NEIGHBOURS:
        return word[:i] + rng.choice(_KEYBOARD_NEIGHBOURS[word[i]]) + word[i + 1 :]
    return word[: i + 1] + word[i] + word[i + 1 :]


def with_typos(text: str, rng: random.Random, count: int) -> str:
    words = text.split()
    eligible = [i for i, w in enumerate(words) if len(w) >= 4 and w.isalpha()]
    for i in rng.sample(eligible, min(count, len(eligible))):
        words[i] = typo(words[i], rng)
    return " ".join(words)


class ProperName(list[str]):
    """A segment of a product name that is a proper name: a place, a brand, a person."""


class QueryMaker:
    """Queries for bundled products; each method returns (text, intent) or None when it does not apply."""

    def __init__(self, bundled: Sequence[Document], rng: random.Random) -> None:
        self.rng = rng
        self.matcher = Matcher(bundled)
        self.names = Names(bundled)
        self.heads = {d.id: self.names.kind_of(d.name) for d in bundled}

    def expected(self, intent: Intent) -> frozenset[int]:
        return self.matcher.matches(intent)

    def specific(self, doc: Document, intent: Intent) -> bool:
        expected = self.expected(intent)
        return doc.id in expected and len(expected) <= MAX_EXPECTED

    def segments(self, doc: Document) -> list[list[str]]:
        """The name cut into what buyers keep together: its kind, then runs of common words, then proper names
        (pairs of capitalised words, as place and brand names mostly are, guided by the places in addresses).
        """
        words = words_of(doc.name)
        head = len(words_of(self.heads[doc.id]))
        flags = self.names.proper(words)
        out = [words[:head]]
        i = head
        while i < len(words):
            capital = flags[i]
            j = i
            while j < len(words) and flags[j] == capital:
                j += 1
            out.extend(self._proper_names(words[i:j]) if capital else [words[i:j]])
            i = j
        return out

    def _proper_names(self, run: list[str]) -> list[list[str]]:
        names: list[list[str]] = []
        i = 0
        while i < len(run):
            pair = fold(" ".join(run[i : i + 2]))
            after = fold(" ".join(run[i + 1 : i + 3]))
            if i + 1 < len(run) and (pair in self.names.places or after not in self.names.places):
                names.append(ProperName(run[i : i + 2]))
                i += 2
            else:
                names.append(ProperName(run[i : i + 1]))
                i += 1
        if len(names) > 1 and len(names[-1]) == 1 and fold(" ".join(names[-2])) not in self.names.places:
            last = names.pop()
            names[-1] = ProperName([*names[-1], *last])
        return names

    def core_segments(self, doc: Document, extra: Intent | None = None, minimal: int = 1) -> list[list[str]] | None:
        """Segments of the name as a buyer would pick them: a prefix of the name, its kind plus one or two of its
        proper names, or the whole name; the shortest of each that is specific enough (with ``extra``'s place and
        stars), at least two words and ``minimal`` segments past the kind. None when nothing singles it out.
        """
        segments = self.segments(doc)
        place, stars = (extra.place, extra.stars) if extra else (None, None)

        def fits(chosen: list[list[str]]) -> bool:
            words = [w for seg in chosen for w in seg]
            return (
                len(words) >= 2 and len(chosen) > minimal and self.specific(doc, self.intent(doc, words, place, stars))
            )

        words = self.flat(segments)
        prefixes: list[list[list[str]]] = []
        start = 0
        for n, seg in enumerate(segments):
            # Common words after the kind may be cut, but not inside a compound: "rượu ba kích", never "rượu ba".
            cuts = range(1, len(seg) + 1) if n > 0 and not isinstance(seg, ProperName) else (len(seg),)
            prefixes.extend([*segments[:n], seg[:cut]] for cut in cuts if self.names.can_cut(words, start + cut))
            start += len(seg)
        candidates = [
            next((c for c in prefixes if fits(c)), None),
            next((c for c in ([segments[0], seg] for seg in segments[1:]) if fits(c)), None),
            next((c for c in ([segments[0], *pair] for pair in pairwise(segments[1:])) if fits(c)), None),
            segments if sum(map(len, segments)) <= 8 and fits(segments) else None,
        ]
        options = [c for c in candidates if c]
        return self.rng.choice(options) if options else None

    @staticmethod
    def flat(core: list[list[str]]) -> list[str]:
        return [w for seg in core for w in seg]

    def core(self, doc: Document, extra: Intent | None = None, minimal: int = 1) -> list[str] | None:
        segments = self.core_segments(doc, extra, minimal)
        return self.flat(segments) if segments else None

    def intent(
        self, doc: Document, words: Sequence[str], place: str | None = None, stars: tuple[int, ...] | None = None
    ) -> Intent:
        """The intent of ``words`` for ``doc``; words naming the province the product is in become that place
        ("chả tôm thanh hóa": any chả tôm made in Thanh Hóa satisfies it, whatever its name).
        """
        keys = [w.lower() for w in words]
        if place is None:
            for n in (3, 2):
                for i in range(len(keys) - n + 1):
                    found = geography.resolve(" ".join(keys[i : i + n])).place
                    if found and found.kind in (PlaceKind.PROVINCE, PlaceKind.OLD_PROVINCE) and in_place(doc, found):
                        return Intent(tuple(keys[:i] + keys[i + n :]), found.name, stars)
        return Intent(tuple(keys), place, stars)

    # -- one method per kind of noise ------------------------------------------------------------------------

    def accent_free(self, doc: Document) -> tuple[str, Intent] | None:
        core = self.core(doc)
        return (plain(core), self.intent(doc, core)) if core else None

    def typo(self, doc: Document) -> tuple[str, Intent] | None:
        core = self.core(doc)
        if not core or not any(len(w) >= 4 for w in plain(core).split()):
            return None
        count = 2 if len(core) >= 3 and self.rng.random() < 0.4 else 1
        return with_typos(plain(core), self.rng, count), self.intent(doc, core)

    def abbreviation(self, doc: Document) -> tuple[str, Intent] | None:
        rng = self.rng
        options: list[Callable[[], tuple[str, Intent] | None]] = []
        if "cà phê" in doc.name.lower():
            options.append(lambda: self._coffee(doc))
        if fold(doc.producer).startswith(tuple(p + " " for p in _LEGAL_FORMS)):
            options.append(lambda: self._producer(doc))
        if self._abbreviable_place(doc):
            options.append(lambda: self._place_abbreviation(doc))
        return rng.choice(options)() if options else None

    def _coffee(self, doc: Document) -> tuple[str, Intent] | None:
        core = self.core(doc)
        if not core:
            return None
        text = re.sub(r"\bca phe\b", self.rng.choice(("cafe", "cafe", "caphe")), plain(core))
        return text, self.intent(doc, core)

    def _producer(self, doc: Document) -> tuple[str, Intent] | None:
        folded = fold(doc.producer)
        prefix = next((p for p in _LEGAL_FORMS if folded.startswith(p + " ")), None)
        if prefix is None:
            return None
        own = words_of(doc.producer)[len(prefix.split()) :]
        intent = replace(self.intent(doc, own), by_producer=True)
        if not own or not self.specific(doc, intent):
            return None
        short = "htx" if prefix in ("hop tac xa", "htx") else "cty"
        return f"{short} {plain(own)}", intent

    def _abbreviable_place(self, doc: Document) -> str | None:
        old = stated_old_province(doc)
        for name in (old, doc.province):
            if name in PLACE_ABBREVIATIONS:
                return name
        return None

    def _place_abbreviation(self, doc: Document) -> tuple[str, Intent] | None:
        place = self._abbreviable_place(doc)
        assert place is not None
        core = self.core(doc, Intent((), place), minimal=0)
        if not core:
            return None
        return f"{plain(core)} {self.rng.choice(PLACE_ABBREVIATIONS[place])}", self.intent(doc, core, place)

    def word_order(self, doc: Document) -> tuple[str, Intent] | None:
        """Proper names (brand, place) first, then what the product is: "meo vac mat ong"."""
        core = self.core_segments(doc, minimal=1)
        if not core:
            return None
        proper = [seg for seg in core if isinstance(seg, ProperName)]
        common = [seg for seg in core if not isinstance(seg, ProperName)]
        if not proper:
            return None
        moved = self.flat([*proper, *common])
        text = " ".join(moved).lower() if self.rng.random() < 0.3 else plain(moved)
        return text, self.intent(doc, self.flat(core))

    def place_phrase(self, doc: Document) -> tuple[str, str] | None:
        """(place name for the intent, phrase as typed): old or current province, or a region."""
        rng = self.rng
        old = stated_old_province(doc)
        choices: list[tuple[str, str]] = [(doc.province, doc.province)]
        if old and old != doc.province:
            choices += [(old, old), (old, old)]  # certificates and buyers still use the old names
        for region, phrases in REGION_PHRASES.items():
            place = geography.resolve(region).place
            if place and place.kind in (PlaceKind.REGION, PlaceKind.GROUPING) and self._covers(place, doc):
                choices.append((region, rng.choice(phrases)))
        name, phrase = rng.choice(choices)
        if phrase == name:
            city = name in geography.CURRENT_UNITS and geography.CURRENT_UNITS[name][0]
            prefixed = plain([name]) if name.startswith("TP ") else f"{'tp' if city else 'tinh'} {plain([name])}"
            phrase = rng.choice((plain([name]), plain([name]), prefixed, name))
        return name, phrase

    @staticmethod
    def _covers(place: geography.Place, doc: Document) -> bool:
        old = stated_old_province(doc)
        return old in place.old_provinces if old else doc.province in place.provinces

    def place(self, doc: Document) -> tuple[str, Intent] | None:
        picked = self.place_phrase(doc)
        if not picked:
            return None
        name, phrase = picked
        core = self.core(doc, Intent((), name), minimal=0)
        return (f"{plain(core)} {phrase}", self.intent(doc, core, name)) if core else None

    def star_phrase(self, doc: Document) -> tuple[tuple[int, ...], str]:
        n = doc.stars
        options = [((n,), f"{n} sao"), ((n,), f"{n} sao"), ((n,), f"{n}*"), ((n,), f"{n} sao ocop")]
        if n < 5:
            options += [(tuple(range(n, 6)), f"{n} sao tro len"), (tuple(range(n, 6)), f"tu {n} sao")]
        return self.rng.choice(options)

    def stars(self, doc: Document) -> tuple[str, Intent] | None:
        allowed, phrase = self.star_phrase(doc)
        core = self.core(doc, Intent((), None, allowed), minimal=0)
        return (f"{plain(core)} {phrase}", self.intent(doc, core, None, allowed)) if core else None

    def mixed(self, doc: Document) -> tuple[str, Intent] | None:
        """A typo plus a place or a star phrase, sometimes both, sometimes in another order."""
        rng = self.rng
        place = self.place_phrase(doc) if rng.random() < 0.7 else None
        allowed, stars = self.star_phrase(doc) if place is None or rng.random() < 0.4 else (None, "")
        name, phrase = place or (None, "")
        core = self.core(doc, Intent((), name, allowed), minimal=0)
        if not core:
            return None
        text = plain(core)
        if any(len(w) >= 4 for w in text.split()):
            text = with_typos(text, rng, 1)
        parts = [text, phrase, stars]
        if rng.random() < 0.3:
            parts = [phrase, text, stars]
        return " ".join(p for p in parts if p), self.intent(doc, core, name, allowed)


def make(bundled: Sequence[Document], per_kind: int = PER_KIND, seed: int = SEED) -> list[Query]:
    rng = random.Random(seed)
    maker = QueryMaker(bundled, rng)
    makers = {
        "accent-free": maker.accent_free, "typo": maker.typo, "abbreviation": maker.abbreviation,
        "word-order": maker.word_order, "place": maker.place, "stars": maker.stars, "mixed": maker.mixed,
    }  # fmt: skip
    queries: list[Query] = []
    seen: set[str] = set()
    for kind in KINDS:
        order = list(bundled)
        rng.shuffle(order)
        made = 0
        for doc in order:
            if made == per_kind:
                break
            result = makers[kind](doc)
            if result is None or result[0] in seen:
                continue
            text, intent = result
            expected = maker.expected(intent)
            assert doc.id in expected, (text, intent)
            seen.add(text)
            queries.append(Query(text, expected, kind, intent))
            made += 1
        if made < per_kind:
            raise SystemExit(f"only {made} {kind} queries could be made from {len(bundled)} products")
    return queries


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--catalogue", type=Path, default=SAMPLE_CATALOGUE)
    parser.add_argument("--out", type=Path, default=QUERIES)
    parser.add_argument("--per-kind", type=int, default=PER_KIND)
    args = parser.parse_args(argv)
    queries = make(bundled_documents(args.catalogue), args.per_kind)
    dump_queries(queries, args.out)
    print(f"{len(queries)} queries written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
