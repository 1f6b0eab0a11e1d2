"""batch rollups (#13): placeholder, filled by the rollups work

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
    pass


def downgrade() -> None:
    pass
