"""Search benchmark: our SearchIndex against PostgreSQL pg_trgm and SQLite FTS5, side by side in one run.

    .venv/bin/python bench/search.py                 # 1k, 20k and 100k products (about 5 minutes on 2 cores)
    .venv/bin/python bench/search.py --quick         # 1k only, a smoke run
    .venv/bin/python bench/search.py --sizes 20k --engines ours --misses 20

For each size: recall@5 and MRR@10 over the labelled queries of bench/queries.jsonl (expected ids extended to the
generated products that satisfy the same intent), p50/p95/p99 latency per query, index build time and memory.
Exit status: 0 when it ran (targets may still FAIL; --strict makes that 1), 2 when it could not run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import traceback
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the project root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.catalog_gen import SAMPLE_CATALOGUE, bundled_documents, generate
from bench.engines import TOP, CannotRun, PgConfig, Run, check_pg, percentile, run_fts, run_ours, run_pg_sync
from bench.labels import KINDS, QUERIES, Matcher, Query, load_queries
from models.search import Document

DEFAULT_SIZES = (1_000, 20_000, 100_000)
PG_DSN = os.environ.get("OCOP_BENCH_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test")
PG_THRESHOLD = 0.15
# pg_trgm takes 0.1-2 s a query on large catalogues: it runs every n-th query there to keep the run short.
PG_EVERY = {20_000: 2, 100_000: 7}
# Targets of the search issue: recall@5 at every size; p95 (ms) and rebuild (s) at given sizes.
RECALL_TARGET = 0.95
P95_TARGETS = {20_000: 10.0, 100_000: 30.0}
REBUILD_TARGETS = {20_000: 2.0}


@dataclass(frozen=True)
class Scores:
    recall5: float
    mrr: float
    by_kind: dict[str, float]


def first_rank(ranked: Sequence[int], expected: frozenset[int]) -> int | None:
    return next((rank for rank, i in enumerate(ranked[:TOP], start=1) if i in expected), None)


def scores(ranked: Sequence[Sequence[int]], queries: Sequence[Query]) -> Scores:
    """Hit@5 when any expected id is in the top 5; MRR from the first expected id within the top 10."""
    ranks = [first_rank(r, q.expected) for r, q in zip(ranked, queries, strict=True)]
    hits = [rank is not None and rank <= 5 for rank in ranks]
    per_kind: dict[str, list[bool]] = defaultdict(list)
    for q, hit in zip(queries, hits, strict=True):
        per_kind[q.kind].append(hit)
    return Scores(
        sum(hits) / len(queries),
        sum(1 / rank for rank in ranks if rank) / len(queries),
        {kind: sum(v) / len(v) for kind, v in per_kind.items()},
    )


def run_scores(run: Run, queries: Sequence[Query]) -> Scores:
    return scores(run.ranked, [queries[i] for i in run.indices])


def subset_scores(run: Run, indices: Sequence[int], queries: Sequence[Query]) -> Scores:
    """The scores of ``run`` (which ran every query) on the queries at ``indices`` only."""
    return scores([run.ranked[i] for i in indices], [queries[i] for i in indices])


# -- report ------------------------------------------------------------------------------------------------------


def load() -> str:
    """The 1, 5 and 15 minute load averages: other work on the machine slows every engine down."""
    try:
        return "/".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def label(size: int) -> str:
    return f"{size // 1000}k" if size % 1000 == 0 else str(size)


def parse_size(text: str) -> int:
    text = text.strip().lower()
    return int(float(text[:-1]) * 1000) if text.endswith("k") else int(text)


def print_table(size: int, runs: Sequence[Run], queries: Sequence[Query]) -> None:
    print(f"\n== {label(size)} products ==")
    print(
        f"{'engine':<17} {'queries':>7} {'recall@5':>8} {'MRR@10':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} "
        f"{'build s':>8} {'rebuild s':>9} {'memory MB':>9}"
    )
    for run in runs:
        s = run_scores(run, queries)
        p50, p95, p99 = (percentile(run.latencies_ms, p) for p in (50, 95, 99))
        rebuild = f"{run.rebuild_s:9.2f}" if run.rebuild_s is not None else f"{'-':>9}"
        print(
            f"{run.engine:<17} {len(run.indices):7d} {s.recall5:8.3f} {s.mrr:7.3f} {p50:8.2f} {p95:8.2f} {p99:8.2f} "
            f"{run.build_s:8.2f} {rebuild} {run.memory_mb:9.1f}"
        )
    for run in runs:
        for note in run.notes:
            print(f"  {run.engine}: {note}")
    print(f"  recall@5 by kind  {'':<12}" + "".join(f"{run.engine:>18}" for run in runs))
    kinds = [run_scores(run, queries).by_kind for run in runs]
    for kind in KINDS:
        print(f"  {'':<18}{kind:<12}" + "".join(f"{k.get(kind, float('nan')):18.3f}" for k in kinds))


def check_targets(size: int, runs: Sequence[Run], queries: Sequence[Query]) -> list[tuple[str, bool]]:
    ours = next((run for run in runs if run.engine == "ours"), None)
    if ours is None:
        return []
    recall = run_scores(ours, queries).recall5
    checks = [(f"{label(size)}: recall@5 {recall:.3f} >= {RECALL_TARGET}", recall >= RECALL_TARGET)]
    for other in runs:
        if other is ours:
            continue
        mine = subset_scores(ours, other.indices, queries).recall5
        theirs = run_scores(other, queries).recall5
        same = "" if len(other.indices) == len(queries) else f" (on the same {len(other.indices)} queries)"
        checks.append((f"{label(size)}: recall@5 {mine:.3f} > {other.engine} {theirs:.3f}{same}", mine > theirs))
    if size in P95_TARGETS:
        p95 = percentile(ours.latencies_ms, 95)
        checks.append((f"{label(size)}: p95 {p95:.2f} ms <= {P95_TARGETS[size]:.0f} ms", p95 <= P95_TARGETS[size]))
    if size in REBUILD_TARGETS and ours.rebuild_s is not None:
        limit = REBUILD_TARGETS[size]
        checks.append((f"{label(size)}: rebuild {ours.rebuild_s:.2f} s <= {limit:.0f} s", ours.rebuild_s <= limit))
    return checks


def print_misses(runs: Sequence[Run], queries: Sequence[Query], docs: Sequence[Document], limit: int) -> None:
    ours = next((run for run in runs if run.engine == "ours"), None)
    if ours is None or limit <= 0:
        return
    names = {d.id: d.name for d in docs}
    misses = [(q, r) for q, r in zip(queries, ours.ranked, strict=True) if not q.expected.intersection(r[:5])]
    print(f"  ours: {len(misses)} misses at top 5" + (f", first {limit}:" if len(misses) > limit else ":"))
    for q, ranked in misses[:limit]:
        wanted = ", ".join(names[i] for i in sorted(q.expected)[:2]) + (" …" if len(q.expected) > 2 else "")
        got = " | ".join(names[i] for i in ranked[:3]) or "nothing"
        print(f"    [{q.kind}] {q.text!r}: expected {wanted}; got {got}")


def print_slowest(runs: Sequence[Run], queries: Sequence[Query], limit: int) -> None:
    ours = next((run for run in runs if run.engine == "ours"), None)
    if ours is None or limit <= 0:
        return
    worst: dict[int, float] = {}
    for position, ms in enumerate(ours.latencies_ms):  # passes follow each other in query order
        i = position % len(queries)
        worst[i] = max(worst.get(i, 0.0), ms)
    slowest = sorted(worst, key=worst.__getitem__, reverse=True)[:limit]
    print("  ours: slowest queries: " + "; ".join(f"{queries[i].text!r} {worst[i]:.1f} ms" for i in slowest))


# -- main --------------------------------------------------------------------------------------------------------


def catalogue_queries(queries: Sequence[Query], docs: Sequence[Document], bundled: int) -> tuple[list[Query], int]:
    """The queries with expected ids extended to generated products that satisfy the same intent."""
    if len(docs) <= bundled:
        return list(queries), 0
    matcher = Matcher(docs[bundled:])
    out, extended = [], 0
    for q in queries:
        extra = matcher.matches(q.intent)
        extended += bool(extra)
        out.append(replace(q, expected=q.expected | extra))
    return out, extended


def run_size(size: int, bundled: Sequence[Document], queries: Sequence[Query], args: argparse.Namespace) -> list:
    start = time.perf_counter()
    docs = generate(size, bundled)
    generated = time.perf_counter() - start
    labelled, extended = catalogue_queries(queries, docs, len(bundled))
    mean = statistics.mean(len(q.expected) for q in labelled)
    print(
        f"\n{label(size)}: {len(docs)} products generated in {generated:.1f} s; {len(labelled)} queries, "
        f"{extended} with generated products among their expected ids (mean {mean:.1f} expected per query)",
        flush=True,
    )
    texts = [q.text for q in labelled]
    runs: list[Run] = []
    for engine in args.engines:
        if engine == "ours":
            small = size <= 20_000
            run = run_ours(docs, texts, args.passes if small else 1, 3 if small else 1, args.tracemalloc)
        elif engine == "fts":
            run = run_fts(docs, texts)
        else:
            every = args.pg_every or PG_EVERY.get(size, 1 if size < 20_000 else 7)
            run = run_pg_sync(docs, texts, PgConfig(args.dsn, args.pg_threshold, args.pg_description_words, every))
        runs.append(run)
        print(f"  {run.engine}: done", flush=True)
    print_table(size, runs, labelled)
    print_misses(runs, labelled, docs, args.misses)
    print_slowest(runs, labelled, args.slowest)
    return check_targets(size, runs, labelled)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--sizes", default=",".join(label(s) for s in DEFAULT_SIZES), help="e.g. 1k,20k,100k")
    parser.add_argument("--quick", action="store_true", help="smoke run: 1k products, one timed pass")
    parser.add_argument("--engines", default="ours,pg,fts", help="any of ours, pg, fts (default all three)")
    parser.add_argument("--passes", type=int, default=3, help="timed passes of ours up to 20k (default 3)")
    parser.add_argument("--pg-threshold", type=float, default=PG_THRESHOLD, help="pg_trgm.similarity_threshold")
    parser.add_argument("--pg-description-words", type=int, default=0, help="description words in the pg column")
    parser.add_argument("--pg-every", type=int, default=0, help="run every n-th query on pg (default by size)")
    parser.add_argument("--dsn", default=PG_DSN, help="PostgreSQL DSN (env OCOP_BENCH_POSTGRES_DSN)")
    parser.add_argument("--misses", type=int, default=5, help="misses of ours to list per size")
    parser.add_argument("--slowest", type=int, default=5, help="slowest queries of ours to list per size")
    parser.add_argument("--tracemalloc", action="store_true", help="also measure ours under tracemalloc")
    parser.add_argument("--catalogue", type=Path, default=SAMPLE_CATALOGUE)
    parser.add_argument("--queries", type=Path, default=QUERIES)
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target fails")
    args = parser.parse_args(argv)
    args.sizes = [1_000] if args.quick else [parse_size(s) for s in args.sizes.split(",") if s.strip()]
    args.engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    if not args.sizes or not args.engines or set(args.engines) - {"ours", "pg", "fts"}:
        parser.error("bad --sizes or --engines")
    if args.quick:
        args.passes = 1
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        bundled = bundled_documents(args.catalogue)
        queries = load_queries(args.queries)
        unknown = {i for q in queries for i in q.expected} - {d.id for d in bundled}
        if unknown:
            raise CannotRun(f"{args.queries}: expected ids not in the bundled catalogue: {sorted(unknown)[:10]}")
        if "pg" in args.engines:
            check_pg(args.dsn)
    except Exception as exc:  # any failure to read the inputs means no figures
        print(f"cannot run: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    print(
        f"search benchmark: {len(bundled)} bundled products, {len(queries)} labelled queries, "
        f"engines {', '.join(args.engines)}, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}, "
        f"load average {load()}"
    )
    checks: list[tuple[str, bool]] = []
    try:
        for size in args.sizes:
            checks.extend(run_size(size, bundled, queries, args))
    except CannotRun as exc:
        print(f"cannot run: {exc}", file=sys.stderr)
        return 2
    except Exception:  # an engine failed: no figures rather than silently skipping it
        traceback.print_exc()
        print("cannot run: an engine failed (traceback above)", file=sys.stderr)
        return 2
    print(f"\n== targets == (load average now {load()}: timings are only comparable on an idle machine)")
    for text, ok in checks:
        print(f"{'PASS' if ok else 'FAIL'}  {text}")
    return 1 if args.strict and not all(ok for _, ok in checks) else 0


if __name__ == "__main__":
    sys.exit(main())
