"""Decoding Vietnamese typed with Telex, VNI or VIQR keys left in (models/typing_keys.py). No database."""

from __future__ import annotations

import csv
import re
import time
import unicodedata
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models import typing_keys
from models.typing_keys import (
    decode_telex,
    decode_viqr,
    decode_vni,
    decodings,
    encode_telex,
    encode_viqr,
    encode_vni,
)

CATALOGUE = Path(__file__).resolve().parent.parent / "models" / "data" / "sample_catalogue.csv"
DECODERS = (decode_telex, decode_vni, decode_viqr)
METHODS = [
    pytest.param(encode_telex, decode_telex, id="telex"),
    pytest.param(encode_vni, decode_vni, id="vni"),
    pytest.param(encode_viqr, decode_viqr, id="viqr"),
]


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("mawts", "mắt"),
        ("matws", "mắt"),
        ("maatj", "mật"),
        ("gaoj", "gạo"),
        ("ddaats", "đất"),
        ("ddi", "đi"),
        ("nuwowcs", "nước"),
        ("nuowcs", "nước"),
        ("nuocws", "nước"),
        ("nuocsw", "nước"),
        ("ruowuj", "rượu"),
        ("ruouwj", "rượu"),
        ("duongwf", "dường"),
        ("dduwowngf", "đường"),
        ("nguwowif", "người"),
        ("tw", "tư"),
        ("nhw", "như"),
        ("wf", "ừ"),
        ("muaw", "mưa"),
        ("chef", "chè"),
        ("thais", "thái"),
        ("tafn", "tàn"),
        ("nguyeenx", "nguyễn"),
        ("hoaf", "hòa"),
        ("thuyr", "thủy"),
        ("cuar", "của"),
        ("quys", "quý"),
        ("quoocs", "quốc"),
        ("giuwax", "giữa"),
        ("gif", "gì"),
        ("ginf", "gìn"),
        ("hoangf", "hoàng"),
        ("thuowr", "thuở"),
        ("nghieengf", "nghiềng"),
        ("tuooir", "tuổi"),
        ("khuyeens", "khuyến"),
        ("ngoaif", "ngoài"),
        ("khuyur", "khuỷu"),
        ("hoawcj", "hoặc"),
        ("hoacwj", "hoặc"),
        ("tieengs", "tiếng"),
        ("xoaif", "xoài"),
        ("sauf", "sàu"),
        ("rauj", "rạu"),
        ("trangw", "trăng"),
        ("ddaatzj", "đật"),  # a correction: the last tone key wins
        ("caz", "ca"),
        ("Vieetj", "Việt"),
        ("VIEETJ", "VIỆT"),
        ("DDawks", "Đắk"),
        ("Kajn", "Kạn"),
    ],
)
def test_telex(typed: str, expected: str) -> None:
    assert decode_telex(typed) == expected


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("che2", "chè"),
        ("tha1i", "thái"),
        ("thai1", "thái"),
        ("che6", "chê"),
        ("ma6t5", "mật"),
        ("mat65", "mật"),
        ("nu7o7c1", "nước"),
        ("nuo7c1", "nước"),
        ("nuoc71", "nước"),
        ("ruou75", "rượu"),  # the horn typed after uou belongs to uo
        ("d9a60t5", "đật"),  # 0 removes the tone, the 5 after it sets nặng
        ("d9i", "đi"),
        ("Vie65t", "Việt"),
        ("viet65", "việt"),
        ("hoa2", "hòa"),
        ("quo73", "quở"),
        ("qu7o73", None),  # the u of qu takes no horn
        ("thuo73", "thuở"),
        ("ru7o7u5", "rượu"),
        ("mu7a", "mưa"),
        ("ti6en", "tiên"),
        ("gia2", "già"),
        ("D9A6T1", "ĐẤT"),
    ],
)
def test_vni(typed: str, expected: str | None) -> None:
    assert decode_vni(typed) == expected


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("ma^.t", "mật"),
        ("ma^t.", "mật"),
        ("Vie^.t", "Việt"),
        ("to^'i", "tối"),
        ("o^ng", "ông"),
        ("nu+o+'c", "nước"),
        ("ngu+o+`i", "người"),
        ("thuo+?", "thuở"),
        ("a(n", "ăn"),
        ("ddi", "đi"),
        ("DDi", "Đi"),
        ("DDI", "ĐI"),
        ("ho`a", "hòa"),
        ("hoa`", "hòa"),
        ("ca?", "cả"),  # a trailing ? or . decodes when the rest is a syllable; the caller decides
        ("mat.", "mạt"),
        ("ok.", None),
        ("can't", None),
        ("i^", None),
        ("ma'.", None),  # one tone mark only
    ],
)
def test_viqr(typed: str, expected: str | None) -> None:
    assert decode_viqr(typed) == expected


