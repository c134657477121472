import pytest

from models import geography
from models.geography import PlaceKind, resolve
from models.text import fold


def test_there_are_34_units_and_63_old_provinces() -> None:
    assert len(geography.current_units()) == 34
    assert len(geography.old_provinces()) == 63
    assert sum(1 for unit in geography.current_units() if geography.unit_kind_label(unit) == "thành phố") == 6


def test_every_old_province_belongs_to_exactly_one_unit_and_region() -> None:
    for old in geography.old_provinces():
        unit = geography.current_unit_of(old)
        assert old in geography.old_provinces_of(unit)
        assert geography.old_region_of(old)
    assert sorted(o for regions in geography.OLD_REGIONS.values() for o in regions) == sorted(
        geography.old_provinces()
    )
    assert sorted(u for units in geography.NEW_REGIONS.values() for u in units) == sorted(geography.current_units())


@pytest.mark.parametrize("unit", geography.current_units())
def test_every_current_unit_resolves_in_any_spelling(unit: str) -> None:
    for spelling in (unit, unit.lower(), unit.upper(), fold(unit), f"tỉnh {unit}"):
        place = resolve(spelling).place
        assert place is not None, spelling
        assert place.kind is PlaceKind.PROVINCE
        assert place.current == unit


@pytest.mark.parametrize("old", geography.old_provinces())
def test_every_old_province_resolves_to_its_current_unit(old: str) -> None:
    for spelling in (old, fold(old), old.upper()):
        place = resolve(spelling).place
        assert place is not None, spelling
        assert place.current == geography.current_unit_of(old)
        if geography.is_merged_away(old):
            assert place.kind is PlaceKind.OLD_PROVINCE
            assert place.old_provinces == {old}


@pytest.mark.parametrize(
    ("text", "unit"),
    [
        ("HN", "Hà Nội"),
        ("HCM", "TP Hồ Chí Minh"),
        ("TP HCM", "TP Hồ Chí Minh"),
        ("tphcm", "TP Hồ Chí Minh"),
        ("Sài Gòn", "TP Hồ Chí Minh"),
        ("sg", "TP Hồ Chí Minh"),
        ("TP. Hồ Chí Minh", "TP Hồ Chí Minh"),
        ("BR-VT", "TP Hồ Chí Minh"),
        ("brvt", "TP Hồ Chí Minh"),
        ("Đắc Lắc", "Đắk Lắk"),
        ("Dak Lak", "Đắk Lắk"),
        ("Đắc Nông", "Lâm Đồng"),
        ("Hoà Bình", "Phú Thọ"),
        ("Thừa Thiên Huế", "Huế"),
        ("TT Huế", "Huế"),
        ("Sóc Trăng", "Cần Thơ"),
        ("ha giang", "Tuyên Quang"),
        ("thành phố Đà Nẵng", "Đà Nẵng"),
    ],
)
def test_aliases_and_variants(text: str, unit: str) -> None:
    place = resolve(text).place
    assert place is not None
    assert place.current == unit


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("dn", {"Đà Nẵng", "Đồng Nai", "Đắk Nông"}),
        ("QN", {"Quảng Ninh", "Quảng Nam", "Quảng Ngãi"}),
        ("hg", {"Hà Giang", "Hậu Giang"}),
    ],
)
def test_colliding_short_forms_are_ambiguous(text: str, names: set[str]) -> None:
    resolution = resolve(text)
    assert resolution.ambiguous
    assert resolution.place is None
    assert {place.name for place in resolution.candidates} == names


@pytest.mark.parametrize(
    ("text", "covers", "excludes"),
    [
        ("miền Tây", {"Cần Thơ", "An Giang", "Cà Mau"}, {"TP Hồ Chí Minh"}),
        ("ĐBSCL", {"Vĩnh Long", "Đồng Tháp"}, {"Tây Ninh"}),
        ("Nam Bộ", {"TP Hồ Chí Minh", "Cần Thơ", "Tây Ninh"}, {"Đà Nẵng"}),
        ("miền Bắc", {"Hà Nội", "Lào Cai", "Quảng Ninh"}, {"Thanh Hóa"}),
        ("các tỉnh miền núi phía Bắc", {"Lào Cai", "Sơn La", "Tuyên Quang"}, {"Hà Nội"}),
        ("Tây Nguyên", {"Đắk Lắk", "Gia Lai", "Lâm Đồng"}, {"Huế"}),
        ("miền Trung", {"Huế", "Đà Nẵng", "Khánh Hòa"}, {"Hà Nội"}),
        ("đồng bằng sông Hồng", {"Hà Nội", "Hải Phòng", "Ninh Bình"}, {"Lào Cai"}),
    ],
)
def test_regions_and_groupings(text: str, covers: set[str], excludes: set[str]) -> None:
    place = resolve(text).place
    assert place is not None
    assert place.kind in (PlaceKind.REGION, PlaceKind.GROUPING)
    assert covers <= place.provinces
    assert not excludes & place.provinces


def test_tay_nguyen_keeps_old_provinces_absorbed_elsewhere() -> None:
    place = resolve("Tây Nguyên").place
    assert place is not None
    assert {"Kon Tum", "Đắk Nông"} <= place.old_provinces


@pytest.mark.parametrize("text", ["", "   ", "xyz", "che", "mật ong", "na", "la"])
def test_non_places_resolve_to_nothing(text: str) -> None:
    assert resolve(text).candidates == ()


def test_regions_of_units() -> None:
    assert geography.region_of("Cần Thơ") == "Đồng bằng sông Cửu Long"
    assert geography.region_of("Huế") == "Bắc Trung Bộ"
    assert geography.old_region_of("Kon Tum") == "Tây Nguyên"
