"""Deterministic benchmark catalogues: the bundled sample first, then realistic generated variants.

A variant keeps a bundled product's kind ("Mật ong", "Gạo ST25", "Chè Shan tuyết"), group and subgroup, and gets a
new brand or locality word, a new producer with a plausible name, and a place spread over all 34 current units
(with its old province where the address tells). Same seed, same size: same documents, ids 1..size.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import date, timedelta
from functools import cache
from itertools import pairwise
from pathlib import Path

from models import geography
from models.catalog_import import ParsedRow, parse_rows
from models.search import Document
from models.tabular import read_rows
from models.text import normalize

SAMPLE_CATALOGUE = Path(__file__).resolve().parents[1] / "models" / "data" / "sample_catalogue.csv"
SEED = 20250701

# fmt: off
# Kind heads that stay together even when only one bundled product uses them (compared after normalize()).
_KIND_HEADS = (
    "nuoc mam", "mat ong", "ca phe", "hat dieu", "ho tieu", "yen sao", "nuoc yen", "thit trau", "thit bo",
    "thit lon", "cha ca", "cha muc", "gio cha", "nem chua", "lap xuong", "banh da", "banh trang", "banh pia",
    "banh phong", "banh com", "banh gai", "banh chung", "banh keo", "keo dua", "keo lac", "mien dong", "bun kho",
    "pho kho", "hu tieu", "tuong ot", "tinh dau", "dong trung", "nam linh", "nam huong", "moc nhi", "tra hoa",
    "tra thao", "ruou vang", "ruou ngo", "ruou can", "ruou nep", "gao nep", "gao lut", "mang kho", "ca kho",
    "tom kho", "muc kho", "dua nuoc", "vai thieu", "thanh long", "sau rieng", "buoi da", "may tre", "tho cam",
    "non la", "lua to", "tranh", "hoa lan", "lan ho", "cay canh", "du lich", "khu du lich", "diem du lich",
    "xa phong", "cao duoc", "dau gac", "sam ngoc", "tuong ban", "mam tom", "mam ruoc", "tam hoi", "que",
)

# Brand-like words and locality names for new product and producer names (places of the 34/63 are filtered out).
_BRANDS = (
    "Phúc Lộc", "An Khang", "Hương Quê", "Tâm An", "Bảo Ngọc", "Sao Mai", "Hồng Phát", "Minh Tâm", "Thịnh Vượng",
    "Kim Ngân", "Đất Việt", "Quê Hương", "Hoàng Gia", "Thiên Phú", "Tân Tiến", "Việt Xanh", "Mộc Hương",
    "Hạnh Phúc", "Ngọc Lan", "Thuận Phát", "Đồng Xanh", "Nhà Nông", "Hương Rừng", "Mây Ngàn", "Suối Mơ",
    "Vạn Lộc", "Gia Bảo", "Trường Thịnh", "Phú Quý", "Xanh Sạch", "Nắng Mới", "Hương Đồng", "Lộc Phát", "Mai Anh",
    "Bình An", "Thảo Mộc", "Đông Phương", "Hoa Sen", "Cánh Đồng", "Ban Mai", "Hưng Thịnh", "Song Long", "Ánh Dương",
    "Kim Long", "Phương Nam", "Trúc Xanh", "Làng Nghề", "Nông Trại Xanh", "Bốn Mùa", "Hồng Hà",
)
_PREFIXES = (
    "Tân", "Yên", "Phú", "Đông", "Tây", "Hưng", "Vĩnh", "Thạch", "Hòa", "Long", "Bình", "Phước", "Mỹ", "Thanh",
    "Xuân", "Đại", "Hải", "Cẩm", "Quỳnh", "Hoằng", "Ea", "Nậm", "Bản", "Mường", "Khánh", "Thủy", "Lương", "Ngọc",
)
_SUFFIXES = (
    "Lập", "Hòa", "Sơn", "Thành", "Lộc", "Phú", "Mỹ", "Hưng", "Lợi", "An", "Thịnh", "Tiến", "Phong", "Thuận",
    "Trung", "Đông", "Khê", "Lâm", "Xuyên", "Điền", "Kiều", "Tú", "Hà", "Quang", "Minh", "Tân", "Cường", "Dương",
)
_FAMILY = ("Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ", "Hồ", "Ngô")
_MIDDLE = ("Văn", "Thị", "Đức", "Minh", "Hữu", "Thanh", "Ngọc", "Quang", "Công", "Xuân")
_GIVEN = (
    "An", "Bình", "Cường", "Dũng", "Hải", "Hạnh", "Hoa", "Hùng", "Hương", "Lan", "Mai", "Phúc", "Quý", "Tâm",
    "Thảo", "Thắng", "Tuấn", "Vân", "Yến", "Khoa", "Liên", "Nga", "Sáu", "Tư", "Thủy", "Trung",
)
_COOP_TRADES = ("Nông nghiệp", "Dịch vụ nông nghiệp", "Sản xuất và thương mại", "Nông sản sạch", "Chế biến nông sản")
_SENTENCES = (
    "Nguyên liệu tuyển chọn tại địa phương, chế biến theo quy trình truyền thống.",
    "Đóng gói cẩn thận, có mã vạch và truy xuất nguồn gốc.",
    "Sản lượng ổn định, nhận đơn cho siêu thị, đại lý và cửa hàng tiện lợi.",
    "Đạt chứng nhận an toàn thực phẩm, bảo quản nơi khô ráo thoáng mát.",
    "Thương hiệu của bà con trong vùng, được khách du lịch ưa chuộng làm quà.",
    "Sản xuất thủ công quy mô hộ gia đình, liên kết với nông dân trong xã.",
)
# Owner kinds: cooperatives ~32%, enterprises ~22%, household businesses ~40%, cooperative groups the rest.
# fmt: on
_KIND_WEIGHTS = (("cooperative", 32), ("enterprise", 22), ("household", 40), ("cooperative_group", 6))
_STAR_WEIGHTS = ((3, 55), (4, 42), (5, 3))


def load_bundled(path: Path = SAMPLE_CATALOGUE) -> list[ParsedRow]:
    """The bundled sample catalogue parsed by the project's own importer; raises when any row is rejected."""
    rows, errors, _count = parse_rows(read_rows(path), today=date.today())
    if errors:
        raise ValueError(f"{path}: {len(errors)} rows rejected, first: line {errors[0].line}: {errors[0].problem}")
    return rows


