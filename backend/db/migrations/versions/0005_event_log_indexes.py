"""event log indexes: only those reads need; the unprojected index holds only unprojected events

Dropped: events.node_key (log counts are read through event_nodes), events.created_at (no read orders or
filters the whole log by it), event_nodes.event_id (every read enters event_nodes by node key).
ix_events_unprojected becomes a partial index on id where not projected: the projector's cursor.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07 17:00:00.000000
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index('ix_events_node_key', table_name='events')
    op.drop_index('ix_events_created_at', table_name='events')
    op.drop_index('ix_event_nodes_event_id', table_name='event_nodes')
    op.drop_index('ix_events_unprojected', table_name='events')
    op.create_index(
        'ix_events_unprojected',
        'events',
        ['id'],
        sqlite_where=sa.text('projected = 0'),
        postgresql_where=sa.text('NOT projected'),
    )


def downgrade() -> None:
    op.drop_index('ix_events_unprojected', table_name='events')
    op.create_index('ix_events_unprojected', 'events', ['projected', 'id'])
    op.create_index('ix_event_nodes_event_id', 'event_nodes', ['event_id'])
    op.create_index('ix_events_created_at', 'events', ['created_at'])
    op.create_index('ix_events_node_key', 'events', ['node_key'])
