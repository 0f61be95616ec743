"""``python -m woohub`` commands: (being built)."""

from __future__ import annotations

import argparse
from typing import Any


def add_commands(commands: Any) -> None:
    """Add this module's parsers to ``commands`` (the root's subparsers)."""
    del commands


__all__ = ["add_commands", "argparse"]
