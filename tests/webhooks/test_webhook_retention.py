"""Retention of the ``webhook_event`` table: events a run already staged leave with the other old staging
rows (``woohub.core.retention.purge_staging``); pending ones stay however old they are."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select, update

from tests.helpers import migrated_staging
from woohub.core import retention
from woohub.staging.schema import webhook_event
from woohub.webhooks import WOOCOMMERCE
from woohub.webhooks.events import WebhookEvent, claim_pending, mark_staged, record_events

NOW = datetime(2026, 12, 1, 12, 0)


def test_staged_webhook_events_older_than_the_retention_are_purged(tmp_path: Path) -> None:
    with migrated_staging("sqlite", tmp_path, "webhook_retention") as (engine, _):
        def event(number: int) -> WebhookEvent:
            return WebhookEvent(WOOCOMMERCE, f"d{number}", "order.updated", "woocommerce.orders", str(number))

        record_events(engine, [event(1), event(2)], now=NOW - timedelta(days=40))
        claim = claim_pending(engine, ["woocommerce.orders"], "run-1")
        assert mark_staged(engine, "woocommerce.orders", claim.upto, "run-1", now=NOW - timedelta(days=40)) == 2
        record_events(engine, [event(3)], now=NOW - timedelta(days=40))  # old, but no run has taken it yet
        record_events(engine, [event(4)], now=NOW - timedelta(days=2))
        with engine.begin() as connection:  # run-2 staged only the recent one
            connection.execute(update(webhook_event).where(webhook_event.c.delivery_id == "d4")
                               .values(state="staged", staged_at=NOW))
        assert retention.purge_staging(engine, older_than_days=30, now=NOW, dry_run=True)["webhook_event"] == 2
        assert retention.purge_staging(engine, older_than_days=30, now=NOW)["webhook_event"] == 2
        with engine.connect() as connection:
            left = connection.execute(select(webhook_event.c.delivery_id, webhook_event.c.state)
                                      .order_by(webhook_event.c.id)).all()
        assert [tuple(row) for row in left] == [("d3", "pending"), ("d4", "staged")]
