"""files: stored_files (the catalog of uploaded files) and retention_records (what retention deleted)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 22:03:13.127703
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa
import sqlmodel.sql.sqltypes


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('stored_files',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('uuid', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=512), nullable=False),
    sa.Column('trace_key', sqlmodel.sql.sqltypes.AutoString(length=512), nullable=False),
    sa.Column('group_key', sqlmodel.sql.sqltypes.AutoString(length=512), nullable=False),
    sa.Column('filename', sqlmodel.sql.sqltypes.AutoString(length=512), nullable=True),
    sa.Column('content_type', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('backend', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('object_name', sqlmodel.sql.sqltypes.AutoString(length=1024), nullable=False),
    sa.Column('codec', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('size', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('stored_size', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('stored_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('marked_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('marked_rule', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
    sa.Column('expired_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key'),
    sa.UniqueConstraint('uuid')
    )
    with op.batch_alter_table('stored_files', schema=None) as batch_op:
        batch_op.create_index('ix_stored_files_backend_state_time', ['backend', 'state', 'stored_at', 'id'], unique=False)
        batch_op.create_index('ix_stored_files_group', ['group_key', 'stored_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_stored_files_stored_at'), ['stored_at'], unique=False)

    op.create_table('retention_records',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('uuid', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
    sa.Column('file_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('file_key', sqlmodel.sql.sqltypes.AutoString(length=512), nullable=False),
    sa.Column('trace_key', sqlmodel.sql.sqltypes.AutoString(length=512), nullable=False),
    sa.Column('group_key', sqlmodel.sql.sqltypes.AutoString(length=512), nullable=False),
    sa.Column('backend', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('rule', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('bytes', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('size', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('stored_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('marked_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('deleted_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('file_id'),
    sa.UniqueConstraint('uuid')
    )
    with op.batch_alter_table('retention_records', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_retention_records_deleted_at'), ['deleted_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_retention_records_file_key'), ['file_key'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('retention_records', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_retention_records_file_key'))
        batch_op.drop_index(batch_op.f('ix_retention_records_deleted_at'))

    op.drop_table('retention_records')
    with op.batch_alter_table('stored_files', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_stored_files_stored_at'))
        batch_op.drop_index('ix_stored_files_group')
        batch_op.drop_index('ix_stored_files_backend_state_time')

    op.drop_table('stored_files')
