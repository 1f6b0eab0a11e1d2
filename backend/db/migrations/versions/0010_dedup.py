"""the cross-channel dedup pass and relations (#13): placeholder, filled by that work

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
    pass


def downgrade() -> None:
    pass
