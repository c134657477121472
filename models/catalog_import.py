"""Import of provincial OCOP lists (CSV/XLSX): tolerant header matching, per-row validation, idempotent upsert.

A file is read twice, streamed: first checked as a whole (a header row with the required columns, at most
``MAX_ROWS`` data rows, readable to the end), then validated row by row and written in batches of ``BATCH_ROWS``,
each batch in a short transaction of its own, so that nobody else waits long for the database. Parsing runs in a
worker thread, off the event loop. A file refused by the check changes nothing; a crash halfway leaves the batches
before it imported, and importing the file again completes it (re-importing changes nothing that is already there).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from itertools import chain, islice
from pathlib import Path

from rapidfuzz import fuzz, process
from sqlmodel import col, select
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
MAX_CELL = 4000  # the longest cell read for a column that is not stored as it is
MAX_ROWS = 100_000  # data rows in one file
BATCH_ROWS = 500  # rows validated and written per transaction
ANNOUNCE_BATCHES = 20  # batches between two bumps of the catalogue version (each makes every process reindex)
HEADER_ROWS = 15  # the header row is looked for among the first rows (title rows may come before it)

# field -> header spellings seen in provincial lists and in our own exports, machine and labelled in either language
# (compared after normalize()).
HEADERS: dict[str, tuple[str, ...]] = {
    "name": ("ten san pham", "san pham", "ten sp", "ten san pham ocop", "ten san pham dat ocop", "name", "product",
             "product name"),
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
    "potential_5": ("tiem nang 5 sao", "san pham tiem nang 5 sao", "potential 5", "potential 5 stars"),
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
# field -> the longest text its database column holds (a longer cell is a row error, not a failed import).
MAX_LENGTH: dict[str, int] = {
    "producer": Producer.__table__.c["name"].type.length,  # type: ignore[attr-defined]
    **{name: Producer.__table__.c[name].type.length for name in ("address", "ward", "phone", "email")},  # type: ignore[attr-defined]
    **{
        name: Product.__table__.c[name].type.length  # type: ignore[attr-defined]
        for name in ("name", "subgroup", "decision_no", "description", "unit", "capacity", "season", "photo")
    },
}


class ImportInterrupted(Exception):
    """The import was told to stop (its process is stopping); the batches written before stay."""


class ImportFileError(ImportProblem):
    """The file as a whole cannot be imported (no header row with the required columns, too many rows); nothing
    was written."""


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
    rows_done: int = 0  # data rows validated and written so far (where an interrupted import resumes)

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
    for position, (_line, cells) in enumerate(rows):
        columns = match_headers(cells)
        if len(columns) > len(best[1]):
            best = (position, columns)
    return best


def _split_header(rows: Iterable[Row]) -> tuple[dict[int, str], Iterator[Row]]:
    """The columns of the header row (looked for among the first HEADER_ROWS rows) and the rows after it."""
    iterator = iter(rows)
    head = list(islice(iterator, HEADER_ROWS))
    position, columns = _find_header(head)
    missing = [name for name in REQUIRED if name not in columns.values()]
    if "province" not in columns.values() and "address" not in columns.values():
        missing.append("province")
    if position < 0 or missing:
        found = ", ".join(cell for cell in (head[max(position, 0)][1] if head else []) if cell) or "—"
        raise ImportFileError("no_header", columns=tuple(missing), found=found)
    return columns, chain(head[position + 1 :], iterator)


def count_rows(rows: Iterable[Row], limit: int = MAX_ROWS, stop: Callable[[], bool] = lambda: False) -> int:
    """The check before anything is written: the header is found and the file read to the end (a malformed file
    raises here); the data rows, at most ``limit`` (more raise ``ImportFileError``). ``stop`` is asked every
    thousand rows (``ImportInterrupted``)."""
    _columns, data = _split_header(rows)
    count = 0
    for number, (_line, cells) in enumerate(data, start=1):
        if number % 1000 == 0 and stop():
            raise ImportInterrupted
        if any(cells):
            count += 1
            if count > limit:
                raise ImportFileError("too_many_rows", limit=limit)
    return count


class RowParser:
    """The data rows validated in order and handed out a batch at a time (``take``); it remembers every bad row
    and the products seen so far (a product listed twice is an error the second time)."""

    def __init__(self, rows: Iterable[Row], today: date) -> None:
        self.columns, self._data = _split_header(rows)
        self.today = today
        self.errors: list[RowError] = []
        self.data_rows = 0  # data rows read so far
        self.done = False  # every row has been read
        self._seen: dict[tuple[tuple[str, str], str], int] = {}

    def take(self, size: int) -> list[ParsedRow]:
        """The good rows among the next ``size`` data rows (fewer at the end of the file, and ``done`` is set)."""
        parsed: list[ParsedRow] = []
        taken = 0
        for line, cells in self._data:
            if not any(cells):
                continue
            self.data_rows += 1
            taken += 1
            row = self._parse(line, cells)
            if row is not None:
                parsed.append(row)
            if taken == size:
                return parsed
        self.done = True
        return parsed

    def _parse(self, line: int, cells: list[str]) -> ParsedRow | None:
        values = {name: clean(cells[index]) if index < len(cells) else "" for index, name in self.columns.items()}
        try:
            row = _parse_row(line, values, self.today)
        except ImportProblem as problem:
            self.errors.append(RowError(line, problem))
            return None
        first = self._seen.setdefault(row.product_key, line)
        if first != line:
            self.errors.append(RowError(line, ImportProblem("duplicate", first_line=first)))
            return None
        return row


def parse_rows(rows: Iterable[Row], today: date) -> tuple[list[ParsedRow], list[RowError], int]:
    """Validate every data row; returns the good rows, one error per bad row, and the number of data rows."""
    parser = RowParser(rows, today)
    parsed: list[ParsedRow] = []
    while not parser.done:
        parsed += parser.take(BATCH_ROWS)
    return parsed, parser.errors, parser.data_rows


def _parse_row(line: int, v: dict[str, str], today: date) -> ParsedRow:
    for name in v:
        limit = MAX_LENGTH.get(name, MAX_CELL)
        if len(v[name]) > limit or (name in ("name", "producer") and len(normalize(v[name])) > limit):
            raise ImportProblem("too_long", column=name, limit=limit)
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
    if re.fullmatch(r"[0-9]{5}(\.0+)?", text):  # an Excel serial day number
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


BatchHook = Callable[[AsyncSession, ImportReport], Awaitable[None]]
ProgressHook = Callable[[ImportReport], Awaitable[None]]


async def import_file(db: Database, path: Path, **options: object) -> ImportReport:
    """Import a file on disk (``ocop-bot import``); options as for ``import_rows``."""
    return await import_rows(db, read_rows(path), **options)  # type: ignore[arg-type]


async def import_data(db: Database, data: bytes, name: str, **options: object) -> ImportReport:
    """Import a file received as bytes; options as for ``import_rows``."""
    return await import_rows(db, read_bytes(data, name), **options)  # type: ignore[arg-type]


async def import_rows(
    db: Database,
    rows: Iterable[Row],
    *,
    dry_run: bool = False,
    today: date | None = None,
    batch_rows: int = BATCH_ROWS,
    resume: ImportReport | None = None,
    in_batch: BatchHook | None = None,
    after_batch: ProgressHook | None = None,
    stop: Callable[[], bool] = lambda: False,
) -> ImportReport:
    """Check the whole file (``count_rows``: a refused file changes nothing), then validate and upsert its rows in
    batches of ``batch_rows``, each in a transaction of its own (rolled back when ``dry_run``).

    ``rows`` is read twice (a ``Spreadsheet``, or a list), in a worker thread. ``resume`` is the report an
    interrupted import of the same file left: its ``rows_done`` rows are validated again but not written, and its
    counts carry on. ``in_batch`` runs inside each batch's transaction (a job records its progress there; raising
    undoes the batch), ``after_batch`` after each batch. When ``stop`` turns true, ``ImportInterrupted`` is raised
    between batches. The catalogue version is bumped every ANNOUNCE_BATCHES batches that changed something and once
    at the end (a resumed import bumps it at its end when the interrupted one had changed anything)."""
    if iter(rows) is rows:  # a one-shot iterator cannot be read twice
        rows = list(rows)
    total = await asyncio.to_thread(count_rows, rows, MAX_ROWS, stop)
    parser = await asyncio.to_thread(RowParser, rows, today or utcnow().date())
    report = ImportReport(rows=total, dry_run=dry_run)
    if resume is not None:
        for name in _COUNTS:
            setattr(report, name, getattr(resume, name))
    run = _Run(unannounced=resume is not None and resume.changed)
    batches = 0
    while not parser.done:
        if stop():
            raise ImportInterrupted
        batch = await asyncio.to_thread(parser.take, batch_rows)
        if parser.data_rows <= report.rows_done:  # written before the interruption (or nothing left)
            run.touched.update(row.producer_key for row in batch)
            continue
        batches += 1
        async with db.session() as session, session.begin() as transaction:
            run.unannounced |= await _upsert(session, batch, report, run)
            if run.unannounced and not dry_run and batches % ANNOUNCE_BATCHES == 0:
                await bump_catalog_version(session)
                run.unannounced = False
            report.rows_done = parser.data_rows
            if in_batch is not None:
                await in_batch(session, report)
            if dry_run:
                await transaction.rollback()
        if after_batch is not None:
            await after_batch(report)
    if run.unannounced and not dry_run:
        async with db.transaction() as session:
            await bump_catalog_version(session)
    report.errors = parser.errors
    return report


_COUNTS = (
    "rows_done", "products_created", "products_updated", "products_unchanged", "producers_created",
    "producers_updated",
)


async def import_in_session(session: AsyncSession, rows: Iterable[Row], *, today: date) -> ImportReport:
    """Validate ``rows`` and upsert the good ones in the caller's transaction, in one go: for a few rows only (files
    are imported in batches by ``import_rows``)."""
    parsed, errors, count = parse_rows(rows, today)
    report = ImportReport(rows=count, errors=errors)
    if await _upsert(session, parsed, report, _Run()):
        await bump_catalog_version(session)
    return report


@dataclass
class _Run:
    """What one import has done so far, across its batches."""

    touched: set[tuple[str, str]] = field(default_factory=set)  # producers already set from an earlier row
    created: set[tuple[str, str]] = field(default_factory=set)  # producers created (counted once in a dry run)
    unannounced: bool = False  # changes written since the catalogue version was last bumped


async def _upsert(session: AsyncSession, rows: list[ParsedRow], report: ImportReport, run: _Run) -> bool:
    """Create or update the batch's producers and products (found by name key); True when anything changed."""
    if not rows:
        return False
    now = utcnow()
    keys = {row.producer_key for row in rows}
    query = select(Producer).where(col(Producer.name_key).in_({name for name, _province in keys}))
    producers = {(p.name_key, p.province): p for p in (await session.exec(query)).all()}
    ids = [p.id for key, p in producers.items() if key in keys]
    products: dict[tuple[int | None, str], Product] = {}
    if ids:
        names = {row.product_key[1] for row in rows}
        query = select(Product).where(col(Product.producer_id).in_(ids), col(Product.name_key).in_(names))
        products = {(p.producer_id, p.name_key): p for p in (await session.exec(query)).all()}
    changed = False
    for row in rows:
        key = row.producer_key
        producer = producers.get(key)
        if producer is None:
            producer = Producer(name=row.producer, name_key=key[0], province=row.province, kind=row.kind)
            _assign(producer, row, PRODUCER_FIELDS)
            session.add(producer)
            await session.flush()
            producers[key] = producer
            changed = True
            if key not in run.created:  # a dry run creates it again in each batch (each one is rolled back)
                report.producers_created += 1
            run.created.add(key)
            run.touched.add(key)
        elif key not in run.touched:
            run.touched.add(key)
            if _assign(producer, row, PRODUCER_FIELDS):
                producer.updated_at = now
                report.producers_updated += 1
                changed = True
        assert producer.id is not None
        product = products.get((producer.id, row.product_key[1]))
        if product is None:
            product = Product(producer_id=producer.id, name=row.name, name_key=row.product_key[1], **_values(row))
            session.add(product)
            report.products_created += 1
            changed = True
        elif _assign(product, row, ("name", *PRODUCT_FIELDS)):
            product.updated_at = now
            report.products_updated += 1
            changed = True
        else:
            report.products_unchanged += 1
    await session.flush()
    return changed


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
