"""people records can be corrected and ended: ended posts kept as history, every change audited

Revision ID: 0019
Revises: 0017
Create Date: 2026-12-04 05:00:00

``grid_post_history`` keeps the posts people gave up (卸任, or replaced as 楼长/街巷长): who held which post of
which grid, building or street, from when until when. The person link is set to NULL when the person record is
removed: "building X had a 楼长 until …" stays, their name and numbers go. ``people_changes`` is the audit of
the people records: who changed which record when, which fields (names of fields only, never their values).
"""
import sqlalchemy as sa
from alembic import op

revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None

ACTIONS = "'create', 'update', 'place', 'end_post', 'delete'"


def upgrade() -> None:
    op.create_table(
        "grid_post_history",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("post_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), sa.ForeignKey("people.id", ondelete="SET NULL"), nullable=True),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("grid_code", sa.String(15), nullable=True),
        sa.Column("building_id", sa.Integer(), sa.ForeignKey("buildings.id", ondelete="SET NULL"), nullable=True),
        sa.Column("street_id", sa.Integer(), sa.ForeignKey("streets.id", ondelete="SET NULL"), nullable=True),
        sa.Column("placed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("placed_by", sa.String(100), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_by", sa.String(100), nullable=False),
    )
    op.create_index("ix_grid_post_history_person_id", "grid_post_history", ["person_id"])
    op.create_index("ix_grid_post_history_building_id", "grid_post_history", ["building_id"])
    op.create_index("ix_grid_post_history_grid_code", "grid_post_history", ["grid_code"])
    op.create_table(
        "people_changes",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
        sa.Column("username", sa.String(100), nullable=False),
        sa.Column("role", sa.String(30), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),  # no foreign key: the row outlives the record
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False, server_default="[]"),
        sa.Column("post_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(f"action IN ({ACTIONS})", name="ck_people_changes_action"),
    )
    op.create_index("ix_people_changes_at", "people_changes", ["at"])
    op.create_index("ix_people_changes_person_id", "people_changes", ["person_id"])


def downgrade() -> None:
    op.drop_table("people_changes")
    op.drop_table("grid_post_history")
