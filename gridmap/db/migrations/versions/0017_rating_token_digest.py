"""the resident's link token stored as its SHA-256 only: existing tokens hashed in place

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-04 04:30:00

``requests.rating_token`` held the token of the resident's link (``/public/requests/{id}?token=…``) as written, a
bearer secret readable by anyone with the database or a backup. From here it holds SHA-256 of the token in hex
(``gridmap.requests.link_tokens``); the links already given out keep working, since the token they carry hashes
to what is stored. PostgreSQL's built-in ``sha256()`` (11+) does it, no pgcrypto. A check keeps plain tokens out.
A downgrade cannot bring the tokens back: links made before it then answer 404.
"""
from alembic import op

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None

DIGEST = "'^[0-9a-f]{64}$'"


def upgrade() -> None:
    op.execute(
        "UPDATE requests SET rating_token = encode(sha256(convert_to(rating_token, 'UTF8')), 'hex') "
        f"WHERE rating_token IS NOT NULL AND rating_token !~ {DIGEST}"
    )
    op.create_check_constraint("ck_requests_rating_token_sha256", "requests", f"rating_token ~ {DIGEST}")


def downgrade() -> None:
    op.drop_constraint("ck_requests_rating_token_sha256", "requests")
