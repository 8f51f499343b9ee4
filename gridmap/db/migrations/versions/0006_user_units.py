"""users get a unit (社区/街道 code); indexes for the scoped 待办 lists

Revision ID: 0006
Revises: 0008 (re-chained after main's 0005, 0007 and 0009 at the merges)
Create Date: 2026-12-03 17:50:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('users', sa.Column('unit_code', sa.String(length=12), nullable=True))
    # 社区/街道 users list open requests by a grid-code prefix: LIKE 'prefix%' needs pattern ops in any collation.
    op.execute(
        "CREATE INDEX ix_requests_open_grid_prefix ON requests (grid_code varchar_pattern_ops, status) "
        "WHERE status NOT IN ('closed', 'merged')"
    )
    op.execute(
        "CREATE INDEX ix_requests_open_department ON requests (department, status) "
        "WHERE status NOT IN ('closed', 'merged') AND dispatched_at IS NOT NULL"
    )


def downgrade() -> None:
    op.execute("DROP INDEX ix_requests_open_department")
    op.execute("DROP INDEX ix_requests_open_grid_prefix")
    op.drop_column('users', 'unit_code')
