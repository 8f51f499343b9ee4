"""at most one published plan (a unique partial index: a race of two publishes could leave two); who made a draft and from which version

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 18:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A database that the race already hit keeps its newest published plan in force.
    op.execute(
        "UPDATE grid_plans SET status = 'archived' WHERE status = 'published' AND id <> "
        "(SELECT id FROM grid_plans WHERE status = 'published' ORDER BY published_at DESC NULLS LAST, id DESC LIMIT 1)"
    )
    op.execute("CREATE UNIQUE INDEX uq_grid_plans_one_published ON grid_plans ((true)) WHERE status = 'published'")
    op.add_column("grid_plans", sa.Column("created_by", sa.String(100), nullable=True))
    op.add_column("grid_plans", sa.Column("base_version", sa.Integer, nullable=True))


def downgrade() -> None:
    op.drop_column("grid_plans", "base_version")
    op.drop_column("grid_plans", "created_by")
    op.execute("DROP INDEX uq_grid_plans_one_published")