@pytest.mark.parametrize("typed", ["hòa", "thủy", "của", "quý", "giữa", "người", "khuya", "hoàng", "thuở"])
def test_tone_placement_is_traditional(typed: str) -> None:
    """Each method, whatever vowel the tone key followed, puts the tone where the catalogue has it."""
    for encode, decode in ((encode_telex, decode_telex), (encode_vni, decode_vni), (encode_viqr, decode_viqr)):
        encoded = encode(typed)
        assert decode(encoded) == (None if encoded == typed else typed)
    assert decode_viqr("hoa`") == decode_viqr("ho`a") == "hòa"
    assert decode_viqr("thuy?") == decode_viqr("thu?y") == "thủy"
    assert decode_viqr("qu'y") == decode_viqr("quy'") == "quý"
    assert decode_viqr("giu+~a") == decode_viqr("giu+a~") == "giữa"


@pytest.mark.parametrize(
    "word",
    ["ca", "che thai", "st25", "40", "3in1", "500kg", "a1b2c3", "fish", "dried", "sauce", "pepper", "black",
     "honey", "cashew", "coffee", "chess", "water", "paper"],
)  # fmt: skip
def test_words_without_a_decoding(word: str) -> None:
    assert decodings(word) == ()
    assert all(decode(word) is None for decode in DECODERS)


def test_a_method_that_changes_nothing_gives_none() -> None:
    assert decode_telex("ca") is None
    assert decode_vni("ca") is None
    assert decode_viqr("ca") is None
    assert decode_telex("nguyen") is None
    assert decodings("Ca") == ()


def test_stop_finals_take_only_sac_nang_or_no_tone() -> None:
    assert decode_telex("hatf") is None
    assert decode_telex("hatr") is None
    assert decode_telex("hats") == "hát"
    assert decode_telex("maat") == "mât"  # no tone typed: kept, as typists often leave tones out


def test_decodings_keeps_distinct_results_in_method_order(monkeypatch: pytest.MonkeyPatch) -> None:
    assert decodings("ddi") == ("đi",)  # Telex and VIQR agree: one result
    assert decodings("mawts") == ("mắt",)
    assert decodings("che2") == ("chè",)
    assert decodings("ma^.t") == ("mật",)
    monkeypatch.setattr(typing_keys, "decode_telex", lambda word: "tê")
    monkeypatch.setattr(typing_keys, "decode_vni", lambda word: "vê")
    monkeypatch.setattr(typing_keys, "decode_viqr", lambda word: "tê")
    assert decodings("x") == ("tê", "vê")
    monkeypatch.setattr(typing_keys, "decode_telex", lambda word: "X")
    assert decodings("x") == ("vê", "tê")  # the input itself is no decoding


HOSTILE = ["", " ", "1234", "🙂", "mật🙂", "\x00\x01\x7f", "a" * 10_000, "ma^.t" * 2_000, "\u0301" * 50, "İ", "ǅ",
           "dd" * 5_000, "\ud800", "nuwowcs\n", "nuwowcs ", "ﬁsh", "ｍａｗｔｓ"]  # fmt: skip


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_input_gives_nothing_fast(text: str) -> None:
    started = time.perf_counter()
    assert decodings(text) == ()
    assert all(decode(text) is None for decode in DECODERS)
    assert time.perf_counter() - started < 0.05


