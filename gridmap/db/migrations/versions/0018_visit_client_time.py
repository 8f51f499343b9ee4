"""visits made offline: the phone's time of the visit and the fingerprint of its Idempotency-Key's body

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-04 05:00:00

A visit recorded without network waits on the phone and is uploaded later, with an ``Idempotency-Key``
(``visits.client_key``, already unique). ``made_at`` is when the 网格员 recorded it on the phone (not when it
reached the server; NULL for visits stored before); ``payload_hash`` is SHA-256 of the body, to tell a resend
(answered with the stored visit) from a different visit under a reused key (409).
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("visits", sa.Column("made_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("visits", sa.Column("payload_hash", sa.String(64), nullable=True))


def downgrade() -> None:
    op.drop_column("visits", "payload_hash")
    op.drop_column("visits", "made_at")
