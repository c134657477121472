"""The `ocop-bot` command: run the bot, manage the database and the catalogue."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

from bot.config import ConfigError, Settings, load_settings
from models.catalog import catalog_summary
from models.catalog_export import COLUMNS, product_rows
from models.catalog_import import ImportFileError, ImportReport, import_file
from models.db import Database
from models.ocop import Group
from models.sample import load_sample_if_empty
from models.tabular import UnreadableFile, write_csv, write_xlsx

log = logging.getLogger("ocop_bot")
Command = Callable[[argparse.Namespace, Settings], Awaitable[int]]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ocop-bot", description="OCOP trade-connection bot (Telegram, Zalo).")
    parser.add_argument("--config", type=Path, help="config file (default: ./config.toml when present)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="migrate, load the sample catalogue when empty, start the bot")
    run.set_defaults(handler=cmd_run)

    db = commands.add_parser("db", help="database maintenance")
    db_commands = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    db_commands.add_parser("upgrade", help="apply the migrations").set_defaults(handler=cmd_db_upgrade)

    imp = commands.add_parser("import", help="import an OCOP list (CSV or XLSX)")
    imp.add_argument("file", type=Path)
    imp.add_argument("--dry-run", action="store_true", help="validate and report, write nothing")
    imp.set_defaults(handler=cmd_import)

    exp = commands.add_parser("export", help="export data")
    exp.add_argument("what", choices=["products"])
    exp.add_argument("--format", choices=["csv", "xlsx"], default="csv")
    exp.add_argument("--output", type=Path, help="file to write (CSV goes to stdout when omitted)")
    exp.set_defaults(handler=cmd_export)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings(args.config)
    except ConfigError as exc:
        print(f"ocop-bot: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
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
        if settings.has_platform_channel:
            print("Telegram/Zalo channels are configured, but this version has no channel runtime yet.")
        else:
            print("No Telegram or Zalo token is configured; the console chat is not available in this version yet.")
        return 0
    finally:
        await db.dispose()


async def cmd_import(args: argparse.Namespace, settings: Settings) -> int:
    db = await open_database(settings)
    try:
        report = await import_file(db, args.file, dry_run=args.dry_run)
    except (UnreadableFile, ImportFileError) as exc:
        print(f"ocop-bot import: {args.file}: {exc}", file=sys.stderr)
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
    lines += [f"  line {error.line}: {error.reason}" for error in report.errors]
    return "\n".join(lines)


async def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    db = await open_database(settings)
    try:
        rows = await product_rows(db)
    finally:
        await db.dispose()
    if args.format == "xlsx":
        if args.output is None:
            print("ocop-bot export: --output FILE is required for xlsx", file=sys.stderr)
            return 2
        write_xlsx(COLUMNS, rows, args.output)
    elif args.output is None:
        write_csv(COLUMNS, rows, sys.stdout)
    else:
        with args.output.open("w", encoding="utf-8-sig", newline="") as out:
            write_csv(COLUMNS, rows, out)
    if args.output:
        print(f"wrote {len(rows)} products to {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
