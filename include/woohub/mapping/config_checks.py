"""The checks both mapping YAMLs (``woocommerce_to_hubspot`` and ``hubspot_to_woocommerce``) are validated
with: each takes the raw YAML value and the dotted key it stands at, returns the value when it is valid and
raises :class:`MappingConfigError` naming that key when it is not."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "MappingConfigError", "boolean", "mapping", "no_unknown_keys", "read_yaml", "section", "str_list", "text",
    "versioned_document",
]  # fmt: skip

ROOT = "<root>"


class MappingConfigError(ValueError):
    """The mapping YAML is invalid; the message starts with the dotted key that is wrong."""


def read_yaml(source: Path) -> Any:
    """The parsed YAML document in ``source``; ``MappingConfigError`` when it is not valid YAML."""
    try:
        return yaml.safe_load(source.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise MappingConfigError(f"{source}: not valid YAML: {exc}") from exc


def versioned_document(raw: Any, sections: Iterable[str]) -> Mapping[str, Any]:
    """The root of a mapping document: a mapping of ``version: 1`` and no keys but ``sections``."""
    doc = mapping(raw, ROOT)
    no_unknown_keys(doc, ROOT, {"version", *sections})
    if doc.get("version") != 1:
        raise MappingConfigError(f"version: must be 1, got {doc.get('version')!r}")
    return doc


def section(doc: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    """A required top-level section."""
    if name not in doc:
        raise MappingConfigError(f"{name}: section is missing")
    return mapping(doc[name], name)


def mapping(raw: Any, key: str) -> Mapping[str, Any]:
    """``raw`` must be a YAML mapping."""
    if not isinstance(raw, Mapping):
        raise MappingConfigError(f"{key}: must be a mapping, got {type(raw).__name__}")
    return raw


def no_unknown_keys(raw: Mapping[str, Any], key: str, allowed: set[str]) -> None:
    """Reject keys outside ``allowed`` (typos such as ``transfrom`` or ``price_polcy``); the message names the
    first unknown key under ``key`` (at the root, on its own)."""
    unknown = sorted(str(k) for k in raw if k not in allowed)
    if unknown:
        where = "" if key == ROOT else f"{key}."
        raise MappingConfigError(f"{where}{unknown[0]}: unknown key (allowed: {', '.join(sorted(allowed))})")


def text(raw: Any, key: str, *, allow_empty: bool = False) -> str:
    """``raw`` must be a non-empty string (any string with ``allow_empty``)."""
    if not isinstance(raw, str) or (not allow_empty and not raw.strip()):
        raise MappingConfigError(f"{key}: must be a non-empty string, got {raw!r}")
    return raw


def boolean(raw: Any, key: str) -> bool:
    """``raw`` must be true or false."""
    if not isinstance(raw, bool):
        raise MappingConfigError(f"{key}: must be true or false, got {raw!r}")
    return raw


def str_list(raw: Any, key: str, *, non_empty: bool = False) -> list[str]:
    """``raw`` must be a list of non-empty strings (and not empty itself with ``non_empty``); a copy of it,
    the strings as written."""
    if not isinstance(raw, list) or any(not isinstance(x, str) or not x.strip() for x in raw):
        raise MappingConfigError(f"{key}: must be a list of strings, got {raw!r}")
    if non_empty and not raw:
        raise MappingConfigError(f"{key}: must not be empty")
    return list(raw)
