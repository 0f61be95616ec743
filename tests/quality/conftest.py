"""Fixtures for the data-quality tests: real WooCommerce 11.0.1 payloads and a throw-away copy of the
project's GX file context (so no test writes into the repository's ``great_expectations/``)."""

from __future__ import annotations

import copy
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]
FIXTURES = PROJECT_ROOT / "tests" / "fixtures" / "woocommerce-11.0.1"
GX_ROOT = PROJECT_ROOT / "great_expectations"


def recorded_body(name: str) -> Any:
    """A fresh copy of the recorded response body of fixture ``name`` (without ``.json``)."""
    return copy.deepcopy(json.loads((FIXTURES / f"{name}.json").read_text())["body"])


def copy_gx_root(destination: Path) -> Path:
    """Copy the committed GX file context (without ``uncommitted/``) to ``destination``."""
    shutil.copytree(GX_ROOT, destination, ignore=shutil.ignore_patterns("uncommitted"))
    return destination


@pytest.fixture(scope="module")
def gx_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A per-module copy of the GX root."""
    return copy_gx_root(tmp_path_factory.mktemp("gx") / "great_expectations")


@pytest.fixture
def body() -> Callable[[str], Any]:
    """``body(name)``: the recorded response body of a fixture, safe to mutate."""
    return recorded_body
