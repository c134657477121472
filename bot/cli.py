"""The `ocop-bot` command: run the bot, manage the database and the catalogue."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

from bot import maintenance
from bot.broadcast_sender import build_sender
from bot.channel import ChannelRuntime, ChannelSpec, RecentSends, Shared
from bot.channels import configured, how_to_enable
from bot.config import ConfigError, Settings, load_settings
from bot.console import CHANNEL as CONSOLE_CHANNEL
from bot.console import ConsoleChannel, console_services, default_user
from bot.housekeeping import housekeeping
from bot.links import link_signer
from bot.logs import configure_logging
from bot.monitoring import CHANNEL_STATES
from bot.progress import Meter, Reported
from bot.runtime import build_services, freeze_startup_heap, link_book
from bot.web import make_app, start_site
from handlers.app import Conversation
from handlers.catalog_admin import explain
from handlers.context import Services
from handlers.exports import labelled
from handlers.i18n import translator
from models.catalog import catalog_summary
from models.catalog_export import COLUMNS, product_table
from models.catalog_import import ImportFileError, ImportReport, import_file
from models.db import Database
from models.lexicon import gloss
from models.ocop import Group
from models.sample import load_sample_if_empty
from models.search import MAX_QUERY_CHARS, Hit, Notice, SearchIndex, SearchResult
from models.search_service import load_documents
from models.sheet import machine_rows
from models.tabular import Sheet, UnreadableFile, write_csv, write_workbook

log = logging.getLogger("ocop_bot")
Command = Callable[[argparse.Namespace, Settings], Awaitable[int]]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ocop-bot", description="OCOP trade-connection bot (Telegram, Zalo).")
    parser.add_argument("--config", type=Path, help="config file (default: ./config.toml when present)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="migrate, load the sample catalogue when empty, start the bot")
    run.set_defaults(handler=cmd_run)

    serve = commands.add_parser("serve", help="run the configured channels (Telegram, Zalo) and the web server")
    serve.set_defaults(handler=cmd_serve)

    chat = commands.add_parser("chat", help="chat with the bot in this terminal (console channel)")
    chat.add_argument("--as", dest="role", choices=["buyer", "producer", "admin"], help="start as this role")
    chat.add_argument("--user", default=default_user(), help="who you are (default: your login name)")
    chat.set_defaults(handler=cmd_chat)

    db = commands.add_parser("db", help="database maintenance")
    db_commands = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    db_commands.add_parser("upgrade", help="apply the migrations").set_defaults(handler=cmd_db_upgrade)

    imp = commands.add_parser("import", help="import an OCOP list (CSV or XLSX)")
    imp.add_argument("file", type=Path)
    imp.add_argument("--dry-run", action="store_true", help="validate and report, write nothing")
    imp.set_defaults(handler=cmd_import)

    search = commands.add_parser("search", help="search the catalogue ('-' reads one query per line from stdin)")
    search.add_argument("query", help="the query, or - to read queries from stdin")
    search.add_argument("--limit", type=int, default=10, help="results per query (1-100, default 10)")
    search.add_argument("--json", action="store_true", help="JSON array (JSON Lines with -)")
    search.set_defaults(handler=cmd_search)

    exp = commands.add_parser("export", help="export data")
    exp.add_argument("what", choices=["products"])
    exp.add_argument("--format", choices=["csv", "xlsx"], default="csv")
    exp.add_argument("--output", type=Path, help="file to write (CSV goes to stdout when omitted)")
    exp.add_argument(
        "--labels", choices=["vi", "en"],
        help="headers and values for people, in Vietnamese or English, dates dd/mm/yyyy (default: machine columns);"
        " either form imports back unchanged",
    )
    exp.set_defaults(handler=cmd_export)

    qr = commands.add_parser("qr", help="QR codes and deep links: a product, a producer, or an event's booth sheet")
    qr.add_argument("what", choices=["product", "producer", "event"])
    qr.add_argument("id", help="the record's id")
    qr.add_argument("--output", type=Path, default=Path("."), help="folder to write the files in (default: here)")
    qr.add_argument("--event", dest="at_event", help="a product's or producer's code printed for this event id")
    qr.add_argument("--booth", default="", help="with --event: the booth or table label (1-8 letters or digits)")
    qr.add_argument("--code", action="store_true", help="an event: its own code (PNG, SVG) instead of the sheet")
    qr.add_argument("--booths", type=Path,
                    help="an event's sheet: CSV of producer_id,booth (a header row is allowed), booths on the labels")
    qr.add_argument("--producer", type=int, action="append", default=[],
                    help="an event's sheet: add this producer (repeatable) besides those registered for the event")
    qr.add_argument("--language", choices=["vi", "en"], help="the sheet's words (default: default_language)")
    qr.set_defaults(handler=cmd_qr)
    maintenance.add_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings(args.config)
    except ConfigError as exc:
        print(f"ocop-bot: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings)
    try:
        return asyncio.run(args.handler(args, settings))
    except KeyboardInterrupt:
        return 130


async def open_database(settings: Settings) -> Database:
    """The configured database, migrated to the latest schema."""
    db = Database(settings.database.url, echo=settings.database.echo)
    await db.upgrade()
    return db


async def cmd_db_upgrade(args: argparse.Namespace, settings: Settings) -> int:
    db = await open_database(settings)
    print(f"database {db.safe_url} is up to date")
    await db.dispose()
    return 0


async def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    db = await open_database(settings)
    try:
        if settings.catalog.load_sample_when_empty:
            report = await load_sample_if_empty(db)
            if report:
                print(f"Loaded the bundled SAMPLE catalogue: {report.products_created} products.")
        async with db.session() as session:
            summary = await catalog_summary(session)
        stars = ", ".join(f"{stars}★ {count}" for stars, count in summary.by_stars.items())
        groups = "\n".join(f"  {Group(g).label}: {n}" for g, n in summary.by_group.items())
        print(
            f"OCOP catalogue: {summary.products} products from {summary.producers} producers "
            f"in {summary.provinces} provinces ({stars}; potential 5★ {summary.potential_5}).\n{groups}"
        )
        if configured(settings):
            return await serve(settings, db)
        print(f"No channel is configured (set {how_to_enable()}): starting the console chat. Try: che thai nguyen")
        services = build_services(settings, db)
        async with local_dashboard(settings, services):
            await chat(settings, services, ConsoleChannel(Conversation(services), default_user()))
        return 0
    finally:
        await db.dispose()


async def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    if not configured(settings):
        print(f"ocop-bot serve: no channel is configured (set {how_to_enable()}); "
              "try `ocop-bot chat` for the console.", file=sys.stderr)
        return 2
    db = await open_database(settings)
    try:
        if settings.catalog.load_sample_when_empty:
            await load_sample_if_empty(db)
        return await serve(settings, db)
    finally:
        await db.dispose()


async def serve(
    settings: Settings,
    db: Database,
    *,
    channels: Sequence[ChannelSpec] | None = None,
    stop: asyncio.Event | None = None,
) -> int:
    """Run every configured channel (of ``channels``; the registry by default), the web server, the broadcast
    sender and the process's housekeeping until SIGINT/SIGTERM (or until ``stop`` is set)."""
    services = build_services(settings, db, channels)
    conversation = Conversation(services)
    shared = Shared(settings, conversation, link_signer(settings.web), RecentSends())
    token = settings.metrics.token.get_secret_value() if settings.metrics.token else None
    app = make_app(services, shared.signer, metrics_token=token)
    loop = asyncio.get_running_loop()
    signals = (signal.SIGINT, signal.SIGTERM) if stop is None else ()
    stop = stop or asyncio.Event()
    for signum in signals:
        loop.add_signal_handler(signum, stop.set)
    runtimes: list[ChannelRuntime] = []
    runs: list[asyncio.Task[None]] = []
    sender = None
    status = 0
    runner = None
    try:
        await services.search.index()  # built before the first update: a handler never waits for it
        for spec in configured(settings, channels):
            runtimes.append(spec.build(shared))
            app[CHANNEL_STATES][runtimes[-1].name] = runtimes[-1].state  # /readyz and /metrics ask it
            await runtimes[-1].start(app)  # before the web server starts: webhook routes are added to it
        runner, port = await start_site(app, settings.web.host, settings.web.port)
        services.web_url = services.web_url or local_url(settings.web.host, port)
        runs = [asyncio.create_task(runtime.run(), name=runtime.name) for runtime in runtimes]
        sender = build_sender(settings, db, clock=services.clock, shared=shared, channels=channels)
        if sender is not None:
            runs.append(asyncio.create_task(sender.run(), name="broadcasts"))  # sender.close() ends it
        async with housekeeping(services):
            names = ", ".join(runtime.name for runtime in runtimes)
            print(f"ocop-bot serving {names}; web server on {settings.web.host}:{port}", flush=True)
            freeze_startup_heap()
            status = await _until_stopped(stop, runs[:len(runtimes)])
    finally:
        if sender is not None:
            await sender.close()  # sends in flight finish and are written: nobody gets them twice after a restart
        for runtime in runtimes:
            runtime.stopping.set()  # their loops end their round, then each run() stops its channel
        await asyncio.gather(*runs, return_exceptions=True)
        if not runs:  # started, never run (the web server could not start)
            for runtime in runtimes:
                await runtime.stop()
        if runner is not None:
            await runner.cleanup()
        for signum in signals:
            loop.remove_signal_handler(signum)
    return status


