"""The words search needs beyond the catalogue: English product terms, synonyms and regional variants, chat words.

All three are reviewed data files in ``models/data/`` (nothing is downloaded):
- ``lexicon_en.csv`` (group, vi, en, variants): English terms buyers type → the Vietnamese catalogue terms, and the
  short English gloss shown to English-speaking users ("Nước mắm Phú Quốc — fish sauce");
- ``synonyms.csv`` (kind, words, note): words that name the same thing ("chè"/"trà", "heo"/"lợn", "dứa"/"thơm"/
  "khóm"); a ``spelling`` variant matches as the word itself, a ``synonym`` a little below it;
- ``chat_words.txt``: greetings, address terms, question frames and trade words that carry no product meaning.
Phrases are kept as tuples of normalised words (``models.text.normalize``).
"""

from __future__ import annotations

import csv
import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from functools import cache, cached_property, lru_cache
from pathlib import Path

from models.text import accent_key, fold, normalize

DATA = Path(__file__).with_name("data")
SYNONYM_WEIGHT = 0.9  # a synonym matches a little below the word typed, so the exact word ranks first

Phrase = tuple[str, ...]
Accents = tuple[str | None, ...]  # per word, its models.text.accent_key, or None where any spelling will do


@dataclass(frozen=True)
class Alternative:
    """One way a query term can be found in a product: all these words, counting ``weight`` of a full match.

    ``accents`` says how the words are spelt, where the accent-free words could be several ("dừa" coconut, "dứa"
    pineapple): a product that spells the word otherwise does not have it.
    """

    words: Phrase
    weight: float = 1.0
    accents: Accents | None = None


def compatible(typed: Accents | None, spelt: Accents | None) -> bool:
    """Whether a spelling could be what was typed (a word typed without diacritics could be any)."""
    if typed is None or spelt is None:
        return True
    return all(t is None or s is None or t == s for t, s in zip(typed, spelt, strict=False))


@dataclass(frozen=True)
class Lexicon:
    english: dict[Phrase, tuple[Alternative, ...]]  # English phrase → the Vietnamese phrases it may mean
    synonyms: dict[Phrase, tuple[tuple[Accents | None, tuple[Alternative, ...]], ...]]  # by spelling, the others
    compounds: frozenset[Phrase]  # Vietnamese product terms of several words, matched as a unit ("mat ong")
    chat: dict[Phrase, frozenset[str]]  # chat words and phrases without product meaning (→ how a word is spelt)
    glosses: dict[str, str]  # Vietnamese term (lower case, accented) → English gloss
    vietnamese_words: frozenset[str]  # every normalised word of the Vietnamese side
    spellings: frozenset[str]  # how those words are spelt (accent keys): words we know, not slips

    @cached_property
    def spellings_by_fold(self) -> dict[str, frozenset[str]]:
        """The spellings we know of each accent-free word ("dua" → "dừa", "dứa")."""
        found: dict[str, set[str]] = defaultdict(set)
        for key in self.spellings:
            found[fold(key[:-1])].add(key)
        return {word: frozenset(keys) for word, keys in found.items()}

    def synonyms_of(self, words: Phrase, accents: Accents | None = None) -> tuple[Alternative, ...]:
        """Other phrases for ``words`` spelt as ``accents`` (or any spelling of them)."""
        found: dict[tuple[Phrase, Accents | None], float] = {}
        for spelt, others in self.synonyms.get(words, ()):
            if compatible(accents, spelt):
                for other in others:
                    key = (other.words, other.accents)
                    found[key] = max(found.get(key, 0.0), other.weight)
        return tuple(Alternative(w, weight, a) for (w, a), weight in found.items())


def _phrase(text: str) -> Phrase:
    return tuple(normalize(text).split())


def _spelling(text: str) -> Alternative:
    """A Vietnamese phrase of the data, with how each of its words is spelt."""
    words = _phrase(text)
    typed = text.split()
    accents = tuple(accent_key(word) for word in typed) if len(typed) == len(words) else None
    return Alternative(words, 1.0, accents)


def _plurals(phrase: str) -> set[str]:
    """Regular English plurals of a phrase's last word: pepper → peppers, dish → dishes, berry → berries."""
    head, _, last = phrase.rpartition(" ")
    prefix = head + " " if head else ""
    forms = {last + "s"}
    if re.search(r"(s|x|z|ch|sh|o)$", last):
        forms.add(last + "es")
    if re.search(r"[^aeiou]y$", last):
        forms.add(last[:-1] + "ies")
    return {prefix + form for form in forms}


