from hypothesis import given
from hypothesis import strategies as st

from models.text import clean, fold, normalize, words


def test_tones_case_and_d_are_folded() -> None:
    assert fold("Đắk Lắk") == "dak lak"
    assert normalize("Chè Thái Nguyên") == normalize("che thai nguyen") == "che thai nguyen"
    assert normalize("ĐẶC SẢN") == "dac san"


def test_tone_placement_variants_are_equal() -> None:
    assert normalize("Hoà Bình") == normalize("Hòa Bình") == "hoa binh"
    assert normalize("Khánh Hoà") == normalize("Khánh Hòa")
    assert normalize("thuỷ sản") == normalize("thủy sản")


def test_decomposed_input_is_composed_first() -> None:
    decomposed = "Ha\u0300 No\u0323\u0302i"  # "Hà Nội" typed with combining marks
    assert normalize(decomposed) == "ha noi"


def test_administrative_abbreviations_are_expanded() -> None:
    assert normalize("TP. Hồ Chí Minh") == normalize("Thành phố Hồ Chí Minh") == "thanh pho ho chi minh"
    assert normalize("p. Ba Đình, q.Ba Đình") == "phuong ba dinh quan ba dinh"
    assert normalize("x. Tân Cương, h. Đại Từ") == "xa tan cuong huyen dai tu"
    assert normalize("HTX chè") == "hop tac xa che"
    assert normalize("Cty TNHH") == "cong ty trach nhiem huu han"


def test_punctuation_emoji_and_control_characters_become_separators() -> None:
    assert normalize("mật ong😀\x00 bạc-hà!!") == "mat ong bac ha"
    assert normalize("   ") == ""
    assert words("Nước mắm 40°N") == ["nuoc", "mam", "40", "n"]


def test_clean_keeps_diacritics_for_display() -> None:
    assert clean("  Chè\tThái\n Nguyên ") == "Chè Thái Nguyên"


@given(st.text())
def test_normalize_is_idempotent_and_total(text: str) -> None:
    once = normalize(text)
    assert normalize(once) == once
    assert once == once.strip()
    assert "  " not in once


@given(st.text(alphabet=st.characters(codec="utf-8")))
def test_fold_never_raises_and_is_idempotent(text: str) -> None:
    assert fold(fold(text)) == fold(text)
