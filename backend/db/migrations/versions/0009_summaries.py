"""trace summaries and fills (#13): each trace's summary as the summaries job computed it, how far that job
has read the event log, the record of every user fill, and an index for a trace's newest event

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 22:40:00.000000
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table(
        'trace_summaries',
        sa.Column('trace_key', sa.String(length=512), nullable=False),
        sa.Column('user_id', sa.String(length=512), nullable=True),
        sa.Column('started', sa.Boolean(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('files', sa.Integer(), nullable=False),
        sa.Column('dropped', sa.Integer(), nullable=False),
        sa.Column('unconverted', sa.Integer(), nullable=False),
        sa.Column('data', sa.Integer(), nullable=False),
        sa.Column('outputs', sa.Integer(), nullable=False),
        sa.Column('drop_reasons', sa.Text(), nullable=False),
        sa.Column('first_at', sa.DateTime(), nullable=True),
        sa.Column('last_at', sa.DateTime(), nullable=True),
        sa.Column('duration_seconds', sa.Float(), nullable=False),
        sa.Column('user_missing', sa.Boolean(), nullable=False),
        sa.Column('through_id', BigId, nullable=False),
        sa.Column('computed_at', sa.DateTime(), nullable=False),
        sa.Column('fill_pending', sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint('trace_key'),
    )
    op.create_index('ix_trace_summaries_fill', 'trace_summaries', ['fill_pending'])
    op.create_index('ix_trace_summaries_status', 'trace_summaries', ['status', 'last_at'])
    op.create_table(
        'user_fills',
        sa.Column('id', BigId, autoincrement=True, nullable=False),
        sa.Column('node_key', sa.String(length=512), nullable=False),
        sa.Column('kind', sa.String(length=8), nullable=False),
        sa.Column('trace_key', sa.String(length=512), nullable=False),
        sa.Column('user_id', sa.String(length=512), nullable=False),
        sa.Column('previous_user', sa.String(length=512), nullable=True),
        sa.Column('filled_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_user_fills_node_key', 'user_fills', ['node_key'])
    op.create_index('ix_user_fills_trace_key', 'user_fills', ['trace_key'])
    op.create_table(
        'summary_cursor',
        sa.Column('name', sa.String(length=32), nullable=False),
        sa.Column('through_id', BigId, nullable=False),
        sa.PrimaryKeyConstraint('name'),
    )
    op.create_index('ix_events_trace_id', 'events', ['trace_key', 'id'])


def downgrade() -> None:
    op.drop_index('ix_events_trace_id', table_name='events')
    op.drop_table('summary_cursor')
    op.drop_index('ix_user_fills_trace_key', table_name='user_fills')
    op.drop_index('ix_user_fills_node_key', table_name='user_fills')
    op.drop_table('user_fills')
    op.drop_index('ix_trace_summaries_status', table_name='trace_summaries')
    op.drop_index('ix_trace_summaries_fill', table_name='trace_summaries')
    op.drop_table('trace_summaries')
