"""where a rating came from: the reporter's own 评单 or a 回访 call by 社区/街道 staff

Revision ID: 0007
Revises: 0005
Create Date: 2026-12-03 18:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("requests", sa.Column("rating_source", sa.String(20), nullable=True))
    # Ratings stored before this revision: the reporter's when the last 评单 came from the public link, else staff
    # entered it (no longer allowed; such ratings count in neither 满意率).
    op.execute(
        "UPDATE requests r SET rating_source = CASE WHEN (SELECT e.actor_role FROM request_events e "
        "WHERE e.request_id = r.id AND e.action = 'rate' ORDER BY e.at DESC, e.id DESC LIMIT 1) = 'public' "
        "THEN 'resident' ELSE 'staff' END WHERE r.rating IS NOT NULL"
    )
    op.create_check_constraint(
        "ck_requests_rating_source", "requests", "rating_source IN ('resident', 'callback', 'staff')"
    )


def downgrade() -> None:
    op.drop_constraint("ck_requests_rating_source", "requests")
    op.drop_column("requests", "rating_source")
