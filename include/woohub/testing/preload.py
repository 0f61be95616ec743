"""``python -m woohub.testing.preload <airflow command and arguments>``: an Airflow command (``scheduler``) run
after importing the modules the sync tasks use.

Why: with the LocalExecutor the scheduler forks its worker processes when it starts, and each worker forks a
process per task; a task then imports what it needs (Great Expectations alone takes 8–18 s on a loaded
2-core machine, pandas and the loaders a few more), again in every task. Imported once in the scheduler before
it forks, they are in every task process from the start, and a webhook-triggered run's critical path of ten
tasks loses most of its start-up cost (``make bench-latency`` measures it). Importing starts no thread (checked
with :func:`threading.enumerate`), so forking afterwards is safe; nothing connects at import time.

The same applies to a Celery worker (``python -m woohub.testing.preload celery worker``), whose pool forks
from the worker process. Test and benchmark scaffolding here; a deployment can start its scheduler the same way.
"""

from __future__ import annotations

import importlib
import logging
import sys
from collections.abc import Iterable, Sequence

log = logging.getLogger(__name__)

#: what the sync DAGs' tasks import (heaviest first)
TASK_MODULES = (
    "great_expectations",
    "pandas",
    "woohub.core.quality",
    "woohub.sync.woocommerce_to_hubspot",
    "woohub.sync.hubspot_to_woocommerce",
    "woohub.hubspot.load",
    "woohub.woocommerce.load",
    "woohub.woocommerce.extract",
    "woohub.hubspot.extract",
    "woohub.core.report",
    "woohub.staging.database",
    "airflow.sdk.execution_time.task_runner",
)


def preload(modules: Iterable[str] = TASK_MODULES) -> list[str]:
    """Import ``modules``; the ones that failed (logged, not raised: a task imports them again itself)."""
    failed = []
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - a module that cannot load here fails in its task, with its own error
            log.warning("preload: could not import %s", name, exc_info=True)
            failed.append(name)
    return failed


def main(argv: Sequence[str] | None = None) -> None:
    """Preload, then run ``airflow <argv>`` in this process."""
    preload()
    from airflow.__main__ import main as airflow_main

    sys.argv = ["airflow", *(sys.argv[1:] if argv is None else argv)]
    airflow_main()


if __name__ == "__main__":
    main()