def test_the_encoders() -> None:
    assert encode_telex("mật") == "maatj"
    assert encode_telex("nước") == "nuwowcs"
    assert encode_telex("đường") == "dduwowngf"
    assert encode_telex("Việt") == "Vieetj"
    assert encode_telex("VIỆT") == "VIEETJ"
    assert encode_vni("mật") == "ma6t5"
    assert encode_vni("nước") == "nu7o7c1"
    assert encode_vni("đi") == "d9i"
    assert encode_viqr("mật") == "ma^.t"
    assert encode_viqr("nước") == "nu+o+'c"
    assert encode_viqr("Đi") == "DDi"
    assert encode_viqr("ăn") == "a(n"
    decomposed = unicodedata.normalize("NFD", "mật")
    assert encode_telex(decomposed) == "maatj"


# ---- Round trips -------------------------------------------------------------------------------------------------
# Syllable tables written for the tests, apart from the module's: a rhyme marks the vowel that takes the tone with *.

TONE_MARKS = ["", "\u0301", "\u0300", "\u0309", "\u0303", "\u0323"]  # none, sắc, huyền, hỏi, ngã, nặng
OPEN_RHYMES = """a* a*i a*o a*u a*y â*u â*y e* e*o ê* ê*u i* i*a i*u iê*u o* o*a oa*i oa*y o*e oe*o o*i ô* ô*i ơ*
    ơ*i u* u*a uâ*y uê* u*i uô*i uơ* u*y uy*a uy*u ư* ư*a ư*i ư*u ươ*i ươ*u y*""".split()
CLOSED_RHYMES = """a*c ă*c â*c e*c o*c ô*c u*c ư*c iê*c uô*c ươ*c oa*c oă*c a*ch ê*ch i*ch oa*ch uê*ch uy*ch
    a*m ă*m â*m e*m ê*m i*m o*m ô*m ơ*m u*m iê*m uô*m ươ*m oa*m oă*m
    a*n ă*n â*n e*n ê*n i*n o*n ô*n ơ*n u*n iê*n uô*n ươ*n oa*n oă*n oe*n uâ*n uyê*n
    a*ng ă*ng â*ng e*ng ê*ng o*ng ô*ng u*ng ư*ng iê*ng uô*ng ươ*ng oa*ng oă*ng uâ*ng
    a*nh ê*nh i*nh oa*nh uê*nh uy*nh a*p ă*p â*p e*p ê*p i*p o*p ô*p ơ*p u*p iê*p ươ*p oa*p
    a*t ă*t â*t e*t ê*t i*t o*t ô*t ơ*t u*t ư*t iê*t uô*t ươ*t oa*t oă*t oe*t uâ*t uyê*t uy*t""".split()
BARE_RHYMES = "yê*u yê*n yê*m yê*t yê*ng".split()  # only with no initial consonant
QU_RHYMES = "a* a*i a*n a*ng a*nh a*t a*y ă*n ă*ng ă*t â*n â*t â*y e* e*n e*t e*o ê* ê*n ê*t y* y*nh y*t yê*n yê*t ô*c"
GI_RHYMES = """a* a*c a*i a*m a*n a*ng a*o a*t a*u a*y ă*c ă*m ă*n ă*ng ă*t â*m â*n â*p â*t â*u â*y e* e*o e*t ê* ê*ng
    o* o*c o*i o*n o*ng ô* ô*ng ô*i ơ* ơ*i u* u*p u*c ư* ư*a ươ*ng ươ*c"""
