"""batch rollups (#13): the event log's measures per UTC 15-minute bucket, and which events they count

rollup_counts: additive measures (and the lag's max) per (dimension, bucket, key, measure).
rollup_members: who was active per bucket (traces, users), counted distinct when read.
rollup_files: the files received per bucket; rollup_settled: when each file first flowed on or was dropped
(unconverted files are read from the two). events.counted: the rollups have counted the event; the partial
index ix_events_uncounted holds only those not counted yet (the rollups' cursor).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 22:40:00.000000
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('events', sa.Column('counted', sa.Boolean(), server_default=sa.false(), nullable=False))
    op.create_index(
        'ix_events_uncounted',
        'events',
        ['id'],
        sqlite_where=sa.text('counted = 0'),
        postgresql_where=sa.text('NOT counted'),
    )
    op.create_table(
        'rollup_counts',
        sa.Column('dim', sa.String(length=8), nullable=False),
        sa.Column('bucket', sa.BigInteger(), nullable=False),
        sa.Column('key', sa.String(length=512), nullable=False),
        sa.Column('measure', sa.String(length=600), nullable=False),
        sa.Column('value', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('dim', 'bucket', 'key', 'measure'),
    )
    op.create_table(
        'rollup_members',
        sa.Column('dim', sa.String(length=8), nullable=False),
        sa.Column('bucket', sa.BigInteger(), nullable=False),
        sa.Column('key', sa.String(length=512), nullable=False),
        sa.Column('kind', sa.String(length=8), nullable=False),
        sa.Column('member', sa.String(length=512), nullable=False),
        sa.PrimaryKeyConstraint('dim', 'bucket', 'key', 'kind', 'member'),
    )
    op.create_table(
        'rollup_files',
        sa.Column('dim', sa.String(length=8), nullable=False),
        sa.Column('bucket', sa.BigInteger(), nullable=False),
        sa.Column('key', sa.String(length=512), nullable=False),
        sa.Column('file_key', sa.String(length=512), nullable=False),
        sa.PrimaryKeyConstraint('dim', 'bucket', 'key', 'file_key'),
    )
    op.create_table(
        'rollup_settled',
        sa.Column('file_key', sa.String(length=512), nullable=False),
        sa.Column('settled_ms', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('file_key'),
    )


def downgrade() -> None:
    op.drop_table('rollup_settled')
    op.drop_table('rollup_files')
    op.drop_table('rollup_members')
    op.drop_table('rollup_counts')
    op.drop_index('ix_events_uncounted', table_name='events')
    op.drop_column('events', 'counted')
