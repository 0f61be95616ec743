"""Fixtures for the mapping tests: the packaged mapping, and a mapping edited the way the data team would."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.mapping.helpers import raw_mapping
from woohub.mapping.woocommerce_to_hubspot import MappingConfig, load_mapping


@pytest.fixture(scope="session")
def config() -> MappingConfig:
    return load_mapping()


@pytest.fixture
def edited_config(tmp_path: Path) -> Callable[[Callable[[dict[str, Any]], None]], MappingConfig]:
    """Write an edited copy of the YAML and load it from disk, as a data team's change would be."""

    def build(edit: Callable[[dict[str, Any]], None]) -> MappingConfig:
        data = raw_mapping()
        edit(data)
        path = tmp_path / "mapping.yaml"
        path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
        return load_mapping(path)

    return build
