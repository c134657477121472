"""The engines the search benchmark compares: our SearchIndex, Tantivy, PostgreSQL pg_trgm and SQLite FTS5.

Each ``run_*`` builds its index over the documents, then runs the given queries and returns a ``Run``: the top ids
per query, per-query latency in ms (measured from Python, database round trip included), build time and memory.
"""

from __future__ import annotations

import asyncio
import gc
import os
import re
import resource
import sqlite3
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from importlib.metadata import version
from pathlib import Path

import asyncpg

from models.ocop import Group
from models.search import Document, SearchIndex
from models.text import normalize

TOP = 10  # hits fetched per query: MRR@10, recall@5
BENCH_DAY = date(2026, 11, 30)  # the day certificates are valid on (expired ones rank after equally relevant ones)
WARM_UP = 10  # untimed queries run first against the databases
MB = 1024 * 1024


class CannotRun(Exception):
    """The benchmark cannot produce its figures (missing input, database unreachable)."""


@dataclass
class Run:
    engine: str
    build_s: float
    memory_mb: float
    notes: list[str]
    indices: list[int]  # positions of the queries run, in the labelled set
    ranked: list[list[int]] = field(default_factory=list)  # top ids per query run
    latencies_ms: list[float] = field(default_factory=list)  # every timed query of every pass
    rebuild_s: float | None = None


def timed(search: Callable[[str], list[int]], texts: Sequence[str]) -> tuple[list[list[int]], list[float]]:
    ranked, latencies = [], []
    for text in texts:
        start = time.perf_counter()
        ranked.append(search(text))
        latencies.append((time.perf_counter() - start) * 1000)
    return ranked, latencies


def percentile(values: Sequence[float], p: int) -> float:
    """The p-th percentile, interpolated; NaN when there is nothing to rank."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    position = (len(ordered) - 1) * p / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


# -- ours --------------------------------------------------------------------------------------------------------


def rss_mb() -> float:
    """Resident memory of this process now (Linux), else its peak so far."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / MB
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _build(docs: Sequence[Document]) -> tuple[SearchIndex, float]:
    gc.collect()
    start = time.perf_counter()
    index = SearchIndex(docs)
    return index, time.perf_counter() - start


def _searcher(index: SearchIndex) -> Callable[[str], list[int]]:
    def search(text: str) -> list[int]:
        return [hit.document.id for hit in index.search(text, limit=TOP, today=BENCH_DAY).hits]

    return search


def run_ours(
    docs: Sequence[Document], texts: Sequence[str], passes: int, rebuilds: int = 1, trace: bool = False
) -> Run:
    """Build (memory: growth of resident memory over it), a cold pass; rebuild (the best of ``rebuilds``, as
    other work on the machine only ever slows a build down), a warm-up pass, timed passes.
    """
    before = rss_mb()
    index, build = _build(docs)
    gc.collect()
    grown = rss_mb() - before
    _, cold = timed(_searcher(index), texts)
    rebuild = float("inf")
    for _ in range(rebuilds):
        del index
        index, seconds = _build(docs)
        rebuild = min(rebuild, seconds)
    search = _searcher(index)
    timed(search, texts)  # warm-up: the caches a long-running bot has filled
    ranked: list[list[int]] = []
    latencies: list[float] = []
    for _ in range(passes):
        ranked, pass_ms = timed(search, texts)
        latencies.extend(pass_ms)
    notes = [
        "memory: growth of resident memory over the first build (index plus allocator slack)"
        + (f"; rebuild: best of {rebuilds}" if rebuilds > 1 else ""),
        "first pass on a fresh index (cold caches) p50/p95/p99 = "
        + "/".join(f"{percentile(cold, p):.2f}" for p in (50, 95, 99))
        + " ms; the table shows warm passes",
    ]
    if trace:
        del index, search
        gc.collect()
        tracemalloc.start()
        start = tracemalloc.get_traced_memory()[0]
        index = SearchIndex(docs)
        retained, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        notes.append(
            f"tracemalloc: index retains {(retained - start) / MB:.1f} MB, build peak {(peak - start) / MB:.1f} MB"
        )
    return Run("ours", build, grown, notes, list(range(len(texts))), ranked, latencies, rebuild)


# -- Tantivy -----------------------------------------------------------------------------------------------------

