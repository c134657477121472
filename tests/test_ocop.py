from datetime import date

import pytest

from models.ocop import (
    Group,
    ProducerKind,
    certificate_expiry,
    guess_producer_kind,
    parse_group,
    parse_producer_kind,
    parse_stars,
)


@pytest.mark.parametrize(
    ("text", "stars"),
    [("4", 4), ("4 sao", 4), ("4*", 4), ("4.0", 4), ("★★★", 3), ("5 Sao", 5), ("6", 6), ("x", None), ("", None)],
)
def test_parse_stars(text: str, stars: int | None) -> None:
    assert parse_stars(text) == stars


@pytest.mark.parametrize(
    ("text", "group"),
    [
        ("Thực phẩm", Group.FOOD),
        ("do uong", Group.DRINKS),
        ("Thảo dược", Group.HERBAL),
        ("Dược liệu và sản phẩm từ dược liệu", Group.HERBAL),
        ("Vải và may mặc", Group.HANDICRAFT),
        ("Lưu niệm - nội thất - trang trí", Group.HANDICRAFT),
        ("Sinh vật cảnh", Group.ORNAMENTAL),
        ("Dịch vụ du lịch nông thôn, bán hàng", Group.TOURISM),
        ("Nhóm 6", Group.TOURISM),
        ("2", Group.DRINKS),
        ("máy móc", None),
    ],
)
def test_parse_group_maps_old_sector_labels(text: str, group: Group | None) -> None:
    assert parse_group(text) == group


def test_producer_kinds() -> None:
    assert parse_producer_kind("Hợp tác xã") is ProducerKind.COOPERATIVE
    assert parse_producer_kind("tổ hợp tác") is ProducerKind.COOPERATIVE_GROUP
    assert parse_producer_kind("cooperative_group") is ProducerKind.COOPERATIVE_GROUP
    assert parse_producer_kind("???") is None
    assert guess_producer_kind("HTX Chè Tân Cương") is ProducerKind.COOPERATIVE
    assert guess_producer_kind("Công ty TNHH Sao Mai") is ProducerKind.ENTERPRISE
    assert guess_producer_kind("Cơ sở Nguyễn Văn An") is ProducerKind.HOUSEHOLD


def test_certificate_is_valid_36_months() -> None:
    assert certificate_expiry(date(2023, 11, 27)) == date(2026, 11, 27)
    assert certificate_expiry(date(2024, 2, 29)) == date(2027, 2, 28)
    assert certificate_expiry(date(2022, 1, 31)) == date(2025, 1, 31)