def to_document(id: int, row: ParsedRow) -> Document:
    return Document(
        id=id, name=row.name, producer=row.producer, producer_kind=row.kind, province=row.province,
        old_province=row.old_province, ward=row.ward, address=row.address, group=row.group, subgroup=row.subgroup,
        stars=row.stars, potential_5=row.potential_5, description=row.description, decision_date=row.decision_date,
    )  # fmt: skip


def bundled_documents(path: Path = SAMPLE_CATALOGUE) -> list[Document]:
    """The bundled products, ids 1..N in file order."""
    return [to_document(i, row) for i, row in enumerate(load_bundled(path), start=1)]


def normalize_parts(address: str) -> list[list[str]]:
    """The words of each comma-separated part of an address, normalised."""
    return [normalize(part).split() for part in address.split(",")]


def is_proper(word: str) -> bool:
    """A capitalised word that is not a variety code ("Mèo", "Vạc"; not "ST25")."""
    return word[:1].isupper() and not any(ch.isdigit() for ch in word)


class Names:
    """What the bundled product names share: kind heads ("Mật ong") and compounds never cut ("bạc hà")."""

    def __init__(self, documents: Sequence[Document]) -> None:
        self.heads: Counter[str] = Counter()
        names: defaultdict[str, set[int]] = defaultdict(set)
        producers: defaultdict[str, set[str]] = defaultdict(set)
        for doc in documents:
            keys = normalize(doc.name).split()
            self.heads.update(" ".join(keys[:n]) for n in range(2, min(3, len(keys) - 1) + 1))
            for pair in {f"{a} {b}" for a, b in pairwise(keys)}:
                names[pair].add(doc.id)
                producers[pair].add(doc.producer)
        self.compounds = frozenset(pair for pair, ids in names.items() if len(ids) >= 2)
        # Compounds of three producers or more are generic ("chè Shan tuyết", "cà phê Arabica"); fewer, a brand or
        # a place ("khóm Cầu Đúc"), or a coincidence ("nếp cẩm Ba Vì", "thổ cẩm Ba Na").
        self.generic = frozenset(pair for pair, who in producers.items() if len(who) >= 3)
        # Word pairs of the addresses: place names ("thanh son", "tra bong").
        self.places = frozenset(
            f"{a} {b}" for doc in documents for part in normalize_parts(doc.address) for a, b in pairwise(part)
        )

    def proper(self, words: Sequence[str]) -> list[bool]:
        """Which words start a proper name; a capitalised word bound to a common one by a generic compound stays
        common ("Chè Shan tuyết").
        """
        flags: list[bool] = []
        for i, word in enumerate(words):
            bound = (
                i > 0
                and not flags[i - 1]
                and normalize(f"{words[i - 1]} {word}") in self.generic
                and normalize(" ".join(words[i : i + 2])) not in self.places
            )
            flags.append(i > 0 and is_proper(word) and not bound)
        return flags

    def can_cut(self, words: Sequence[str], n: int) -> bool:
        """Whether ``words[:n]`` ends on a word boundary buyers keep: not inside a compound such as "bạc | hà"."""
        return n >= len(words) or normalize(f"{words[n - 1]} {words[n]}") not in self.compounds

    def kind_of(self, name: str) -> str:
        """The generic head of a product name ("Mật ong bạc hà Mèo Vạc" → "Mật ong"), in its own spelling.

        The longest head of up to three common words that other names share, or a known head, not cutting a
        compound; else the first two common words, with the rest of a compound.
        """
        words = name.split()
        keys = normalize(name).split()
        if len(keys) != len(words):  # punctuation changed the word count: fall back on the first word
            return words[0]
        proper = self.proper(words)
        common = 1
        while common < len(words) and not proper[common]:
            common += 1
        for n in range(min(3, common, len(words) - 1), 0, -1):
            head = " ".join(keys[:n])
            if ((self.heads[head] >= 2 and n > 1) or head in _KIND_HEADS) and self.can_cut(words, n):
                return " ".join(words[:n])
        n = min(2, common)  # most kinds are two-syllable words: "chôm chôm", "mạch nha", "tam thất"
        while n < common and not self.can_cut(words, n):
            n += 1
        return " ".join(words[:n])