TANTIVY_FIELDS = ("name", "producer", "place", "category", "description")


@dataclass(frozen=True)
class TantivyConfig:
    """How the Tantivy baseline queries its index (see docs/BENCHMARKS.md for the settings tried on the control set).

    Every query word gives a boolean SHOULD over the fields: a BM25 term query boosted by the field's weight, and a
    fuzzy term query (Levenshtein distance 1 for words of ``fuzzy_1`` letters or more, 2 from ``fuzzy_2``;
    transposition costs 1; with ``fuzzy_unknown`` only for words that no field holds) boosted by the field's weight
    times ``fuzzy_weight`` (Tantivy gives a fuzzy match a constant score, its boost); with ``prefix_last`` the last
    word is also a prefix. The words are combined with SHOULD (any word may match; the scores add up) or, with
    ``conjunction``, MUST.
    """

    # The defaults are the best of the settings tried on the control set (docs/BENCHMARKS.md); the starting point,
    # our own field weights, was name 1, producer 0.6, place 0.5, category 0.5, description 0.35, fuzzy weight 0.5
    # for every word, prefix on the last word.
    name: float = 2.0
    producer: float = 0.6
    place: float = 0.8
    category: float = 0.3
    description: float = 0.5  # 0: the description is not queried
    fuzzy_1: int = 4
    fuzzy_2: int = 8
    fuzzy_weight: float = 2.0  # 0: no fuzzy queries
    fuzzy_unknown: bool = True  # fuzzy queries only for words that no field holds (likely typos)
    prefix_last: bool = False
    conjunction: bool = False

    def boosts(self) -> dict[str, float]:
        return {f: getattr(self, f) for f in TANTIVY_FIELDS if getattr(self, f) > 0}

    def describe(self) -> str:
        boosts = ", ".join(f"{f} {b:g}" for f, b in self.boosts().items())
        fuzzy = (
            f"fuzzy d1 from {self.fuzzy_1} letters, d2 from {self.fuzzy_2}, weight {self.fuzzy_weight:g}"
            + (" (unknown words only)" if self.fuzzy_unknown else "")
            if self.fuzzy_weight > 0
            else "no fuzzy"
        )
        return (
            f"BM25, boosts {boosts}; {fuzzy}; {'prefix on the last word; ' if self.prefix_last else ''}"
            f"words {'MUST' if self.conjunction else 'SHOULD'}"
        )


def tantivy_fields(doc: Document) -> dict[str, str]:
    """The accent-stripped text of each field (``models.text.normalize``), for the default tokenizer."""
    group = Group(doc.group).label
    return {
        "name": normalize(doc.name),
        "producer": normalize(doc.producer),
        "place": normalize(f"{doc.ward} {doc.address} {doc.province} {doc.old_province or ''}"),
        "category": normalize(f"{doc.subgroup} {group}"),
        "description": normalize(doc.description),
    }


def tantivy_query(tantivy, schema, text: str, config: TantivyConfig, known: Callable[[str], bool]):
    """The query for ``text`` (None when it has no word), built as TantivyConfig describes; ``known(word)`` tells
    whether any field holds the word.
    """
    Query, Occur = tantivy.Query, tantivy.Occur
    words = list(dict.fromkeys(normalize(text).split()))
    boosts = config.boosts()
    clauses = []
    for position, word in enumerate(words):
        last = config.prefix_last and position == len(words) - 1
        distance = 2 if len(word) >= config.fuzzy_2 else 1 if len(word) >= config.fuzzy_1 else 0
        if distance and config.fuzzy_unknown and known(word):
            distance = 0
        per_field = []
        for name, boost in boosts.items():
            per_field.append((Occur.Should, Query.boost_query(Query.term_query(schema, name, word), boost)))
            if config.fuzzy_weight > 0 and (distance or last):
                fuzzy = Query.fuzzy_term_query(schema, name, word, distance=distance, prefix=last)
                per_field.append((Occur.Should, Query.boost_query(fuzzy, boost * config.fuzzy_weight)))
        clauses.append((Occur.Must if config.conjunction else Occur.Should, Query.boolean_query(per_field)))
    return Query.boolean_query(clauses) if clauses else None


