"""key search and trace-level logs: indexes for GET /search (a key prefix) and a trace's own log messages

ix_events_trace_logs: a partial index of the log events that name no node, by trace and time (a trace's
log messages without walking all its events). On PostgreSQL, trace and node keys are also indexed in the
"C" collation, where a key range is exactly a prefix whatever the database's collation; SQLite compares
bytes, so its existing key indexes serve the search.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 23:00:00.000000
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

TRACE_LOGS = "type = 'log' AND node_key IS NULL"


def upgrade() -> None:
    op.create_index(
        'ix_events_trace_logs',
        'events',
        ['trace_key', 'created_at'],
        sqlite_where=sa.text(TRACE_LOGS),
        postgresql_where=sa.text(TRACE_LOGS),
    )
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('CREATE INDEX ix_events_trace_key_c ON events (trace_key COLLATE "C")')
        op.execute('CREATE INDEX ix_event_nodes_node_key_c ON event_nodes (node_key COLLATE "C")')


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.drop_index('ix_event_nodes_node_key_c', table_name='event_nodes')
        op.drop_index('ix_events_trace_key_c', table_name='events')
    op.drop_index('ix_events_trace_logs', table_name='events')
