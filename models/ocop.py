"""OCOP programme vocabulary: product groups, star ratings, owner kinds and how lists spell them."""

from __future__ import annotations

import re
from datetime import date
from enum import IntEnum, StrEnum

from models.text import normalize

CERTIFICATE_MONTHS = 36


class Group(IntEnum):
    """The six product groups of Decision 919/QĐ-TTg (2022), kept by Decision 148/QĐ-TTg (2023)."""

    FOOD = 1
    DRINKS = 2
    HERBAL = 3
    HANDICRAFT = 4
    ORNAMENTAL = 5
    TOURISM = 6

    @property
    def label(self) -> str:
        return GROUP_LABELS[self]


GROUP_LABELS: dict[Group, str] = {
    Group.FOOD: "Thực phẩm",
    Group.DRINKS: "Đồ uống",
    Group.HERBAL: "Dược liệu và sản phẩm từ dược liệu",
    Group.HANDICRAFT: "Hàng thủ công mỹ nghệ",
    Group.ORNAMENTAL: "Sinh vật cảnh",
    Group.TOURISM: "Dịch vụ du lịch cộng đồng, du lịch sinh thái và điểm du lịch",
}

GROUP_LABELS_EN: dict[Group, str] = {
    Group.FOOD: "Food",
    Group.DRINKS: "Drinks",
    Group.HERBAL: "Herbal products",
    Group.HANDICRAFT: "Handicrafts",
    Group.ORNAMENTAL: "Ornamental plants and animals",
    Group.TOURISM: "Community and eco-tourism",
}

# Labels seen in provincial lists, old six sectors included, mapped to the current groups.
_GROUP_SYNONYMS: dict[str, Group] = {
    "thuc pham": Group.FOOD,
    "nhom thuc pham": Group.FOOD,
    "do an": Group.FOOD,
    "do uong": Group.DRINKS,
    "nhom do uong": Group.DRINKS,
    "duoc lieu": Group.HERBAL,
    "duoc lieu va san pham tu duoc lieu": Group.HERBAL,
    "thao duoc": Group.HERBAL,
    "hang thu cong my nghe": Group.HANDICRAFT,
    "thu cong my nghe": Group.HANDICRAFT,
    "vai va may mac": Group.HANDICRAFT,
    "luu niem noi that trang tri": Group.HANDICRAFT,
    "sinh vat canh": Group.ORNAMENTAL,
    "dich vu du lich cong dong du lich sinh thai va diem du lich": Group.TOURISM,
    "dich vu du lich nong thon ban hang": Group.TOURISM,
    "du lich cong dong": Group.TOURISM,
    "du lich": Group.TOURISM,
    "dich vu du lich": Group.TOURISM,
}
_GROUP_SYNONYMS.update({normalize(label): group for group, label in GROUP_LABELS.items()})
_GROUP_SYNONYMS.update({normalize(label): group for group, label in GROUP_LABELS_EN.items()})


def parse_group(text: str) -> Group | None:
    """A group from its number ("1", "Nhóm 1"), current label or an old sector label."""
    key = normalize(text)
    number = re.fullmatch(r"(?:nhom |group )?([1-6])", key)
    if number:
        return Group(int(number.group(1)))
    return _GROUP_SYNONYMS.get(key.removeprefix("nhom ").removeprefix("nganh "))


class ProducerKind(StrEnum):
    """Kinds of OCOP owner ("chủ thể")."""

    COOPERATIVE = "cooperative"
    ENTERPRISE = "enterprise"
    HOUSEHOLD = "household"
    COOPERATIVE_GROUP = "cooperative_group"

    @property
    def label(self) -> str:
        return PRODUCER_KIND_LABELS[self]


PRODUCER_KIND_LABELS: dict[ProducerKind, str] = {
    ProducerKind.COOPERATIVE: "Hợp tác xã",
    ProducerKind.ENTERPRISE: "Doanh nghiệp",
    ProducerKind.HOUSEHOLD: "Hộ kinh doanh",
    ProducerKind.COOPERATIVE_GROUP: "Tổ hợp tác",
}

_KIND_SYNONYMS: dict[str, ProducerKind] = {
    "hop tac xa": ProducerKind.COOPERATIVE,
    "doanh nghiep": ProducerKind.ENTERPRISE,
    "cong ty": ProducerKind.ENTERPRISE,
    "ho kinh doanh": ProducerKind.HOUSEHOLD,
    "co so san xuat": ProducerKind.HOUSEHOLD,
    "co so": ProducerKind.HOUSEHOLD,
    "ho gia dinh": ProducerKind.HOUSEHOLD,
    "to hop tac": ProducerKind.COOPERATIVE_GROUP,
    "household business": ProducerKind.HOUSEHOLD,  # as our English exports write it
}
_KIND_SYNONYMS.update({kind.value.replace("_", " "): kind for kind in ProducerKind})


def parse_producer_kind(text: str) -> ProducerKind | None:
    return _KIND_SYNONYMS.get(normalize(text))


def guess_producer_kind(producer_name: str) -> ProducerKind:
    """The kind a producer's name implies ("HTX …", "Công ty …"); household business otherwise."""
    key = normalize(producer_name)
    for prefix, kind in (
        ("hop tac xa", ProducerKind.COOPERATIVE),
        ("to hop tac", ProducerKind.COOPERATIVE_GROUP),
        ("cong ty", ProducerKind.ENTERPRISE),
        ("doanh nghiep", ProducerKind.ENTERPRISE),
    ):
        if key.startswith(prefix):
            return kind
    return ProducerKind.HOUSEHOLD


_STARS = re.compile(r"^\s*([1-9])\s*(?:\*|★|sao|stars?)?\s*$", re.IGNORECASE)


def parse_stars(text: str) -> int | None:
    """Stars from "4", "4 sao", "4*", "4.0" or "★★★★"; None when unreadable. Range is checked by callers."""
    text = text.strip()
    if text and set(text) <= {"★", "☆", " "}:
        return text.count("★")
    text = re.sub(r"\.0+$", "", text)
    match = _STARS.match(normalize(text) if "★" not in text and "*" not in text else text)
    return int(match.group(1)) if match else None


def certificate_expiry(decided_on: date) -> date:
    """A certificate is valid for 36 months from its decision date."""
    months = decided_on.month - 1 + CERTIFICATE_MONTHS
    year, month = decided_on.year + months // 12, months % 12 + 1
    for day in (decided_on.day, 30, 29, 28):
        try:
            return date(year, month, day)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def group_phrases() -> dict[str, Group]:
    """Normalised phrases that name a group in free text ("thu cong my nghe", "do uong", ...)."""
    phrases = {key: group for key, group in _GROUP_SYNONYMS.items() if " " in key or key in {"food", "drinks"}}
    phrases.update({"thuc pham": Group.FOOD, "do uong": Group.DRINKS, "thao duoc": Group.HERBAL})
    return phrases
