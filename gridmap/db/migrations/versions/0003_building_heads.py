"""building heads (楼栋长) on buildings

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 07:00:00
"""
from alembic import op
import sqlalchemy as sa

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('buildings', sa.Column('head_name', sa.String(length=100), nullable=True))
    op.add_column('buildings', sa.Column('head_phone', sa.String(length=30), nullable=True))


def downgrade() -> None:
    op.drop_column('buildings', 'head_phone')
    op.drop_column('buildings', 'head_name')
