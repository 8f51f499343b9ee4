"""a spatial index of open requests only, for the duplicate check at intake

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 08:30:00
"""
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Most requests end closed or merged; the duplicate check only looks at the open ones near a new report.
    op.execute(
        "CREATE INDEX ix_requests_open_geom ON requests USING gist (geom) "
        "WHERE status NOT IN ('closed', 'merged')"
    )


def downgrade() -> None:
    op.execute("DROP INDEX ix_requests_open_geom")