def run_tantivy(docs: Sequence[Document], texts: Sequence[str], config: TantivyConfig | None = None) -> Run:
    """Tantivy (``pip install '.[bench]'``) over accent-stripped fields, default tokenizer, BM25 plus fuzzy terms.

    The index is written to a temporary directory (so that its size can be reported) and read back through the
    page cache; build time covers normalising the text, adding the documents, the commit and the merges.
    """
    try:
        import tantivy
    except ImportError as exc:
        raise CannotRun("tantivy is not installed: pip install -e '.[bench]' (or leave it out with --engines)") from exc
    config = config or TantivyConfig()
    with tempfile.TemporaryDirectory(prefix="bench_tantivy_") as directory:
        start = time.perf_counter()
        builder = tantivy.SchemaBuilder()
        builder.add_integer_field("id", stored=False, indexed=False, fast=True)
        for name in TANTIVY_FIELDS:
            builder.add_text_field(name, stored=False)
        schema = builder.build()
        index = tantivy.Index(schema, path=directory)
        writer = index.writer()
        for d in docs:
            writer.add_document(tantivy.Document(id=d.id, **tantivy_fields(d)))
        writer.commit()
        writer.wait_merging_threads()
        index.reload()
        searcher = index.searcher()
        build = time.perf_counter() - start
        size = sum(f.stat().st_size for f in Path(directory).iterdir() if f.is_file())

        def known(word: str) -> bool:
            return any(searcher.doc_freq(name, word) for name in TANTIVY_FIELDS)

        def search(text: str) -> list[int]:
            query = tantivy_query(tantivy, schema, text, config, known)
            if query is None:
                return []
            hits = searcher.search(query, TOP, count=False).hits
            return searcher.fast_field_values("id", [address for _score, address in hits]) if hits else []

        timed(search, texts[:WARM_UP])
        ranked, latencies = timed(search, texts)
    notes = [
        f"tantivy {version('tantivy')}; memory: index size on disk "
        f"({searcher.num_segments} segments); {config.describe()}"
    ]
    return Run("tantivy", build, size / MB, notes, list(range(len(texts))), ranked, latencies)


# -- SQLite FTS5 -------------------------------------------------------------------------------------------------


def fts_query(text: str) -> str:
    """The user's raw words, each quoted, OR-ed."""
    return " OR ".join(f'"{word}"' for word in re.findall(r"\w+", text.lower()))


def run_fts(docs: Sequence[Document], texts: Sequence[str]) -> Run:
    """SQLite FTS5 in memory over name, producer, place and description, unicode61 remove_diacritics 2, bm25."""
    conn = sqlite3.connect(":memory:")
    start = time.perf_counter()
    conn.execute(
        "CREATE VIRTUAL TABLE product USING fts5("
        "name, producer, place, description, tokenize = 'unicode61 remove_diacritics 2')"
    )
    conn.executemany(
        "INSERT INTO product(rowid, name, producer, place, description) VALUES (?, ?, ?, ?, ?)",
        (
            (d.id, d.name, d.producer, f"{d.ward} {d.address} {d.province} {d.old_province or ''}", d.description)
            for d in docs
        ),
    )
    conn.execute("INSERT INTO product(product) VALUES ('optimize')")
    conn.commit()
    build = time.perf_counter() - start
    size = conn.execute("PRAGMA page_count").fetchone()[0] * conn.execute("PRAGMA page_size").fetchone()[0]
    sql = "SELECT rowid FROM product WHERE product MATCH ? ORDER BY bm25(product) LIMIT ?"

    def search(text: str) -> list[int]:
        match = fts_query(text)
        return [row[0] for row in conn.execute(sql, (match, TOP))] if match else []

    try:
        timed(search, texts[:WARM_UP])
        ranked, latencies = timed(search, texts)
    finally:
        conn.close()
    return Run("sqlite fts5", build, size / MB, ["memory: database pages"], list(range(len(texts))), ranked, latencies)


# -- PostgreSQL pg_trgm ------------------------------------------------------------------------------------------


def pg_document(doc: Document, description_words: int = 0) -> str:
    """The trigram column: normalised name, producer, provinces and the first few new words of the description."""
    head = normalize(f"{doc.name} {doc.producer} {doc.province} {doc.old_province or ''}")
    seen = set(head.split())
    extra: list[str] = []
    for word in normalize(doc.description).split():
        if len(extra) >= description_words:
            break
        if len(word) >= 3 and word not in seen:
            seen.add(word)
            extra.append(word)
    return " ".join((head, *extra))


