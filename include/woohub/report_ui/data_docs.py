"""Where the Great Expectations Data Docs live, and which file a request under ``/woohub/data-docs/`` may
read. The site directory is the one ``great_expectations.yml`` gives the ``local_site`` site, under the file
context of :func:`woohub.core.quality.resolve_gx_root` (``$WOOHUB_GX_ROOT``): the directory every validation
task updates. On a deployment with several machines that directory must be shared storage (the workers
write it, the API server reads it)."""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_SITE_DIRECTORY = "uncommitted/data_docs/local_site/"


def data_docs_directory(gx_root: str | os.PathLike[str] | None = None) -> Path:
    """The ``local_site`` directory of the GX file context (resolved, it need not exist yet)."""
    import yaml

    # imported here: woohub.core.quality pulls in the WooCommerce hook, too heavy for every plugin load
    from woohub.core.quality import DATA_DOCS_SITE, resolve_gx_root

    root = resolve_gx_root(gx_root)
    base = DEFAULT_SITE_DIRECTORY
    config_file = root / "great_expectations.yml"
    if config_file.exists():
        config = yaml.safe_load(config_file.read_text()) or {}
        site = ((config.get("data_docs_sites") or {}).get(DATA_DOCS_SITE) or {}).get("store_backend") or {}
        base = site.get("base_directory") or base
    return (root / base).resolve()


def docs_file(directory: Path, requested: str) -> Path | None:
    """The file under ``directory`` that ``requested`` (a URL path below the site) names, ``index.html`` for a
    directory; ``None`` when there is none or the path leads outside ``directory`` (``..``, an absolute path,
    a symbolic link pointing elsewhere, a NUL byte)."""
    root = directory.resolve()
    if "\x00" in requested or "\\" in requested:
        return None
    relative = requested.lstrip("/")
    candidate = (root / relative).resolve() if relative else root
    if not candidate.is_relative_to(root):
        return None
    if candidate.is_dir():
        candidate = candidate / "index.html"
    return candidate if candidate.is_file() else None
