"""Vietnam's provinces before and after the 2025-07-01 merger, regions, event groupings and aliases.

Facts from Resolution 202/2025/QH15 (63 → 34 units) and the regional lists; see docs/ARCHITECTURE.md.
Join old and new data on names, never on province codes (several codes were reused by new units).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache

from models.text import normalize

# The 34 units from 2025-07-01: name -> (is a centrally-run city, old provinces absorbed besides its namesake).
CURRENT_UNITS: dict[str, tuple[bool, tuple[str, ...]]] = {
    "Hà Nội": (True, ()),
    "Huế": (True, ()),
    "Lai Châu": (False, ()),
    "Điện Biên": (False, ()),
    "Sơn La": (False, ()),
    "Lạng Sơn": (False, ()),
    "Quảng Ninh": (False, ()),
    "Thanh Hóa": (False, ()),
    "Nghệ An": (False, ()),
    "Hà Tĩnh": (False, ()),
    "Cao Bằng": (False, ()),
    "Tuyên Quang": (False, ("Hà Giang",)),
    "Lào Cai": (False, ("Yên Bái",)),
    "Thái Nguyên": (False, ("Bắc Kạn",)),
    "Phú Thọ": (False, ("Vĩnh Phúc", "Hòa Bình")),
    "Bắc Ninh": (False, ("Bắc Giang",)),
    "Hưng Yên": (False, ("Thái Bình",)),
    "Hải Phòng": (True, ("Hải Dương",)),
    "Ninh Bình": (False, ("Hà Nam", "Nam Định")),
    "Quảng Trị": (False, ("Quảng Bình",)),
    "Đà Nẵng": (True, ("Quảng Nam",)),
    "Quảng Ngãi": (False, ("Kon Tum",)),
    "Gia Lai": (False, ("Bình Định",)),
    "Khánh Hòa": (False, ("Ninh Thuận",)),
    "Lâm Đồng": (False, ("Đắk Nông", "Bình Thuận")),
    "Đắk Lắk": (False, ("Phú Yên",)),
    "TP Hồ Chí Minh": (True, ("Bình Dương", "Bà Rịa - Vũng Tàu")),
    "Đồng Nai": (False, ("Bình Phước",)),
    "Tây Ninh": (False, ("Long An",)),
    "Cần Thơ": (True, ("Sóc Trăng", "Hậu Giang")),
    "Vĩnh Long": (False, ("Bến Tre", "Trà Vinh")),
    "Đồng Tháp": (False, ("Tiền Giang",)),
    "Cà Mau": (False, ("Bạc Liêu",)),
    "An Giang": (False, ("Kiên Giang",)),
}

# Old provinces whose name differs from the unit that kept their territory unchanged.
_RENAMED = {"Thừa Thiên Huế": "Huế"}

OLD_REGIONS: dict[str, tuple[str, ...]] = {
    "Trung du và miền núi phía Bắc": (
        "Hà Giang", "Cao Bằng", "Lạng Sơn", "Bắc Giang", "Phú Thọ", "Thái Nguyên", "Bắc Kạn",
        "Tuyên Quang", "Lào Cai", "Yên Bái", "Lai Châu", "Sơn La", "Điện Biên", "Hòa Bình",
    ),
    "Đồng bằng sông Hồng": (
        "Hà Nội", "Hải Phòng", "Hải Dương", "Hưng Yên", "Vĩnh Phúc", "Bắc Ninh", "Thái Bình", "Nam Định",
        "Hà Nam", "Ninh Bình", "Quảng Ninh",
    ),
    "Bắc Trung Bộ và duyên hải miền Trung": (
        "Thanh Hóa", "Nghệ An", "Hà Tĩnh", "Quảng Bình", "Quảng Trị", "Thừa Thiên Huế", "Đà Nẵng",
        "Quảng Nam", "Quảng Ngãi", "Bình Định", "Phú Yên", "Khánh Hòa", "Ninh Thuận", "Bình Thuận",
    ),
    "Tây Nguyên": ("Kon Tum", "Gia Lai", "Đắk Lắk", "Đắk Nông", "Lâm Đồng"),
    "Đông Nam Bộ": ("TP Hồ Chí Minh", "Đồng Nai", "Bà Rịa - Vũng Tàu", "Bình Dương", "Bình Phước", "Tây Ninh"),
    "Đồng bằng sông Cửu Long": (
        "Cần Thơ", "Long An", "Tiền Giang", "Bến Tre", "Trà Vinh", "Vĩnh Long", "An Giang", "Đồng Tháp",
        "Kiên Giang", "Hậu Giang", "Sóc Trăng", "Bạc Liêu", "Cà Mau",
    ),
}

NEW_REGIONS: dict[str, tuple[str, ...]] = {
    "Trung du và miền núi phía Bắc": (
        "Lạng Sơn", "Cao Bằng", "Thái Nguyên", "Tuyên Quang", "Phú Thọ", "Lào Cai", "Lai Châu", "Điện Biên",
        "Sơn La",
    ),
    "Đồng bằng sông Hồng": ("Hà Nội", "Hải Phòng", "Ninh Bình", "Hưng Yên", "Bắc Ninh", "Quảng Ninh"),
    "Bắc Trung Bộ": ("Thanh Hóa", "Nghệ An", "Hà Tĩnh", "Quảng Trị", "Huế"),
    "Duyên hải Nam Trung Bộ và Tây Nguyên": (
        "Đà Nẵng", "Quảng Ngãi", "Gia Lai", "Đắk Lắk", "Khánh Hòa", "Lâm Đồng",
    ),
    "Đông Nam Bộ": ("TP Hồ Chí Minh", "Đồng Nai", "Tây Ninh"),
    "Đồng bằng sông Cửu Long": ("Cần Thơ", "Vĩnh Long", "Đồng Tháp", "An Giang", "Cà Mau"),
}

# Broader groupings used to theme trade-connection events and in everyday speech, as unions of old regions.
GROUPINGS: dict[str, tuple[str, ...]] = {
    "Miền Bắc": ("Trung du và miền núi phía Bắc", "Đồng bằng sông Hồng"),
    "Miền Trung": ("Bắc Trung Bộ và duyên hải miền Trung",),
    "Miền Trung và Tây Nguyên": ("Bắc Trung Bộ và duyên hải miền Trung", "Tây Nguyên"),
    "Nam Bộ": ("Đông Nam Bộ", "Đồng bằng sông Cửu Long"),
}

# Hand-written aliases: key (any spelling; normalised on load) -> place name as listed above.
_ALIASES: dict[str, str] = {
    "HN": "Hà Nội", "Hanoi": "Hà Nội", "Thủ đô": "Hà Nội",
    "HCM": "TP Hồ Chí Minh", "TPHCM": "TP Hồ Chí Minh", "TP HCM": "TP Hồ Chí Minh",
    "HCMC": "TP Hồ Chí Minh", "Ho Chi Minh City": "TP Hồ Chí Minh", "Sài Gòn": "TP Hồ Chí Minh",
    "SG": "TP Hồ Chí Minh", "Saigon": "TP Hồ Chí Minh", "Hồ Chí Minh": "TP Hồ Chí Minh",
    "BRVT": "Bà Rịa - Vũng Tàu", "BR-VT": "Bà Rịa - Vũng Tàu", "Bà Rịa": "Bà Rịa - Vũng Tàu",
    "Vũng Tàu": "Bà Rịa - Vũng Tàu",
    "TT Huế": "Thừa Thiên Huế", "TTH": "Thừa Thiên Huế", "Thừa Thiên - Huế": "Thừa Thiên Huế",
    "Đắc Lắc": "Đắk Lắk", "Đắk Lăk": "Đắk Lắk", "Đắk Lắc": "Đắk Lắk", "Đắc Lắk": "Đắk Lắk", "Daklak": "Đắk Lắk",
    "Đắc Nông": "Đắk Nông",
    "Daknong": "Đắk Nông", "Bắc Cạn": "Bắc Kạn", "Kontum": "Kon Tum", "Thanh Hoá": "Thanh Hóa",
    "Hoà Bình": "Hòa Bình", "Khánh Hoà": "Khánh Hòa", "Lao Cai": "Lào Cai",
    "Đà Nẵng city": "Đà Nẵng", "Da Nang": "Đà Nẵng",
    "ĐBSCL": "Đồng bằng sông Cửu Long", "Miền Tây": "Đồng bằng sông Cửu Long",
    "Miền Tây Nam Bộ": "Đồng bằng sông Cửu Long", "Tây Nam Bộ": "Đồng bằng sông Cửu Long",
    "Mekong Delta": "Đồng bằng sông Cửu Long", "Cửu Long": "Đồng bằng sông Cửu Long",
    "ĐBSH": "Đồng bằng sông Hồng", "ĐB sông Hồng": "Đồng bằng sông Hồng", "Red River Delta": "Đồng bằng sông Hồng",
    "Miền núi phía Bắc": "Trung du và miền núi phía Bắc", "Các tỉnh miền núi phía Bắc": "Trung du và miền núi phía Bắc",
    "Vùng núi phía Bắc": "Trung du và miền núi phía Bắc", "Núi phía Bắc": "Trung du và miền núi phía Bắc",
    "Trung du miền núi phía Bắc": "Trung du và miền núi phía Bắc",
    "Tây Bắc": "Trung du và miền núi phía Bắc", "Đông Bắc": "Trung du và miền núi phía Bắc",
    "Northern mountains": "Trung du và miền núi phía Bắc",
    "Bắc Bộ": "Miền Bắc", "Northern Vietnam": "Miền Bắc", "North": "Miền Bắc",
    "Trung Bộ": "Miền Trung", "Central Vietnam": "Miền Trung", "Duyên hải miền Trung": "Miền Trung",
    "Miền Trung - Tây Nguyên": "Miền Trung và Tây Nguyên", "Central Highlands": "Tây Nguyên",
    "Miền Nam": "Nam Bộ", "Khu vực Nam Bộ": "Nam Bộ", "Southern Vietnam": "Nam Bộ", "South": "Nam Bộ",
    # Everyday names of provinces ("mắm tôm xứ Thanh", "tôm khô đất Mũi").
    "Hà thành": "Hà Nội", "Xứ Đoài": "Hà Nội", "Đất Cảng": "Hải Phòng",
    "Thành phố Cảng": "Hải Phòng", "Xứ Thanh": "Thanh Hóa", "Xứ Nghệ": "Nghệ An", "Xứ Lạng": "Lạng Sơn",
    "Kinh Bắc": "Bắc Ninh", "Đất Tổ": "Phú Thọ", "Xứ Huế": "Huế", "Xứ Quảng": "Quảng Nam", "Tây Đô": "Cần Thơ",
    "Xứ Dừa": "Bến Tre", "Đất Mũi": "Cà Mau", "Mũi Cà Mau": "Cà Mau",
}

# Initials of two- and three-word names that are also everyday words, never read as places.
_INITIALS_NOT_PLACES = frozenset({"na", "la", "th", "tt", "tp", "tx", "ca", "an", "kg", "sl", "sp"})

# Prefixes people put before a place name; "tinh thai nguyen" resolves like "thai nguyen".
_PREFIXES = ("thanh pho ", "tinh ", "vung ", "khu vuc ", "cac tinh ", "mien ")


class PlaceKind(StrEnum):
    PROVINCE = "province"  # one of the 34 current units
    OLD_PROVINCE = "old_province"  # one of the 63 provinces before the merger, merged away
    REGION = "region"  # a socio-economic region (old or new list)
    GROUPING = "grouping"  # a broader grouping (miền Bắc, Nam Bộ, ...)


@dataclass(frozen=True)
class Place:
    """A resolved place and the provinces it covers, both current units and old provinces."""

    kind: PlaceKind
    name: str
    provinces: frozenset[str] = field(compare=False)  # current units
    old_provinces: frozenset[str] = field(compare=False)

    @property
    def current(self) -> str | None:
        """The current unit, for a province or an old province."""
        if self.kind in (PlaceKind.PROVINCE, PlaceKind.OLD_PROVINCE):
            return next(iter(self.provinces))
        return None


@dataclass(frozen=True)
class Resolution:
    """What a piece of text names: nothing, exactly one place, or several (ask which)."""

    text: str
    candidates: tuple[Place, ...]

    @property
    def place(self) -> Place | None:
        return self.candidates[0] if len(self.candidates) == 1 else None

    @property
    def ambiguous(self) -> bool:
        return len(self.candidates) > 1


def current_unit_of(old_province: str) -> str:
    """The current unit an old province belongs to (its own name when unchanged)."""
    return _OLD_TO_NEW[old_province]


def old_provinces_of(unit: str) -> tuple[str, ...]:
    """The old provinces that make up a current unit, namesake first."""
    return _NEW_TO_OLD[unit]


def region_of(unit: str) -> str:
    """The (new) socio-economic region of a current unit."""
    return _UNIT_REGION[unit]


def old_region_of(old_province: str) -> str:
    return _OLD_REGION[old_province]


def is_merged_away(old_province: str) -> bool:
    """True for an old province that no longer exists under its own name."""
    return old_province not in CURRENT_UNITS


def unit_kind_label(unit: str) -> str:
    """"thành phố" for the six centrally-run cities, "tỉnh" otherwise."""
    return "thành phố" if CURRENT_UNITS[unit][0] else "tỉnh"


def resolve(text: str) -> Resolution:
    """Resolve a place name in any spelling: with or without diacritics, old or new, alias or initials."""
    return Resolution(text, lookup_key(normalize(text)))


def lookup_key(key: str) -> tuple[Place, ...]:
    """Places for an already-normalised key; empty when it names none."""
    index = _index()
    if key in index:
        return index[key]
    for prefix in _PREFIXES:
        if key.startswith(prefix) and key[len(prefix):] in index:
            return index[key[len(prefix):]]
    return ()


def all_keys() -> frozenset[str]:
    """Every normalised key that names a place, for scanning free text."""
    return frozenset(_index())


def current_units() -> tuple[str, ...]:
    return tuple(CURRENT_UNITS)


def old_provinces() -> tuple[str, ...]:
    return tuple(_OLD_TO_NEW)


def _build_maps() -> tuple[dict[str, str], dict[str, tuple[str, ...]]]:
    old_to_new: dict[str, str] = {}
    new_to_old: dict[str, tuple[str, ...]] = {}
    renamed_back = {new: old for old, new in _RENAMED.items()}
    for unit, (_city, absorbed) in CURRENT_UNITS.items():
        namesake = renamed_back.get(unit, unit)
        members = (namesake, *absorbed)
        new_to_old[unit] = members
        for old in members:
            old_to_new[old] = unit
    return old_to_new, new_to_old


_OLD_TO_NEW, _NEW_TO_OLD = _build_maps()
_UNIT_REGION = {unit: region for region, units in NEW_REGIONS.items() for unit in units}
_OLD_REGION = {old: region for region, olds in OLD_REGIONS.items() for old in olds}


def _province_place(unit: str) -> Place:
    return Place(PlaceKind.PROVINCE, unit, frozenset({unit}), frozenset(_NEW_TO_OLD[unit]))


def _old_place(old: str) -> Place:
    return Place(PlaceKind.OLD_PROVINCE, old, frozenset({_OLD_TO_NEW[old]}), frozenset({old}))


def _area(kind: PlaceKind, name: str, olds: set[str]) -> Place:
    # A current unit belongs to an area when its namesake old province does: "Tây Nguyên" covers today's
    # Gia Lai even though Gia Lai also absorbed coastal Bình Định.
    units = {unit for unit, members in _NEW_TO_OLD.items() if members[0] in olds}
    return Place(kind, name, frozenset(units), frozenset(olds))


def _region_places() -> dict[str, Place]:
    places: dict[str, Place] = {}
    for name in OLD_REGIONS.keys() | NEW_REGIONS.keys():
        olds = set(OLD_REGIONS.get(name, ()))
        for unit in NEW_REGIONS.get(name, ()):
            olds.update(_NEW_TO_OLD[unit])
        places[name] = _area(PlaceKind.REGION, name, olds)
    for name, regions in GROUPINGS.items():
        olds = {old for region in regions for old in OLD_REGIONS[region]}
        places[name] = _area(PlaceKind.GROUPING, name, olds)
    return places


def _initials(name: str) -> str | None:
    parts = normalize(name).split()
    return "".join(p[0] for p in parts) if len(parts) >= 2 else None


@cache
def _index() -> dict[str, tuple[Place, ...]]:
    named: dict[str, Place] = {unit: _province_place(unit) for unit in CURRENT_UNITS}
    for old in _OLD_TO_NEW:
        named.setdefault(old, _old_place(old))
    named.update(_region_places())

    index: dict[str, list[Place]] = defaultdict(list)

    def add(key: str, place: Place) -> None:
        if key and place not in index[key]:
            index[key].append(place)

    for name, place in named.items():
        add(normalize(name), place)
    for alias, name in _ALIASES.items():
        add(normalize(alias), named[name])
    explicit = set(index)
    # Initials ("qn", "dn", "hg") are read as places unless an alias already claims them; when several
    # names share them the key stays ambiguous and callers must ask which is meant.
    for name, place in named.items():
        key = _initials(name)
        if place.kind in (PlaceKind.PROVINCE, PlaceKind.OLD_PROVINCE) and key and key not in explicit \
                and key not in _INITIALS_NOT_PLACES:
            add(key, place)
    return {key: tuple(places) for key, places in index.items()}
