"""trace summaries and fills (#13): placeholder, filled by the summaries work

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


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