@dataclass(frozen=True)
class PgConfig:
    dsn: str
    threshold: float  # pg_trgm.similarity_threshold, the cut of the % operator
    description_words: int  # description words in the trigram column
    every: int  # run every n-th query only (pg_trgm is slow on large catalogues)
    indices: tuple[int, ...] | None = None  # the positions of the queries to run, instead of every n-th


async def _pg_connect(dsn: str) -> asyncpg.Connection:
    try:
        return await asyncpg.connect(dsn, timeout=10)
    except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
        raise CannotRun(f"PostgreSQL unreachable at {dsn}: {exc}") from exc


async def _pg_run(
    conn: asyncpg.Connection, schema: str, docs: Sequence[Document], texts: Sequence[str], config: PgConfig
) -> Run:
    start = time.perf_counter()
    rows = [(d.id, pg_document(d, config.description_words)) for d in docs]
    await conn.execute(f"CREATE TABLE {schema}.product (id integer PRIMARY KEY, doc text NOT NULL)")
    await conn.copy_records_to_table("product", records=rows, schema_name=schema)
    await conn.execute(f"CREATE INDEX product_doc_trgm ON {schema}.product USING gin (doc gin_trgm_ops)")
    await conn.execute(f"ANALYZE {schema}.product")
    build = time.perf_counter() - start
    total = await conn.fetchval(f"SELECT pg_total_relation_size('{schema}.product')")
    index = await conn.fetchval(f"SELECT pg_relation_size('{schema}.product_doc_trgm')")
    await conn.execute(f"SET pg_trgm.similarity_threshold = {config.threshold}")
    statement = await conn.prepare(
        f"SELECT id FROM {schema}.product WHERE doc % $1 ORDER BY similarity(doc, $1) DESC, id LIMIT {TOP}"
    )
    indices = list(config.indices) if config.indices is not None else list(range(0, len(texts), config.every))
    ranked: list[list[int]] = []
    latencies: list[float] = []
    for position, i in enumerate([*indices[:WARM_UP], *indices]):
        begin = time.perf_counter()
        key = normalize(texts[i])
        ids = [row[0] for row in await statement.fetch(key)] if key else []
        if position >= min(WARM_UP, len(indices)):
            latencies.append((time.perf_counter() - begin) * 1000)
            ranked.append(ids)
    notes = [
        f"memory: table and GIN index on disk (index {index / MB:.1f} MB); % with similarity_threshold "
        f"{config.threshold}, column of name, producer, provinces"
        + (f" and {config.description_words} description words" if config.description_words else "")
    ]
    if config.every > 1:
        notes.append(f"ran one query in {config.every}: {len(indices)} of {len(texts)}")
    return Run("postgres pg_trgm", build, total / MB, notes, indices, ranked, latencies)


async def run_pg(docs: Sequence[Document], texts: Sequence[str], config: PgConfig) -> Run:
    """PostgreSQL pg_trgm in a schema of our own, dropped afterwards (with pg_trgm when we had to install it)."""
    conn = await _pg_connect(config.dsn)
    schema = f"bench_search_{os.getpid()}"
    try:
        await conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}")
        installed = await conn.fetchval(
            "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace"
            " WHERE e.extname = 'pg_trgm'"
        )
        if installed is None:  # into our schema, so that dropping the schema removes the extension as well
            await conn.execute(f"CREATE EXTENSION pg_trgm WITH SCHEMA {schema}")
            installed = schema
        await conn.execute(f"SET search_path = {schema}, {installed}")
        return await _pg_run(conn, schema, docs, texts, config)
    except asyncpg.PostgresError as exc:
        raise CannotRun(f"PostgreSQL error: {exc}") from exc
    finally:
        try:
            await conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        finally:
            await conn.close()


def check_pg(dsn: str) -> None:
    """Fail early when PostgreSQL cannot be reached."""

    async def connect() -> None:
        await (await _pg_connect(dsn)).close()

    asyncio.run(connect())


def run_pg_sync(docs: Sequence[Document], texts: Sequence[str], config: PgConfig) -> Run:
    return asyncio.run(run_pg(docs, texts, config))