@cache
def _place_words() -> frozenset[str]:
    """Normalised place names and aliases, and each of their words pairs, to keep invented names neutral."""
    return geography.all_keys()


def _neutral(text: str) -> bool:
    keys = normalize(text).split()
    places = _place_words()
    return not any(" ".join(keys[i : i + n]) in places for n in (1, 2, 3) for i in range(len(keys) - n + 1))


@cache
def _localities() -> tuple[str, ...]:
    names = (f"{a} {b}" for a in _PREFIXES for b in _SUFFIXES if a != b)
    return tuple(name for name in names if _neutral(name))


@cache
def _brands() -> tuple[str, ...]:
    return tuple(brand for brand in _BRANDS if _neutral(brand))


def _weighted(rng: random.Random, pairs: Sequence[tuple[object, int]], k: int) -> list:
    values, weights = zip(*pairs, strict=True)
    return rng.choices(values, weights=weights, k=k)


class _Generator:
    """Variants of the bundled products; one instance per catalogue."""

    def __init__(self, bundled: Sequence[Document], rng: random.Random) -> None:
        self.rng = rng
        self.templates = list(bundled)
        names = Names(bundled)
        self.kinds = [names.kind_of(d.name) for d in bundled]
        self.localities = _localities()
        self.brands = _brands()
        # Larger units (more old provinces merged into them) have more products.
        self.units = [(unit, len(geography.old_provinces_of(unit))) for unit in geography.current_units()]

    def person(self) -> str:
        rng = self.rng
        return f"{rng.choice(_FAMILY)} {rng.choice(_MIDDLE)} {rng.choice(_GIVEN)}"

    def producer(self, kind: str, product_kind: str, locality: str) -> str:
        rng = self.rng
        if kind == "cooperative":
            head = rng.choice(("Hợp tác xã", "HTX"))
            trade = rng.choice((*_COOP_TRADES, product_kind))
            return f"{head} {trade} {locality}"
        if kind == "enterprise":
            form = rng.choice(("Công ty TNHH", "Công ty Cổ phần", "Công ty TNHH MTV"))
            return f"{form} {rng.choice(self.brands)} {locality}"
        if kind == "cooperative_group":
            return f"Tổ hợp tác {product_kind} {locality}"
        if rng.random() < 0.5:
            return f"Hộ kinh doanh {self.person()}"
        return f"Cơ sở sản xuất {product_kind} {rng.choice(self.brands)}"

    def place(self, unit: str, locality: str) -> tuple[str | None, str, str]:
        """(old province or None, ward, address as written on the certificate)."""
        rng = self.rng
        members = geography.old_provinces_of(unit)
        ward = f"{rng.choice(('Xã', 'Xã', 'Phường', 'Thị trấn'))} {locality}"
        old = rng.choice(members)
        if len(members) > 1 and rng.random() < 0.35:  # a post-2025 address that does not tell the old province
            return None, ward, f"{ward}, {geography.unit_kind_label(unit)} {unit}"
        if rng.random() < 0.6:
            district = rng.choice(self.localities)
            label = "thành phố" if old in geography.CURRENT_UNITS and geography.CURRENT_UNITS[old][0] else "tỉnh"
            return old, ward, f"{ward}, huyện {district}, {label} {old}"
        return old, ward, f"{ward}, {geography.unit_kind_label(unit)} {unit}"

    def documents(self, first_id: int, count: int) -> list[Document]:
        rng = self.rng
        picks = rng.choices(range(len(self.templates)), k=count)
        owners = _weighted(rng, _KIND_WEIGHTS, count)
        stars = _weighted(rng, _STAR_WEIGHTS, count)
        units = _weighted(rng, self.units, count)
        out: list[Document] = []
        for offset in range(count):
            template = self.templates[picks[offset]]
            product_kind = self.kinds[picks[offset]]
            locality = rng.choice(self.localities)
            brand = rng.choice(self.brands) if rng.random() < 0.6 else rng.choice(self.localities)
            name = f"{product_kind} {brand}"
            producer = self.producer(owners[offset], product_kind, locality)
            unit = units[offset]
            old, ward, address = self.place(unit, locality)
            star = stars[offset]
            description = f"{name} của {producer}, {ward}, {unit}. Sản phẩm OCOP {star} sao. {rng.choice(_SENTENCES)}"
            out.append(
                Document(
                    id=first_id + offset,
                    name=name,
                    producer=producer,
                    producer_kind=owners[offset],
                    province=unit,
                    old_province=old,
                    ward=ward,
                    address=address,
                    group=template.group,
                    subgroup=template.subgroup,
                    stars=star,
                    potential_5=star == 4 and rng.random() < 0.03,
                    description=description,
                    decision_date=_decided(first_id + offset),
                )
            )
        return out


def _decided(id: int) -> date:
    """A certificate date from the id (no draw from the generator, so the catalogue is the same as without it):
    spread over 2021–2025, so that about half the generated certificates have ended by BENCH_DAY."""
    return date(2021, 1, 1) + timedelta(days=id * 7919 % 1826)


def generate(size: int, bundled: Sequence[Document], seed: int = SEED) -> list[Document]:
    """A catalogue of ``size`` documents: the bundled ones first (ids 1..N), then variants up to ``size``."""
    if size <= len(bundled):
        return list(bundled[:size])
    rng = random.Random(seed)
    variants = _Generator(bundled, rng).documents(len(bundled) + 1, size - len(bundled))
    return [*bundled, *variants]
