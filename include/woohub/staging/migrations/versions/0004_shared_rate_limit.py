"""Shared API rate-limit budgets (:mod:`woohub.http.shared_budget`): one row per budget with the limit in
force, and the recent call starts every process sharing the budget counts.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rate_limit_budget",
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("call_limit", sa.Integer, nullable=False),
        sa.Column("interval_ms", sa.Integer, nullable=False),
        sa.Column("limit_source", sa.String(16), nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "rate_limit_call",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("budget_name", sa.String(200), nullable=False),
        sa.Column("started_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_rate_limit_call_budget_started", "rate_limit_call", ["budget_name", "started_at"])


def downgrade() -> None:
    op.drop_index("ix_rate_limit_call_budget_started", table_name="rate_limit_call")
    op.drop_table("rate_limit_call")
    op.drop_table("rate_limit_budget")
