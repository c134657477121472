"""The search vocabulary shipped as data: English lexicon, synonyms, chat words; glosses for English readers."""

from __future__ import annotations

import csv
from collections import Counter

from models.lexicon import DATA, Alternative, compatible, gloss, lexicon
from models.text import accent_key, normalize
from models.typing_keys import decodings


def rows() -> list[dict[str, str]]:
    with (DATA / "lexicon_en.csv").open(encoding="utf-8", newline="") as file:
        return list(csv.DictReader(file))


def test_the_english_lexicon_is_reviewed_data_across_the_six_groups() -> None:
    lexicon_rows = rows()
    assert len(lexicon_rows) >= 300
    groups = Counter(row["group"] for row in lexicon_rows)
    assert set(groups) == {"1", "2", "3", "4", "5", "6"} and min(groups.values()) >= 8
    assert sum(" " in row["vi"] for row in lexicon_rows) >= 100  # multi-word phrases
    assert len({row["vi"] for row in lexicon_rows}) == len(lexicon_rows)
    assert all(row["en"].strip() and row["vi"] == row["vi"].strip().lower() for row in lexicon_rows)


def test_english_phrases_plurals_and_misspellings_reach_the_vietnamese_terms() -> None:
    english = lexicon().english

    def targets(text: str) -> set[str]:
        return {" ".join(a.words) for a in english.get(tuple(normalize(text).split()), ())}

    assert "tieu den" in targets("black pepper")
    assert "nuoc mam" in targets("fish sauce") and "nuoc mam" in targets("fish sauces")  # plural made by the loader
    assert "nuoc mam" in targets("fish souce")  # a misspelling listed in the data
    assert "yen sao" in targets("bird's nest") and "yen sao" in targets("birds nest")
    assert "hat dieu" in targets("cashew nuts")
    assert {"che", "tra"} <= targets("tea")  # one English word, several Vietnamese terms


def test_every_bundled_product_has_an_english_gloss() -> None:
    with (DATA / "sample_catalogue.csv").open(encoding="utf-8", newline="") as file:
        names = [row["Tên sản phẩm"] for row in csv.DictReader(file)]
    missing = [name for name in names if not gloss(name)]
    assert missing == []
    assert gloss("Nước mắm Phú Quốc 40 độ đạm Hàm Ninh Xanh") == "fish sauce"
    assert gloss("Tiêu đen Châu Đức") == "black pepper"
    assert gloss("Rượu men lá Nà Phặc") != gloss("Na Chi Lăng")  # "Nà" (a place) is not "na" (custard apple)


def test_synonyms_are_symmetric_and_keep_their_spelling() -> None:
    lex = lexicon()
    tea = {a.words for a in lex.synonyms_of(("che",))}
    assert ("tra",) in tea and ("che",) in {a.words for a in lex.synonyms_of(("tra",))}
    pineapple = lex.synonyms_of(("dua",), (accent_key("dứa"),))
    coconut = lex.synonyms_of(("dua",), (accent_key("dừa"),))
    assert ("khom",) in {a.words for a in pineapple} and not coconut
    spelling = {a.words: a.weight for a in lex.synonyms_of(("ca", "phe"))}
    synonym = {a.words: a.weight for a in lex.synonyms_of(("heo",))}
    assert spelling[("cafe",)] == 1.0 and synonym[("lon",)] < 1.0  # a spelling is the word; a synonym ranks below


def test_compatible_spellings() -> None:
    assert compatible(None, (accent_key("dứa"),))
    assert compatible((None,), (accent_key("dứa"),))
    assert not compatible((accent_key("dừa"),), (accent_key("dứa"),))
    assert Alternative(("na",)).weight == 1.0


def test_chat_words_are_words_not_product_terms() -> None:
    lex = lexicon()
    assert ("cho", "em", "hoi") in lex.chat and ("so", "luong", "lon") in lex.chat and ("bao", "gia") in lex.chat
    # No chat phrase of several words is a product term of the lexicon: those would be dropped from every query.
    overlap = {phrase for phrase in lex.chat if len(phrase) > 1} & (lex.compounds | set(lex.synonyms))
    assert overlap == set()


def test_english_words_are_not_read_as_typing_leftovers() -> None:
    for word in ("fish", "sauce", "pepper", "black", "honey", "cashew", "dried", "coffee"):
        assert decodings(word) == (), word