ANY_VOWEL = ["", "b", "ch", "d", "đ", "h", "kh", "l", "m", "n", "nh", "ph", "r", "s", "t", "th", "tr", "v", "x"]
BACK_VOWEL = ["c", "g", "ng"]  # not before e, ê, i, y
FRONT_VOWEL = ["k", "gh", "ngh"]  # only before e, ê, i
REAL_SYLLABLES = """
    hòa thủy của quý giữa người khuya hoàng thuở nghiêng tuổi khuyến khỏe hoặc khuỷu ngoài xoáy khuây quyết quyển
    quốc quỳnh quýt quăng quân quê quên quơ quở giường giếng gì gìn gió già giấy giữ giặt giỏi thuê huế tuyết chuyện yêu yến
    yên yếm ước ưu ừ ở ấy ông ăn uống rượu hươu bưởi mướp lớp họp bếp ếch xích kịch huỳnh huỵch huýt suýt khuâng
    ngoằn ngoạm oách oái uể mật ong chè thái nguyên nước mắm gạo nếp tám thơm cà phê hạt điều tiêu đen sữa bánh kẹo
    dừa trà xanh nhãn lồng vải thiều bưởi da cam sành xoài cát chu rau củ quả măng khô miến dong bún phở mì trứng
    vịt muối tôm khô cá mực nấm hương linh chi sâm ngọc linh đông trùng hạ thảo gừng nghệ tỏi ớt sả chanh dây ổi mận
    hậu táo mèo đào lê chuối ngự dứa đậu phộng vừng mè lạc dầu dưa hấu khoai lang tím sắn dẻo mứt gừng nem chua giò
    chả lụa bò gà đồi lợn rừng dê núi thịt trâu gác bếp lạp xưởng cốm làng vòng bánh cuốn tráng gương đá dệt thổ cẩm
    mây tre đan gốm sứ chén bát đĩa lọ hoa sơn mài khảm trai lụa tơ tằm nón lá chiếu cói đèn lồng tranh đông hồ
    hà nội hải phòng đà nẵng cần thơ huế quảng ninh lạng sơn cao bằng hà giang lào cai yên bái điện biên sơn la
    thái bình nam định ninh bình thanh hóa nghệ an hà tĩnh quảng bình quảng trị khánh hòa lâm đồng đắk lắk gia lai
    kon tum bình dương đồng nai tây ninh long an tiền giang bến tre vĩnh long trà vinh sóc trăng bạc liêu cà mau
    kiên giang an giang đồng tháp hậu giang phú quốc côn đảo tân cương mộc châu bắc kạn tuyên quang phú thọ
    ngoẹo oẳn khuỵu nguệch huênh khoét thoăn thoắt hoẵng loằng ngoằng xuềnh xoàng luẩn quẩn
"""


def with_tone(template: str, tone: int) -> str:
    """The rhyme with the tone mark on the vowel before the star: ("o*a", 2) → "òa"."""
    vowel = template.index("*") - 1
    marked = unicodedata.normalize("NFC", template[vowel] + TONE_MARKS[tone])
    return template[:vowel] + marked + template[vowel + 2 :]


def tones_for(rhyme: str) -> list[int]:
    return [0, 1, 5] if rhyme.endswith(("c", "ch", "p", "t")) else [0, 1, 2, 3, 4, 5]


@st.composite
def generated_syllables(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["any", "back", "front", "bare", "qu", "gi"]))
    rhymes = OPEN_RHYMES + CLOSED_RHYMES
    if kind == "bare":
        initial, rhyme = "", draw(st.sampled_from(BARE_RHYMES + [r for r in rhymes if not r.startswith("iê")]))
    elif kind == "qu":
        initial, rhyme = "qu", draw(st.sampled_from(QU_RHYMES.split()))
    elif kind == "gi":
        initial, rhyme = "gi", draw(st.sampled_from(GI_RHYMES.split()))
    elif kind == "back":
        initial = draw(st.sampled_from(BACK_VOWEL))
        rhyme = draw(st.sampled_from([r for r in rhymes if r[0] not in "eêiy"]))
    elif kind == "front":
        initial = draw(st.sampled_from(FRONT_VOWEL))
        rhyme = draw(st.sampled_from([r for r in rhymes if r[0] in "eêi" or (initial == "k" and r[0] == "y")]))
    else:
        initial = draw(st.sampled_from(ANY_VOWEL))
        rhyme = draw(st.sampled_from([r for r in rhymes if initial or not r.startswith("iê")]))
    return initial + with_tone(rhyme, draw(st.sampled_from(tones_for(rhyme))))


def has_marks(word: str) -> bool:
    """Whether a word has a tone, a diacritic or đ: otherwise no method has keys to type for it."""
    return not word.isascii()