async def _until_stopped(stop: asyncio.Event, channels: list[asyncio.Task[None]]) -> int:
    """Until SIGTERM (0), or until every channel has stopped on its own — their credentials refused (1)."""
    if not channels:
        await stop.wait()
        return 0
    stopped = asyncio.ensure_future(stop.wait())
    every_channel = asyncio.ensure_future(asyncio.wait(channels))
    try:
        await asyncio.wait([stopped, every_channel], return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopped.cancel()
        every_channel.cancel()
    if stop.is_set():
        return 0
    print("ocop-bot: no channel is running (see the log above for what to fix); stopping", file=sys.stderr, flush=True)
    return 1


def local_url(host: str, port: int) -> str:
    """Our own address, for links when no public_url is set (a laptop)."""
    shown = "127.0.0.1" if host in ("", "0.0.0.0") else f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


@asynccontextmanager
async def local_dashboard(settings: Settings, services: Services) -> AsyncIterator[None]:
    """The web server (the dashboard) beside the console chat; the chat goes on without it if the port is taken."""
    try:
        token = settings.metrics.token.get_secret_value() if settings.metrics.token else None
        app = make_app(services, link_signer(settings.web), metrics_token=token)
        runner, port = await start_site(app, settings.web.host, settings.web.port)
    except OSError as error:
        print(f"The dashboard is not served: {settings.web.host}:{settings.web.port}: {error.strerror}", flush=True)
        yield
        return
    services.web_url = services.web_url or local_url(settings.web.host, port)
    print(f"Dashboard on {services.web_url}/dashboard — an admin types /dashboard for a login link.", flush=True)
    try:
        yield
    finally:
        await runner.cleanup()


async def chat(settings: Settings, services: Services, console: ConsoleChannel) -> None:
    """The console channel, the process's housekeeping and a broadcast sender for the console's lane (a broadcast
    composed in a terminal reaches the other terminals with no server running) until the input ends. The terminal
    is a person's chat: the bot's own INFO lines stay out of it (warnings and DEBUG, when asked for, still show)."""
    if logging.getLogger().getEffectiveLevel() == logging.INFO:
        logging.getLogger().setLevel(logging.WARNING)
    shared = Shared(settings, console.conversation, link_signer(settings.web), RecentSends())
    sender = build_sender(settings, services.db, clock=services.clock, shared=shared, channels=[CONSOLE_CHANNEL])
    assert sender is not None  # the console's lane needs no platform
    sending = asyncio.create_task(sender.run(), name="broadcasts")
    try:
        async with housekeeping(services):
            await console.start()
            await console.run()
    finally:
        await sender.close()
        sending.cancel()
        await asyncio.gather(sending, return_exceptions=True)


async def cmd_chat(args: argparse.Namespace, settings: Settings) -> int:
    db = await open_database(settings)
    try:
        if settings.catalog.load_sample_when_empty:
            await load_sample_if_empty(db)
        services = console_services(build_services(settings, db), args.user, args.role == "admin")
        await chat(settings, services, ConsoleChannel(Conversation(services), args.user, begin_as=args.role))
        return 0
    finally:
        await db.dispose()


async def cmd_import(args: argparse.Namespace, settings: Settings) -> int:
    """Import a file in batches (each its own transaction: the bot keeps answering meanwhile), its progress shown
    on stderr (bot/progress.py)."""
    db = await open_database(settings)

    async def progress(report: ImportReport) -> None:
        meter(report.rows_done, report.rows)

    try:
        with Meter("import", "rows") as meter:
            report = await import_file(db, args.file, dry_run=args.dry_run, after_batch=progress)
    except (UnreadableFile, ImportFileError) as exc:
        print(f"ocop-bot import: {args.file}: {explain(translator('en'), exc)}", file=sys.stderr)
        return 1
    finally:
        await db.dispose()
    print(format_report(report))
    return 1 if report.errors and not report.imported else 0


def format_report(report: ImportReport) -> str:
    verb = "would import" if report.dry_run else "imported"
    lines = [
        f"{report.rows} rows read; {verb} {report.imported} products "
        f"({report.products_created} new, {report.products_updated} updated, {report.products_unchanged} unchanged; "
        f"{report.producers_created} new producers, {report.producers_updated} updated); "
        f"{len(report.errors)} rows rejected."
    ]
    english = translator("en")
    lines += [f"  line {error.line}: {explain(english, error.problem)}" for error in report.errors]
    return "\n".join(lines)


async def cmd_search(args: argparse.Namespace, settings: Settings) -> int:
    db = await open_database(settings)
    try:
        if settings.catalog.load_sample_when_empty:
            await load_sample_if_empty(db)
        index = SearchIndex(await load_documents(db))
    finally:
        await db.dispose()
    limit = max(1, min(args.limit, 100))
    queries = (line.rstrip("\n") for line in sys.stdin) if args.query == "-" else iter([args.query])
    for query in queries:
        result = index.search(query, limit=limit)
        if args.json:
            hits = [hit_json(hit, closest=result.partial) for hit in result.hits]
            print(json.dumps(hits, ensure_ascii=False), flush=True)
        else:
            print(format_result(result), flush=True)
    return 0


def hit_json(hit: Hit, closest: bool = False) -> dict[str, object]:
    """One hit for --json; ``closest`` when the result holds the closest matches, not full ones."""
    doc = hit.document
    return {
        "id": doc.id,
        "name": doc.name,
        "producer": doc.producer,
        "province": doc.province,
        "old_province": doc.old_province,
        "region": doc.region,
        "group": doc.group,
        "group_name": Group(doc.group).label,
        "kind_en": gloss(doc.name),
        "stars": doc.stars,
        "potential_5": doc.potential_5,
        "score": hit.score,
        "closest": closest,
    }


def format_result(result: SearchResult) -> str:
    lines: list[str] = []
    if result.notice is Notice.EMPTY:
        return "Type what you are looking for, e.g. \"che thai nguyen\" or \"mat ong ha giang 4 sao\"."
    if result.notice is Notice.TOO_LONG:
        lines.append(f"(query shortened to its first {MAX_QUERY_CHARS} characters)")
    for ambiguous in result.query.ambiguous:
        names = ", ".join(place.name for place in ambiguous.candidates)
        lines.append(f"'{ambiguous.text}' could be {names}: showing all of them.")
    if result.ignored:
        lines.append("Left out (not in the catalogue): " + ", ".join(result.ignored))
    if not result.hits:
        lines.append("No products found.")
        return "\n".join(lines)
    if result.relaxed:
        lines.append(f"Nothing matches with the {result.relaxed} filter; the closest without it:")
    elif result.partial:
        lines.append("No product matches every word; the closest:")
    noun = "product" if result.total == 1 else "products"
    lines.append(f"{result.total} {noun}; showing {result.offset + 1}-{result.offset + len(result.hits)}:")
    for rank, hit in enumerate(result.hits, start=result.offset + 1):
        doc = hit.document
        stars = f"{doc.stars}★" + ("+" if doc.potential_5 else "")
        where = f"{doc.producer} — {doc.place_label}"
        lines.append(f"{rank:>3}. {stars:<4} {doc.name} — {where}  [{hit.score:.2f}] #{doc.id}")
    return "\n".join(lines)


async def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    db = await open_database(settings)
    try:
        table = await product_table(db)
    finally:
        await db.dispose()
    if args.labels:
        t = translator(args.labels)
        sheet = labelled(table, t, t("export.kind.products"))
    else:
        sheet = Sheet(COLUMNS, machine_rows(table))
    with Meter("export", "rows") as meter:
        status = _write_export(args, Sheet(sheet.header, Reported(sheet.rows, meter), sheet.title))
    if status == 0 and args.output:
        print(f"wrote {len(sheet.rows)} products to {args.output}", file=sys.stderr)
    return status


def _write_export(args: argparse.Namespace, sheet: Sheet) -> int:
    if args.format == "xlsx":
        if args.output is None:
            print("ocop-bot export: --output FILE is required for xlsx", file=sys.stderr)
            return 2
        write_workbook([sheet], args.output)
    elif args.output is None:
        write_csv(sheet.header, sheet.rows, sys.stdout)
    else:
        with args.output.open("w", encoding="utf-8-sig", newline="") as out:
            write_csv(sheet.header, sheet.rows, out)
    return 0


async def cmd_qr(args: argparse.Namespace, settings: Settings) -> int:
    """``ocop-bot qr product|producer|event ID``: PNG and SVG of the link, or an event's booth sheet (DOCX)."""
    from handlers.deeplink import make_codes
    from models import parse
    from models.deeplinks import BOOTH, Target
    from models.errors import StaleAction

    links = link_book(settings)
    item, event = parse.record_id(args.id), parse.record_id(args.at_event) if args.at_event else None
    target = {"product": Target.PRODUCT, "producer": Target.PRODUCER, "event": Target.EVENT}[args.what]
    problem = ""
    if item is None or (args.at_event and event is None):
        problem = "ids are whole numbers from 1"
    elif args.booth and (event is None or not BOOTH.fullmatch(args.booth)):
        problem = "--booth needs --event and is 1-8 letters or digits"
    elif event is not None and target is Target.EVENT:
        problem = "--event goes with a product or a producer"
    elif not links.ready:
        problem = "deep links need [links] secret (or [web] secret) in the configuration"
    if problem:
        print(f"ocop-bot qr: {problem}", file=sys.stderr)
        return 2
    if not links.telegram_username:
        print("ocop-bot qr: [links] telegram_username is not set: Telegram links cannot be made", file=sys.stderr)
    try:
        booths = read_booths(args.booths) if args.booths else None  # None: the event's grid's booths
    except (OSError, ValueError) as error:
        print(f"ocop-bot qr: {args.booths}: {error}", file=sys.stderr)
        return 2
    t = translator(args.language or settings.default_language)
    db = await open_database(settings)
    try:
        async with db.session() as session:
            codes = await make_codes(session, links, t, target, item or 0, event=event, booth=args.booth,
                                     sheet=not args.code, booths=booths, producers=tuple(args.producer))
    except StaleAction:
        print(f"ocop-bot qr: no {args.what} {item} (or it is hidden)", file=sys.stderr)
        return 1
    finally:
        await db.dispose()
    if target is Target.EVENT and not args.code and not codes.labels:
        print("ocop-bot qr: no producer with listed products exhibits at this event (add some with --producer)",
              file=sys.stderr)
        return 1
    args.output.mkdir(parents=True, exist_ok=True)
    for attachment in codes.files:
        (args.output / attachment.filename).write_bytes(attachment.data)
        print(f"wrote {args.output / attachment.filename}")
    if codes.labels:
        print(f"{codes.labels} labelled codes")
    else:
        print(f"link: {codes.url}\ncode: {codes.code}")
    return 0


def read_booths(path: Path) -> dict[int, str]:
    """producer_id,booth rows (a header row is allowed) -> {producer id: booth label}."""
    import csv

    from models import parse
    from models.deeplinks import BOOTH

    booths: dict[int, str] = {}
    with path.open(encoding="utf-8-sig", newline="") as source:
        for number, row in enumerate(csv.reader(source), start=1):
            if len(row) < 2 or (number == 1 and parse.record_id(row[0]) is None):
                continue
            producer, booth = parse.record_id(row[0]), row[1].strip()
            if producer is None or not BOOTH.fullmatch(booth):
                raise ValueError(f"row {number}: a producer id and a booth label of 1-8 letters or digits")
            booths[producer] = booth
    return booths


if __name__ == "__main__":
    sys.exit(main())
