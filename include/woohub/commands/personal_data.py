"""``python -m woohub personal-data``: erase one person from staging on request, and list the erasures.

    python -m woohub personal-data erase --email jane@example.com [--dry-run] [--actor NAME]
    python -m woohub personal-data erasures

``erase`` prints the rows erased per table (:func:`woohub.core.erasure.erase_person`; ``--dry-run`` only
counts) and logs the erasure (actor: ``--actor``, default the OS user; the email only as its SHA-256).
``erasures`` prints the log, one JSON line per erasure. Staging comes from the root's ``--conn-id`` /
``--staging-url``.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def _erase(args: argparse.Namespace) -> int:
    from woohub.cli import _engine
    from woohub.core import erasure

    try:
        counts = erasure.erase_person(_engine(args), args.email, actor=args.actor or erasure.default_actor(),
                                      dry_run=args.dry_run)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for name, count in sorted(counts.items()):
        print(f"{name}: {count}")
    verb = "would erase" if args.dry_run else "erased"
    print(f"{verb} {sum(counts.values())} row(s) of email sha256={erasure.email_sha256(args.email)}")
    return 0


def _list(args: argparse.Namespace) -> int:
    from woohub.cli import _engine, _plain
    from woohub.core import erasure

    rows = erasure.erasures(_engine(args))
    for row in rows:
        print(json.dumps({key: _plain(value) for key, value in row.items()}))
    print(f"{len(rows)} erasure(s)", file=sys.stderr)
    return 0


def add_commands(commands: Any) -> None:
    """Add ``personal-data erase`` and ``personal-data erasures`` to ``commands`` (the root's subparsers)."""
    group = commands.add_parser("personal-data", help="erase a person from staging; list the erasures")
    actions = group.add_subparsers(dest="action", required=True)
    erase = actions.add_parser("erase", help="erase every staging row of one email (case-insensitive)")
    erase.add_argument("--email", required=True, help="the person's email address")
    erase.add_argument("--dry-run", action="store_true", help="count what would be erased, erase nothing")
    erase.add_argument("--actor", help="who asks for the erasure (default: the OS user)")
    erase.set_defaults(run=_erase)
    listing = actions.add_parser("erasures", help="the erasure log, one JSON line each (hashes, never emails)")
    listing.set_defaults(run=_list)


__all__ = ["add_commands"]