syllables = st.one_of(st.sampled_from(REAL_SYLLABLES.split()), generated_syllables())
cased = st.tuples(syllables, st.sampled_from([str.lower, str.capitalize, str.upper])).map(lambda p: p[1](p[0]))


@pytest.mark.parametrize(("encode", "decode"), METHODS)
@settings(max_examples=300, deadline=None)
@given(word=cased)
def test_round_trip(encode: Callable[[str], str], decode: Callable[[str], str | None], word: str) -> None:
    typed = encode(word)
    if has_marks(word):
        assert decode(typed) == word, typed
        assert word in decodings(typed)
    else:
        assert typed == word
        assert decode(typed) is None


def test_every_table_syllable_round_trips() -> None:
    """The whole generated table, not just a sample, for each method (a few thousand syllables)."""
    words = set(REAL_SYLLABLES.split())
    for initials, rhymes in (
        (ANY_VOWEL, OPEN_RHYMES + CLOSED_RHYMES),
        (BACK_VOWEL, [r for r in OPEN_RHYMES + CLOSED_RHYMES if r[0] not in "eêiy"]),
        (FRONT_VOWEL, [r for r in OPEN_RHYMES + CLOSED_RHYMES if r[0] in "eêi"]),
        ([""], BARE_RHYMES),
        (["qu"], QU_RHYMES.split()),
        (["gi"], GI_RHYMES.split()),
    ):
        for initial in initials:
            for rhyme in rhymes:
                if initial or not rhyme.startswith("iê"):
                    words.update(initial + with_tone(rhyme, tone) for tone in tones_for(rhyme))
    failures = [
        (word, encode(word), decode(encode(word)))
        for word in sorted(words)
        if has_marks(word)
        for encode, decode in ((encode_telex, decode_telex), (encode_vni, decode_vni), (encode_viqr, decode_viqr))
        if decode(encode(word)) != word
    ]
    assert len(words) > 5_000
    assert failures == []


NEW_STYLE = re.compile(r"(?<![qQ])([oOuU])([àáảãạÀÁẢÃẠèéẻẽẹÈÉẺẼẸỳýỷỹỵỲÝỶỸỴ])$")


def traditional(word: str) -> str:
    """Tone placement in the traditional style the module produces: hoà → hòa, thuỷ → thủy, khoẻ → khỏe."""

    def move(match: re.Match[str]) -> str:
        first, second = match[1], unicodedata.normalize("NFD", match[2])
        return unicodedata.normalize("NFC", first + second[1]) + second[0]

    return NEW_STYLE.sub(move, word)


def catalogue_words() -> list[str]:
    with CATALOGUE.open(encoding="utf-8", newline="") as handle:
        names = [row["Tên sản phẩm"] for row in csv.DictReader(handle)]
    return sorted({traditional(w) for name in names for w in re.findall(r"\w+", name) if has_marks(w)})


def test_traditional_style() -> None:
    assert [traditional(w) for w in ["hoà", "Thuỷ", "khoẻ", "hoạ", "quý", "hòa", "hoàng"]] == [
        "hòa", "Thủy", "khỏe", "họa", "quý", "hòa", "hoàng",
    ]  # fmt: skip


@pytest.mark.parametrize(("encode", "decode"), METHODS)
def test_catalogue_words_round_trip(encode: Callable[[str], str], decode: Callable[[str], str | None]) -> None:
    """Every accented word of the bundled product names (the file already uses the traditional style)."""
    words = catalogue_words()
    assert len(words) > 500
    assert "Đắk" in words and "Kạn" in words and "Krông" in words  # minority place names are accepted
    assert [(w, encode(w), decode(encode(w))) for w in words if decode(encode(w)) != w] == []


@settings(max_examples=500, deadline=None)
@given(text=st.text() | st.text(alphabet="abcdeghiklmnopqrstuvwxyzDW0123456789^(+'`?~.đ ", max_size=14))
def test_decoders_never_raise(text: str) -> None:
    for decode in DECODERS:
        decoded = decode(text)
        assert decoded is None or (decoded and unicodedata.is_normalized("NFC", decoded))
    assert all(unicodedata.is_normalized("NFC", d) for d in decodings(text))