def _english_forms(en: str, variants: str) -> set[Phrase]:
    forms: set[Phrase] = set()
    for text in (en, *[v for v in variants.split(";") if v.strip()]):
        text = text.strip().lower()
        for form in (text, *_plurals(text)):
            phrase = _phrase(form)
            if phrase:
                forms.add(phrase)
                if "s" in phrase[1:]:  # "bird's nest" → "bird s nest"; also "birds nest"
                    forms.add(_phrase(form.replace("'s", "s").replace("’s", "s")))
    return forms


def _read_english(path: Path) -> tuple[dict[Phrase, tuple[Alternative, ...]], dict[str, str], set[Phrase]]:
    english: dict[Phrase, list[Alternative]] = defaultdict(list)
    glosses: dict[str, str] = {}
    vietnamese: set[Phrase] = set()
    with path.open(encoding="utf-8", newline="") as rows:
        for row in csv.DictReader(rows):
            vi, en = row["vi"].strip(), row["en"].strip()
            if not vi or not en:
                continue
            target = _spelling(vi)
            vietnamese.add(target.words)
            glosses.setdefault(_gloss_key(vi), en)
            for form in _english_forms(en, row.get("variants") or ""):
                if target not in english[form]:
                    english[form].append(target)
    return {form: tuple(targets) for form, targets in english.items()}, glosses, vietnamese


def _read_synonyms(
    path: Path,
) -> tuple[dict[Phrase, tuple[tuple[Accents | None, tuple[Alternative, ...]], ...]], set[Phrase]]:
    others_of: dict[Alternative, dict[Alternative, float]] = defaultdict(dict)
    with path.open(encoding="utf-8", newline="") as rows:
        for row in csv.DictReader(rows):
            group = [_spelling(word.strip()) for word in row["words"].split(";") if word.strip()]
            weight = 1.0 if row["kind"].strip() == "spelling" else SYNONYM_WEIGHT
            for member in group:
                for other in group:
                    if other != member:
                        others_of[member][other] = max(weight, others_of[member].get(other, 0.0))
    by_words: dict[Phrase, list[tuple[Accents | None, tuple[Alternative, ...]]]] = defaultdict(list)
    for member, others in others_of.items():
        alternatives = tuple(Alternative(o.words, weight, o.accents) for o, weight in others.items())
        by_words[member.words].append((member.accents, alternatives))
    return {words: tuple(spellings) for words, spellings in by_words.items()}, set(by_words)


def _read_chat(path: Path) -> dict[Phrase, frozenset[str]]:
    forms: dict[Phrase, set[str]] = defaultdict(set)
    for line in path.read_text(encoding="utf-8").splitlines():
        text = line.split("#", 1)[0].strip()
        phrase = _phrase(text)
        if len(phrase) == 1:
            forms[phrase].add(accent_key(text))
        elif phrase:
            forms[phrase] = set()
    return {phrase: frozenset(accented) for phrase, accented in forms.items()}


@cache
def lexicon() -> Lexicon:
    english, glosses, vietnamese = _read_english(DATA / "lexicon_en.csv")
    synonyms, synonym_phrases = _read_synonyms(DATA / "synonyms.csv")
    vietnamese |= synonym_phrases
    spelt = {accent_key(word) for gloss_key in glosses for word in gloss_key.split()}
    spelt.update(key for spellings in synonyms.values() for accents, _ in spellings for key in accents or () if key)
    return Lexicon(
        english=english,
        synonyms=synonyms,
        compounds=frozenset(p for p in vietnamese if len(p) > 1),
        chat=_read_chat(DATA / "chat_words.txt"),
        glosses=glosses,
        vietnamese_words=frozenset(word for phrase in vietnamese for word in phrase),
        spellings=frozenset(spelt),
    )


def _gloss_key(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).lower().split())


_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?")


@lru_cache(maxsize=50_000)
def gloss(name: str) -> str | None:
    """The English kind of a product from its Vietnamese name: "Nước mắm Phú Quốc 40 độ đạm" → "fish sauce".

    The term that starts earliest in the name wins, the longest among those; matched with diacritics, so that
    "na" (custard apple) is not read into "Nà Phặc".
    """
    glosses = lexicon().glosses
    words = _WORD.findall(_gloss_key(name))
    longest = 6
    for start in range(len(words)):
        for size in range(min(longest, len(words) - start), 0, -1):
            found = glosses.get(" ".join(words[start : start + size]))
            if found:
                return found
    return None
