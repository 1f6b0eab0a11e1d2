"""the cross-channel dedup pass (#13): events.duplicate_of marks an event that repeats another

The same event (type, trace, event time and canonical payload) that arrived over two channels (REST and a
stream, or two subscriptions) is kept in the log, marked with the id of the one counted; statistics and
summaries count it once. NULL: not a duplicate (or not examined yet: the rollups decide before they count).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 22:40:00.000000
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('events', sa.Column('duplicate_of', sa.BigInteger(), nullable=True))


def downgrade() -> None:
    op.drop_column('events', 'duplicate_of')
