"""initial schema: accounts, events, event_nodes, meta

Revision ID: 0001
Revises: 
Create Date: 2026-11-28 21:49:00.815918
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa
import sqlmodel.sql.sqltypes


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('accounts',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('uuid', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('roles', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('client_id', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('secret_hash', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('secret_version', sa.Integer(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('disabled_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_accounts_client_id'), ['client_id'], unique=True)
        batch_op.create_index(batch_op.f('ix_accounts_uuid'), ['uuid'], unique=True)

    op.create_table('event_nodes',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('event_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('node_key', sqlmodel.sql.sqltypes.AutoString(length=512), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('role', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('event_nodes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_event_nodes_event_id'), ['event_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_event_nodes_node_key'), ['node_key'], unique=False)

    op.create_table('events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('uuid', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
    sa.Column('dedup_key', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('channel', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('type', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('trace_key', sqlmodel.sql.sqltypes.AutoString(length=512), nullable=True),
    sa.Column('node_key', sqlmodel.sql.sqltypes.AutoString(length=512), nullable=True),
    sa.Column('level', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=True),
    sa.Column('user_id', sqlmodel.sql.sqltypes.AutoString(length=512), nullable=True),
    sa.Column('account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('received_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('payload', sa.Text(), nullable=False),
    sa.Column('projected', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('dedup_key'),
    sa.UniqueConstraint('uuid')
    )
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_events_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_events_node_key'), ['node_key'], unique=False)
        batch_op.create_index('ix_events_trace_time', ['trace_key', 'created_at'], unique=False)
        batch_op.create_index('ix_events_unprojected', ['projected', 'id'], unique=False)

    op.create_table('meta',
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )


def downgrade() -> None:
    op.drop_table('meta')
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_index('ix_events_unprojected')
        batch_op.drop_index('ix_events_trace_time')
        batch_op.drop_index(batch_op.f('ix_events_node_key'))
        batch_op.drop_index(batch_op.f('ix_events_created_at'))

    op.drop_table('events')
    with op.batch_alter_table('event_nodes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_event_nodes_node_key'))
        batch_op.drop_index(batch_op.f('ix_event_nodes_event_id'))

    op.drop_table('event_nodes')
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_accounts_uuid'))
        batch_op.drop_index(batch_op.f('ix_accounts_client_id'))

    op.drop_table('accounts')
