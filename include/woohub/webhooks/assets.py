"""The Asset event that wakes a sync DAG: emitted in the Airflow API server's own process, which has the
metadata database (unlike a task).

:func:`emit_changes` does what the public REST route ``POST /api/v2/assets/events`` does, without an HTTP
round trip or an API token: it finds the ``AssetModel`` of the source's changes asset by URI and calls
Airflow's asset manager (``airflow.assets.manager.asset_manager.register_asset_change(asset=…,
source_is_api=True, session=…)``) in an ORM session (``airflow.utils.session.create_session``, committed on
exit). That writes the ``asset_event`` row and one ``asset_dag_run_queue`` row per unpaused DAG scheduled on
the asset; the scheduler then creates the asset-triggered run (for a DAG scheduled on ``AssetOrTimeSchedule``
as soon as the asset condition is met). Listeners registered by plugins are notified as for any asset event.

The asset exists in the metadata database only once the DAG processor has parsed a DAG that names it. Before
that there is nothing to emit to: :func:`emit_changes` logs a warning and returns ``False``; the events stay
recorded in staging and the next scheduled run takes them.

Airflow is imported inside the function: this module is imported wherever the plugin is loaded.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from woohub.webhooks import CHANGES_ASSET

log = logging.getLogger(__name__)


def emit_changes(source: str, extra: Mapping[str, Any] | None = None) -> bool:
    """One Asset event on ``CHANGES_ASSET[source]`` (``extra`` is stored with it); whether one was made."""
    from airflow.assets.manager import asset_manager
    from airflow.models.asset import AssetModel
    from sqlalchemy import select

    from woohub.core.metadata_db import own_session

    uri = CHANGES_ASSET[source]
    emitted = 0
    with own_session() as session:
        for asset in session.scalars(select(AssetModel).where(AssetModel.uri == uri)).all():
            if asset_manager.register_asset_change(asset=asset, extra=dict(extra or {}), source_is_api=True,
                                                   session=session) is not None:
                emitted += 1
    if not emitted:
        log.warning("webhooks: the asset %s is not in Airflow's metadata database yet (no parsed DAG is scheduled "
                    "on it), so no run was woken; the %s events stay recorded in staging for the next scheduled run",
                    uri, source)
    return emitted > 0


__all__ = ["emit_changes"]
