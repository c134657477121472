"""Import of provincial OCOP lists (CSV/XLSX): tolerant header matching, per-row validation, idempotent upsert."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

from rapidfuzz import fuzz, process
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import geography
from models.catalog import Producer, Product, bump_catalog_version
from models.db import Database, utcnow
from models.errors import ImportProblem
from models.geography import PlaceKind
from models.ocop import guess_producer_kind, parse_group, parse_producer_kind, parse_stars
from models.tabular import Row, read_bytes, read_rows
from models.text import clean, normalize

OCOP_START = date(2018, 1, 1)
MAX_CELL = 4000

# field -> header spellings seen in provincial lists and in our own export (compared after normalize()).
HEADERS: dict[str, tuple[str, ...]] = {
    "name": ("ten san pham", "san pham", "ten sp", "ten san pham ocop", "ten san pham dat ocop", "name", "product"),
    "producer": (
        "chu the", "ten chu the", "chu the san xuat", "chu the ocop", "ten chu the san xuat", "don vi san xuat",
        "chu the san pham", "ten chu the ocop", "producer", "owner",
    ),
    "producer_kind": ("loai hinh chu the", "loai hinh", "loai hinh to chuc", "producer kind", "owner kind"),
    "address": ("dia chi", "dia chi chu the", "address"),
    "ward": ("xa phuong", "ward"),
    "province": ("tinh thanh pho", "tinh", "tinh thanh", "tinh tp", "province"),
    "old_province": ("tinh cu", "old province"),
    "group": ("nhom san pham", "nhom", "nganh", "nhom nganh", "bo nganh", "group"),
    "subgroup": ("phan nhom", "phan nhom san pham", "subgroup"),
    "stars": ("so sao", "xep hang", "hang sao", "sao", "ket qua xep hang", "ket qua danh gia", "stars"),
    "potential_5": ("tiem nang 5 sao", "san pham tiem nang 5 sao", "potential 5"),
    "decision_no": ("so quyet dinh", "so qd", "quyet dinh", "quyet dinh cong nhan", "decision no"),
    "decision_date": ("ngay quyet dinh", "ngay qd", "ngay cap", "ngay cong nhan", "ngay ban hanh", "decision date"),
    "phone": ("dien thoai", "so dien thoai", "sdt", "phone"),
    "email": ("email", "e mail", "thu dien tu"),
    "description": ("mo ta", "mo ta san pham", "description"),
    "unit": ("don vi tinh", "dvt", "quy cach", "unit"),
    "capacity": ("nang luc san xuat", "cong suat", "san luong", "capacity"),
    "season": ("mua vu", "thoi vu", "season"),
    "photo": ("anh", "hinh anh", "anh san pham", "photo"),
}
REQUIRED = ("name", "producer", "group", "stars")
_SYNONYMS = {synonym: name for name, synonyms in HEADERS.items() for synonym in synonyms}
_TRUE = {"x", "co", "yes", "true", "1", "v", "✓", "tiem nang"}
_OLD_STYLE_ADDRESS = re.compile(r"\b(huyen|quan|thi xa)\b")
_WARD_PREFIXES = ("xa ", "phuong ", "thi tran ", "dac khu ")

PRODUCER_FIELDS = ("kind", "address", "ward", "old_province", "phone", "email")
PRODUCT_FIELDS = (
    "group", "subgroup", "stars", "potential_5", "decision_no", "decision_date", "description", "unit",
    "capacity", "season", "photo",
)


class ImportFileError(ImportProblem):
    """The file as a whole cannot be imported (no header row with the required columns); nothing was written."""


@dataclass(frozen=True)
class RowError:
    line: int
    problem: ImportProblem


@dataclass
class ParsedRow:
    line: int
    name: str
    producer: str
    kind: str
    address: str
    ward: str
    province: str
    old_province: str | None
    group: int
    subgroup: str
    stars: int
    potential_5: bool
    decision_no: str
    decision_date: date | None
    phone: str
    email: str
    description: str
    unit: str
    capacity: str
    season: str
    photo: str

    @property
    def producer_key(self) -> tuple[str, str]:
        return normalize(self.producer), self.province

    @property
    def product_key(self) -> tuple[tuple[str, str], str]:
        return self.producer_key, normalize(self.name)


@dataclass
class ImportReport:
    rows: int = 0
    products_created: int = 0
    products_updated: int = 0
    products_unchanged: int = 0
    producers_created: int = 0
    producers_updated: int = 0
    errors: list[RowError] = field(default_factory=list)
    dry_run: bool = False

    @property
    def imported(self) -> int:
        return self.products_created + self.products_updated + self.products_unchanged

    @property
    def changed(self) -> bool:
        return bool(self.products_created or self.products_updated or self.producers_created or self.producers_updated)


def match_headers(cells: list[str]) -> dict[int, str]:
    """Column index -> field for a header row; accents, case, order and small typos do not matter."""
    columns: dict[int, str] = {}
    for index, cell in enumerate(cells):
        key = normalize(cell)
        if not key:
            continue
        name = _SYNONYMS.get(key)
        if name is None and len(key) > 3:
            best = process.extractOne(key, _SYNONYMS.keys(), scorer=fuzz.ratio, score_cutoff=88)
            name = _SYNONYMS[best[0]] if best else None
        if name and name not in columns.values():
            columns[index] = name
    return columns


def _find_header(rows: list[Row]) -> tuple[int, dict[int, str]]:
    best: tuple[int, dict[int, str]] = (-1, {})
    for position, (_line, cells) in enumerate(rows[:15]):
        columns = match_headers(cells)
        if len(columns) > len(best[1]):
            best = (position, columns)
    return best


def parse_rows(rows: Iterable[Row], today: date) -> tuple[list[ParsedRow], list[RowError], int]:
    """Validate every data row; returns the good rows, one error per bad row, and the number of data rows."""
    rows = list(rows)
    position, columns = _find_header(rows)
    missing = [name for name in REQUIRED if name not in columns.values()]
    if "province" not in columns.values() and "address" not in columns.values():
        missing.append("province")
    if position < 0 or missing:
        found = ", ".join(cell for cell in (rows[max(position, 0)][1] if rows else []) if cell) or "—"
        raise ImportFileError("no_header", columns=tuple(missing), found=found)
    parsed: list[ParsedRow] = []
    errors: list[RowError] = []
    seen: dict[tuple[tuple[str, str], str], int] = {}
    data_rows = 0
    for line, cells in rows[position + 1 :]:
        if not any(cells):
            continue
        data_rows += 1
        values = {name: clean(cells[index]) if index < len(cells) else "" for index, name in columns.items()}
        try:
            row = _parse_row(line, values, today)
        except ImportProblem as problem:
            errors.append(RowError(line, problem))
            continue
        if row.product_key in seen:
            errors.append(RowError(line, ImportProblem("duplicate", first_line=seen[row.product_key])))
            continue
        seen[row.product_key] = line
        parsed.append(row)
    return parsed, errors, data_rows


def _parse_row(line: int, v: dict[str, str], today: date) -> ParsedRow:
    for name in v:
        if len(v[name]) > MAX_CELL:
            raise ImportProblem("too_long", column=name, limit=MAX_CELL)
    if not v.get("name"):
        raise ImportProblem("missing_name")
    if not v.get("producer"):
        raise ImportProblem("missing_producer")
    stars = parse_stars(v.get("stars", ""))
    if stars is None:
        raise ImportProblem("bad_stars", value=v["stars"]) if v.get("stars") else ImportProblem("missing_stars")
    if not 3 <= stars <= 5:
        raise ImportProblem("stars_range", stars=stars)
    group = parse_group(v.get("group", ""))
    if group is None:
        raise ImportProblem("bad_group", value=v["group"]) if v.get("group") else ImportProblem("missing_group")
    kind_text = v.get("producer_kind", "")
    kind = parse_producer_kind(kind_text) if kind_text else guess_producer_kind(v["producer"])
    if kind is None:
        raise ImportProblem("bad_kind", value=kind_text)
    province, old_province = _parse_province(v)
    address = v.get("address", "")
    return ParsedRow(
        line=line,
        name=v["name"],
        producer=v["producer"],
        kind=kind.value,
        address=address,
        ward=v.get("ward") or _ward_of(address),
        province=province,
        old_province=old_province,
        group=int(group),
        subgroup=v.get("subgroup", ""),
        stars=stars,
        potential_5=normalize(v.get("potential_5", "")) in _TRUE,
        decision_no=v.get("decision_no", ""),
        decision_date=_parse_date(v.get("decision_date", ""), today),
        phone=v.get("phone", ""),
        email=v.get("email", ""),
        description=v.get("description", ""),
        unit=v.get("unit", ""),
        capacity=v.get("capacity", ""),
        season=v.get("season", ""),
        photo=v.get("photo", ""),
    )


def _resolve_one(text: str, column: str) -> geography.Place:
    resolution = geography.resolve(text)
    if resolution.ambiguous:
        names = ", ".join(place.name for place in resolution.candidates)
        raise ImportProblem("ambiguous_place", column=column, value=text, candidates=names)
    place = resolution.place
    if place is None:
        raise ImportProblem("unknown_place", column=column, value=text)
    if place.kind not in (PlaceKind.PROVINCE, PlaceKind.OLD_PROVINCE):
        raise ImportProblem("region_not_province", column=column, value=text)
    return place


def _parse_province(v: dict[str, str]) -> tuple[str, str | None]:
    """(current unit, old province or None when the address does not tell)."""
    address = v.get("address", "")
    text = v.get("province") or (address.rsplit(",", 1)[-1].strip() if address else "")
    if not text:
        raise ImportProblem("missing_province")
    place = _resolve_one(text, "province")
    current = place.current
    assert current is not None
    if v.get("old_province"):
        old = _resolve_one(v["old_province"], "old_province")
        old_name = old.name if old.kind is PlaceKind.OLD_PROVINCE else geography.old_provinces_of(old.name)[0]
        if geography.current_unit_of(old_name) != current:
            raise ImportProblem("old_province_mismatch", old=old_name, current=current)
        return current, old_name
    if place.kind is PlaceKind.OLD_PROVINCE:
        return current, place.name
    members = geography.old_provinces_of(current)
    if len(members) == 1 or _is_old_style(address):
        return current, members[0]
    return current, None


def _is_old_style(address: str) -> bool:
    """A three-level address (commune, district, province): written before the 2025 reform."""
    return address.count(",") >= 2 or bool(_OLD_STYLE_ADDRESS.search(normalize(address)))


def _ward_of(address: str) -> str:
    first = address.split(",", 1)[0].strip()
    return first if normalize(first).startswith(_WARD_PREFIXES) else ""


_DATE_FORMATS = ("%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y", "%Y-%m-%d", "%d/%m/%y")


def _parse_date(text: str, today: date) -> date | None:
    if not text:
        return None
    parsed: date | None = None
    if re.fullmatch(r"\d{5}(\.0+)?", text):  # an Excel serial day number
        parsed = date(1899, 12, 30) + timedelta(days=int(float(text)))
    for fmt in _DATE_FORMATS:
        if parsed:
            break
        try:
            parsed = datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    if parsed is None:
        raise ImportProblem("bad_date", value=text)
    if parsed > today:
        raise ImportProblem("future_date", date=f"{parsed:%d/%m/%Y}")
    if parsed < OCOP_START:
        raise ImportProblem("date_before_ocop", date=f"{parsed:%d/%m/%Y}")
    return parsed


async def import_file(db: Database, path: Path, *, dry_run: bool = False, today: date | None = None) -> ImportReport:
    return await import_rows(db, read_rows(path), dry_run=dry_run, today=today)


async def import_data(
    db: Database, data: bytes, name: str, *, dry_run: bool = False, today: date | None = None
) -> ImportReport:
    """Import a file received as bytes (e.g. a document sent to the bot)."""
    return await import_rows(db, read_bytes(data, name), dry_run=dry_run, today=today)


async def import_rows(
    db: Database, rows: Iterable[Row], *, dry_run: bool = False, today: date | None = None
) -> ImportReport:
    """Validate all rows, then upsert the good ones in one transaction (rolled back when ``dry_run``)."""
    async with db.session() as session, session.begin():
        report = await import_in_session(session, rows, today=today or utcnow().date())
        if dry_run:
            report.dry_run = True
            await session.rollback()
    return report


async def import_in_session(session: AsyncSession, rows: Iterable[Row], *, today: date) -> ImportReport:
    """Validate all rows and upsert the good ones in the caller's transaction (e.g. a file sent to the bot)."""
    parsed, errors, count = parse_rows(rows, today)
    report = ImportReport(rows=count, errors=errors)
    await _upsert(session, parsed, report)
    if report.changed:
        await bump_catalog_version(session)
    return report


