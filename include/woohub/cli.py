"""``python -m woohub``: commands for the people who run the sync.

    python -m woohub dead-letters list [--state open|exhausted|resolved] [--object-type deal]
    python -m woohub dead-letters requeue [--object-type deal] [--key 123 ...] [--state exhausted]
    python -m woohub retention purge [--days 30] [--dry-run] [--gx-root PATH]

The staging database comes from the Airflow connection ``woohub_staging`` (``--conn-id``), as the DAGs use
it, or from ``--staging-url`` (a SQLAlchemy URL). A requeued letter is open again with fresh attempts and
due at once: the next run of its DAG retries it. ``retention purge`` deletes synced staged payloads, old run
records and released quarantine rows older than ``--days`` (default ``$WOOHUB_RETENTION_DAYS``, 30) and prunes
GX validation results as old (:mod:`woohub.core.retention`); ``--dry-run`` only counts.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine

from woohub.commands import COMMAND_MODULES


def _engine(args: argparse.Namespace) -> Engine:
    from woohub.staging.database import engine_for_url, migrate, staging_engine

    if args.staging_url:
        engine = engine_for_url(args.staging_url)
        migrate(engine)
        return engine
    return staging_engine(args.conn_id)


def _list(args: argparse.Namespace) -> int:
    from woohub.core import dead_letters

    states = args.state or [dead_letters.OPEN, dead_letters.EXHAUSTED]
    rows = dead_letters.dead_letters(_engine(args), args.object_type, states=states)
    for row in rows:
        print(json.dumps({key: _plain(value) for key, value in row.items()}, ensure_ascii=False))
    print(f"{len(rows)} dead letter(s)", file=sys.stderr)
    return 0


def _requeue(args: argparse.Namespace) -> int:
    from woohub.core import dead_letters

    count = dead_letters.requeue(_engine(args), object_type=args.object_type, source_keys=args.key or None,
                                 states=args.state or [dead_letters.EXHAUSTED])
    print(f"requeued {count} dead letter(s)")
    return 0


def _purge(args: argparse.Namespace) -> int:
    from woohub.core import retention

    days = args.days if args.days is not None else retention.retention_days()
    counts = retention.purge_staging(_engine(args), older_than_days=days, dry_run=args.dry_run)
    counts["gx_validation_results"] = retention.prune_validation_results(args.gx_root, older_than_days=days,
                                                                         dry_run=args.dry_run)
    verb = "would purge" if args.dry_run else "purged"
    for name, count in counts.items():
        print(f"{name}: {count}")
    print(f"{verb} {sum(counts.values())} row(s)/result(s) older than {days} day(s)")
    return 0


def _plain(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="python -m woohub", description=__doc__.split("\n\n")[0])
    root.add_argument("--conn-id", default="woohub_staging", help="Airflow connection of the staging database")
    root.add_argument("--staging-url", help="SQLAlchemy URL of the staging database (instead of --conn-id)")
    commands = root.add_subparsers(dest="command", required=True)
    letters = commands.add_parser("dead-letters", help="list or requeue dead letters")
    actions = letters.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="one JSON line per dead letter")
    listing.add_argument("--state", action="append", choices=["open", "exhausted", "resolved"])
    listing.add_argument("--object-type", help="product | contact | deal | line_item")
    listing.set_defaults(run=_list)
    requeue = actions.add_parser("requeue", help="open letters again with fresh attempts (default: exhausted)")
    requeue.add_argument("--state", action="append", choices=["open", "exhausted"])
    requeue.add_argument("--object-type", help="product | contact | deal | line_item")
    requeue.add_argument("--key", action="append", help="a letter's source key (repeatable); default: all")
    requeue.set_defaults(run=_requeue)
    retention = commands.add_parser("retention", help="purge personal data and old validation results")
    retention_actions = retention.add_subparsers(dest="action", required=True)
    purge = retention_actions.add_parser("purge", help="delete what is older than the retention period")
    purge.add_argument("--days", type=int, help="retention in days (default: $WOOHUB_RETENTION_DAYS or 30)")
    purge.add_argument("--dry-run", action="store_true", help="count what would be deleted, delete nothing")
    purge.add_argument("--gx-root", help="the GX file context (default: $WOOHUB_GX_ROOT or the project's)")
    purge.set_defaults(run=_purge)
    for module in COMMAND_MODULES:
        importlib.import_module(module).add_commands(commands)
    return root


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return int(args.run(args))
