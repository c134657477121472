"""Label the hand-written chat set: bench/chat_queries.src → bench/chat_queries.jsonl.

    .venv/bin/python bench/make_chat_queries.py            # rewrites bench/chat_queries.jsonl
    .venv/bin/python bench/make_chat_queries.py --check    # exit 1 when the .jsonl is not what the source gives

The queries and their intents are written by hand in ``chat_queries.src`` (its header explains the notation): whole
chat sentences, English, Telex/VNI/VIQR leftovers, synonyms and regional variants, filter phrases. This script only
parses the intents and fills in ``expected`` with every bundled product that satisfies the intent (the same
``Matcher`` as the control set). It refuses a query whose intent matches no bundled product, or more than
``MAX_EXPECTED`` of them unless the line is marked ``!broad`` (a filter phrase such as "đồ uống" or "4 sao" alone:
any of its products in the top 5 is a hit). Broad lines carry ``"broad": true`` in the .jsonl.
"""

from __future__ import annotations

import argparse
import json
import sys
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the project root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.catalog_gen import SAMPLE_CATALOGUE, bundled_documents
from bench.labels import CHAT_KINDS, CHAT_QUERIES, Intent, Matcher, Query, Word, resolve_place

SOURCE = Path(__file__).with_name("chat_queries.src")
MAX_EXPECTED = 25  # more bundled products than this only for lines marked !broad
MIN_PER_KIND = 45


class SourceError(ValueError):
    pass


@dataclass(frozen=True)
class Line:
    number: int
    text: str
    kind: str
    intent: Intent
    broad: bool


def _numbers(token: str, what: str, number: int) -> tuple[int, ...]:
    try:
        return tuple(int(n) for n in token.split(","))
    except ValueError:
        raise SourceError(f"line {number}: bad {what} {token!r}") from None


def parse_intent(spec: str, number: int) -> tuple[Intent, bool]:
    """The intent of the notation after ``::`` (see the header of chat_queries.src) and whether it is broad."""
    words: list[Word] = []
    place: str | None = None
    stars: tuple[int, ...] | None = None
    groups: tuple[int, ...] | None = None
    potential_5 = broad = False
    for token in unicodedata.normalize("NFC", spec).split():
        if token.startswith("@"):
            place = resolve_place(token[1:].replace("_", " ")).name  # raises unless it names exactly one place
        elif token.startswith("*"):
            stars = _numbers(token[1:], "stars", number)
        elif token.startswith("#"):
            groups = _numbers(token[1:], "groups", number)
        elif token == "+p5":
            potential_5 = True
        elif token == "!broad":
            broad = True
        elif token[0] in "!+":
            raise SourceError(f"line {number}: unknown flag {token!r}")
        else:
            alternatives = tuple(a.replace("_", " ").lower() for a in token.split("|"))
            words.append(alternatives[0] if len(alternatives) == 1 else alternatives)
    return Intent(tuple(words), place, stars, False, potential_5, groups), broad


def read_source(path: Path = SOURCE) -> list[Line]:
    lines: list[Line] = []
    kind: str | None = None
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.startswith("[") and stripped.endswith("]"):
            kind = stripped[1:-1]
            if kind not in CHAT_KINDS:
                raise SourceError(f"line {number}: unknown kind {kind!r}")
            continue
        if kind is None or "::" not in stripped:
            raise SourceError(f"line {number}: expected `query  ::  intent` under a [kind] line")
        text, spec = (part.strip() for part in stripped.split("::", 1))
        intent, broad = parse_intent(spec, number)
        lines.append(Line(number, unicodedata.normalize("NFC", text), kind, intent, broad))
    return lines


def label(lines: Sequence[Line], matcher: Matcher) -> tuple[list[Query], list[bool]]:
    """The queries with their expected ids; raises on an empty or (unless broad) too large expected set."""
    queries: list[Query] = []
    seen: set[str] = set()
    problems: list[str] = []
    for line in lines:
        expected = matcher.matches(line.intent)
        if line.text in seen:
            problems.append(f"line {line.number}: duplicate query {line.text!r}")
        seen.add(line.text)
        if not expected:
            problems.append(f"line {line.number}: {line.text!r}: the intent matches no bundled product")
        elif len(expected) > MAX_EXPECTED and not line.broad:
            problems.append(
                f"line {line.number}: {line.text!r}: {len(expected)} bundled products (mark it !broad if meant)"
            )
        queries.append(Query(line.text, expected, line.kind, line.intent))
    if problems:
        raise SourceError("\n".join(problems))
    return queries, [line.broad for line in lines]


def render(queries: Sequence[Query], broad: Sequence[bool]) -> str:
    out = []
    for q, wide in zip(queries, broad, strict=True):
        line: dict[str, object] = {
            "query": q.text, "expected": sorted(q.expected), "kind": q.kind, "intent": q.intent.to_json()
        }  # fmt: skip
        if wide:
            line["broad"] = True
        out.append(json.dumps(line, ensure_ascii=False) + "\n")
    return "".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--source", type=Path, default=SOURCE)
    parser.add_argument("--catalogue", type=Path, default=SAMPLE_CATALOGUE)
    parser.add_argument("--out", type=Path, default=CHAT_QUERIES)
    parser.add_argument("--check", action="store_true", help="only check that --out is up to date")
    parser.add_argument("--show", action="store_true", help="print each query with the names it expects")
    parser.add_argument("--min-per-kind", type=int, default=MIN_PER_KIND, help="queries required of each kind")
    args = parser.parse_args(argv)
    try:
        docs = bundled_documents(args.catalogue)
        queries, broad = label(read_source(args.source), Matcher(docs))
    except (SourceError, ValueError) as exc:
        print(f"{args.source}: {exc}", file=sys.stderr)
        return 1
    counts = Counter(q.kind for q in queries)
    short = [kind for kind in CHAT_KINDS if counts[kind] < args.min_per_kind]
    if short:
        print(f"fewer than {args.min_per_kind} queries of kind {', '.join(short)}", file=sys.stderr)
        return 1
    if args.show:
        names = {d.id: d.name for d in docs}
        for q, wide in zip(queries, broad, strict=True):
            shown = "; ".join(names[i] for i in sorted(q.expected)[:6]) + (" …" if len(q.expected) > 6 else "")
            print(f"[{q.kind}] {q.text!r} → {len(q.expected)}{' (broad)' if wide else ''}: {shown}")
    text = render(queries, broad)
    summary = ", ".join(f"{kind} {counts[kind]}" for kind in CHAT_KINDS)
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.exists() else ""
        if current != text:
            print(f"{args.out} is out of date: run bench/make_chat_queries.py", file=sys.stderr)
            return 1
        print(f"{args.out} is up to date ({len(queries)} queries: {summary})")
        return 0
    args.out.write_text(text, encoding="utf-8")
    print(f"{len(queries)} queries written to {args.out} ({summary})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
