"""a reporter's whole phone number is shown only by a logged reveal: pii_reveals also names the request

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-04 19:00:00

Until now 社区 and 街道 staff read every reporter's whole number in the request's detail. The number is now masked
for everyone, and 查看完整号码 (with a reason) writes a row of ``pii_reveals`` naming the request instead of a
person. A row names one or the other.
"""
import sqlalchemy as sa
from alembic import op

revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "pii_reveals",
        sa.Column("request_id", sa.Integer(), sa.ForeignKey("requests.id", ondelete="SET NULL"), nullable=True),
    )
    op.create_index("ix_pii_reveals_request_id", "pii_reveals", ["request_id"])


def downgrade() -> None:
    op.drop_index("ix_pii_reveals_request_id", table_name="pii_reveals")
    op.drop_column("pii_reveals", "request_id")
