"""`porteiro-register`: run the service, or work on the register from a shell.

  porteiro-register                       run the service (same as `serve`, `python -m porteiro_register`)
  porteiro-register migrate [--create-database]
  porteiro-register list [--condominium C] [--from T] [--to T] [--apartment A] [--outcome O ...]
                         [--limit N] [--csv]
  porteiro-register erase (--visitor-name NAME | --call-id UUID) [--condominium C]
  porteiro-register purge-expired

The database and retention come from the service's settings (PORTEIRO_REGISTER_*).
Times are ISO 8601; without a zone they are UTC. Exit status: 0 done, 2 bad input
or configuration, 3 database unavailable.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from itertools import islice
from typing import TextIO

import sqlalchemy as sa
import sqlalchemy.exc

from porteiro_common.amqp import describe_error
from porteiro_common.settings import load_settings
from porteiro_register import migrate
from porteiro_register.db import create_engine
from porteiro_register.records import OUTCOME_WORDS, InvalidRecord
from porteiro_register.settings import RegisterSettings, check_urls
from porteiro_register.store import RegisterStore, call_filter

EXIT_INVALID = 2
EXIT_UNAVAILABLE = 3

COLUMNS = (
    "started_at",
    "ended_at",
    "condominium",
    "call_id",
    "block",
    "apartment",
    "intent",
    "resident_name",
    "visitor_name",
    "outcome",
    "decided_by",
    "attempts",
    "call_seconds",
    "resident_wait_seconds",
)
TABLE_COLUMNS = (
    "started_at",
    "block",
    "apartment",
    "intent",
    "outcome",
    "decided_by",
    "attempts",
    "call_seconds",
)


def parse_time(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 date or time: {text!r}") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="porteiro-register", description="Porteiro's visitor register")
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("serve", help="run the register service (the default)")
    migrating = commands.add_parser("migrate", help="apply pending database migrations")
    migrating.add_argument("--create-database", action="store_true", help="create the database if missing")
    listing = commands.add_parser("list", help="print records as a table, or export them as CSV")
    listing.add_argument("--condominium", default="", help='condominium id (default "default")')
    listing.add_argument("--from", dest="started_from", type=parse_time, help="calls started at or after")
    listing.add_argument("--to", dest="started_before", type=parse_time, help="calls started before")
    listing.add_argument("--apartment", default="")
    listing.add_argument("--outcome", action="append", default=[], choices=sorted(OUTCOME_WORDS.values()))
    listing.add_argument("--limit", type=int, default=None, help="at most this many records (default all)")
    listing.add_argument("--csv", action="store_true", help="CSV with every column, to standard output")
    erasing = commands.add_parser("erase", help="delete one person's records (LGPD request)")
    target = erasing.add_mutually_exclusive_group(required=True)
    target.add_argument("--visitor-name", default="", help="every record with this visitor name")
    target.add_argument("--call-id", default="", help="the record of this call")
    erasing.add_argument("--condominium", default="", help="only in this condominium (default: all)")
    commands.add_parser("purge-expired", help="delete records older than the retention now")
    return parser


def cell(row: sa.Row, column: str) -> str:
    value = getattr(row, column)
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="seconds")
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def write_csv(rows: Iterable[sa.Row], out: TextIO) -> int:
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    count = 0
    for row in rows:
        writer.writerow([cell(row, column) for column in COLUMNS])
        count += 1
    return count


def write_table(rows: Sequence[sa.Row], out: TextIO) -> None:
    lines = [list(TABLE_COLUMNS)] + [[cell(row, column) for column in TABLE_COLUMNS] for row in rows]
    widths = [max(len(line[index]) for line in lines) for index in range(len(TABLE_COLUMNS))]
    for line in lines:
        out.write(
            "  ".join(text.ljust(width) for text, width in zip(line, widths, strict=True)).rstrip() + "\n"
        )
    out.write(f"({len(rows)} record{'s' if len(rows) != 1 else ''})\n")


def run_list(store: RegisterStore, args: argparse.Namespace, out: TextIO) -> None:
    where = call_filter(
        args.condominium, args.started_from, args.started_before, args.apartment, args.outcome
    )
    rows = islice(store.iterate_calls(where), args.limit)
    if args.csv:
        write_csv(rows, out)
    else:
        write_table(list(rows), out)


def run_command(args: argparse.Namespace, settings: RegisterSettings, out: TextIO) -> None:
    url = settings.database_url.get_secret_value()
    if args.command == "migrate" and args.create_database and migrate.create_database_if_missing(url):
        out.write("database created\n")
    engine = create_engine(url, settings.database_timeout_seconds)
    store = RegisterStore(engine)
    try:
        if args.command == "migrate":
            out.write(f"database at revision {migrate.upgrade(engine)}\n")
        elif args.command == "list":
            run_list(store, args, out)
        elif args.command == "erase":
            deleted = store.erase(
                visitor_name=args.visitor_name, call_id=args.call_id, condominium=args.condominium
            )
            out.write(f"{deleted} record{'s' if deleted != 1 else ''} deleted\n")
        elif args.command == "purge-expired":
            deleted = store.purge_expired(settings.retention_days, settings.retention_days_by_condominium)
            out.write(f"{deleted} expired record{'s' if deleted != 1 else ''} deleted\n")
    finally:
        engine.dispose()


def main(argv: Sequence[str] | None = None, out: TextIO = sys.stdout) -> int:
    args = build_parser().parse_args(argv)
    if args.command in (None, "serve"):
        from porteiro_register.__main__ import serve

        serve()
        return 0
    settings = load_settings(RegisterSettings)
    try:
        check_urls(settings)
        run_command(args, settings, out)
    except (InvalidRecord, ValueError) as error:
        print(f"porteiro-register: {error}", file=sys.stderr)
        return EXIT_INVALID
    except (sqlalchemy.exc.SQLAlchemyError, OSError) as error:
        reason = describe_error(getattr(error, "orig", None) or error)
        print(f"porteiro-register: database unavailable: {reason}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    return 0


if __name__ == "__main__":
    sys.exit(main())