async def _upsert(session: AsyncSession, rows: list[ParsedRow], report: ImportReport) -> None:
    now = utcnow()
    producers = {(p.name_key, p.province): p for p in (await session.exec(select(Producer))).all()}
    products = {(p.producer_id, p.name_key): p for p in (await session.exec(select(Product))).all()}
    touched: set[tuple[str, str]] = set()
    for row in rows:
        key = row.producer_key
        producer = producers.get(key)
        if producer is None:
            producer = Producer(name=row.producer, name_key=key[0], province=row.province, kind=row.kind)
            _assign(producer, row, PRODUCER_FIELDS)
            session.add(producer)
            await session.flush()
            producers[key] = producer
            report.producers_created += 1
            touched.add(key)
        elif key not in touched:
            touched.add(key)
            if _assign(producer, row, PRODUCER_FIELDS):
                producer.updated_at = now
                report.producers_updated += 1
        assert producer.id is not None
        product = products.get((producer.id, normalize(row.name)))
        if product is None:
            product = Product(producer_id=producer.id, name=row.name, name_key=normalize(row.name), **_values(row))
            session.add(product)
            report.products_created += 1
        elif _assign(product, row, ("name", *PRODUCT_FIELDS)):
            product.updated_at = now
            report.products_updated += 1
        else:
            report.products_unchanged += 1
    await session.flush()


def _values(row: ParsedRow) -> dict[str, object]:
    return {name: getattr(row, name) for name in PRODUCT_FIELDS}


def _assign(target: Producer | Product, row: ParsedRow, names: Iterable[str]) -> bool:
    """Copy ``names`` from the row; True when anything changed."""
    changed = False
    for name in names:
        value = getattr(row, name)
        if getattr(target, name) != value:
            setattr(target, name, value)
            changed = True
    return changed
