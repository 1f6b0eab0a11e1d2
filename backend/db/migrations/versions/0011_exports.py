"""export jobs (#14): exports (what, who, state, progress) and export_chunks (one row per written chunk)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-08 01:40:00.000000
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

_Big = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table(
        'exports',
        sa.Column('id', _Big, autoincrement=True, nullable=False),
        sa.Column('uuid', sa.String(length=36), nullable=False),
        sa.Column('account_id', _Big, nullable=True),
        sa.Column('content', sa.String(length=16), nullable=False),
        sa.Column('format', sa.String(length=8), nullable=False),
        sa.Column('compression', sa.String(length=8), nullable=False),
        sa.Column('query', sa.Text(), nullable=False),
        sa.Column('status', sa.String(length=8), nullable=False),
        sa.Column('holder', sa.String(length=200), nullable=True),
        sa.Column('lease_until', sa.DateTime(), nullable=True),
        sa.Column('events', _Big, nullable=False),
        sa.Column('bytes', _Big, nullable=False),
        sa.Column('chunks', sa.Integer(), nullable=False),
        sa.Column('estimate', _Big, nullable=True),
        sa.Column('error', sa.Text(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('started_at', sa.DateTime(), nullable=True),
        sa.Column('finished_at', sa.DateTime(), nullable=True),
        sa.Column('expires_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('uuid'),
    )
    op.create_index('ix_exports_account_id', 'exports', ['account_id'])
    op.create_index('ix_exports_status', 'exports', ['status'])
    op.create_index('ix_exports_expires_at', 'exports', ['expires_at'])
    op.create_table(
        'export_chunks',
        sa.Column('export_id', sa.BigInteger(), nullable=False),
        sa.Column('seq', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=64), nullable=False),
        sa.Column('events', _Big, nullable=False),
        sa.Column('bytes', _Big, nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('first', sa.Text(), nullable=False),
        sa.Column('last', sa.Text(), nullable=False),
        sa.Column('cursor', sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint('export_id', 'seq'),
    )


def downgrade() -> None:
    op.drop_table('export_chunks')
    op.drop_index('ix_exports_expires_at', table_name='exports')
    op.drop_index('ix_exports_status', table_name='exports')
    op.drop_index('ix_exports_account_id', table_name='exports')
    op.drop_table('exports')
