"""requests workflow: categories, audited events, the 五单 columns, roles 社区 and 街道指挥中心

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 05:14:14.396920
"""
from alembic import op
import sqlalchemy as sa

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

COLUMNS = [
    sa.Column('plan_version', sa.Integer(), nullable=True),
    sa.Column('address', sa.String(length=300), nullable=True),
    sa.Column('match_level', sa.String(length=30), nullable=True),
    sa.Column('building_id', sa.Integer(), nullable=True),
    sa.Column('department', sa.String(length=200), nullable=True),
    sa.Column('size', sa.String(length=10), nullable=True),
    sa.Column('channel', sa.String(length=20), nullable=False, server_default='staff'),
    sa.Column('simulated', sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Column('reporter_name', sa.String(length=100), nullable=True),
    sa.Column('reporter_phone', sa.String(length=30), nullable=True),
    sa.Column('reporter_user_id', sa.Integer(), nullable=True),
    sa.Column('photos', sa.JSON(), nullable=False, server_default='[]'),
    sa.Column('duplicate_of', sa.Integer(), nullable=True),
    sa.Column('report_count', sa.Integer(), nullable=False, server_default='1'),
    sa.Column('reopen_count', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('rating', sa.Integer(), nullable=True),
    sa.Column('rating_comment', sa.Text(), nullable=True),
    sa.Column('rating_token', sa.String(length=64), nullable=True),
    sa.Column('idempotency_key', sa.String(length=200), nullable=True),
    sa.Column('payload_hash', sa.String(length=64), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('responded_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('dispatched_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('accepted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
]
INDEXED = ['category', 'created_at', 'department', 'duplicate_of', 'simulated', 'status']
FOREIGN = [
    ('fk_requests_duplicate_of', 'requests', ['duplicate_of'], ['id'], 'SET NULL'),
    ('fk_requests_category', 'request_categories', ['category'], ['code'], None),
    ('fk_requests_reporter_user_id', 'users', ['reporter_user_id'], ['id'], 'SET NULL'),
    ('fk_requests_building_id', 'buildings', ['building_id'], ['id'], 'SET NULL'),
]


def upgrade() -> None:
    op.execute("ALTER TYPE user_role ADD VALUE IF NOT EXISTS 'community'")
    op.execute("ALTER TYPE user_role ADD VALUE IF NOT EXISTS 'command'")
    op.create_table('request_categories',
    sa.Column('code', sa.String(length=50), nullable=False),
    sa.Column('name_zh', sa.String(length=100), nullable=False),
    sa.Column('name_en', sa.String(length=100), nullable=False),
    sa.Column('department', sa.String(length=200), nullable=False),
    sa.Column('respond_minutes', sa.Integer(), nullable=False),
    sa.Column('accept_minutes', sa.Integer(), nullable=False),
    sa.Column('resolve_minutes', sa.Integer(), nullable=False),
    sa.Column('working_hours', sa.Boolean(), nullable=False),
    sa.Column('blocks_lane', sa.Boolean(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('code')
    )
    op.create_table('request_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('action', sa.String(length=30), nullable=False),
    sa.Column('from_status', sa.String(length=30), nullable=True),
    sa.Column('to_status', sa.String(length=30), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('actor', sa.String(length=100), nullable=False),
    sa.Column('actor_role', sa.String(length=30), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['request_id'], ['requests.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_request_events_request_id', 'request_events', ['request_id'], unique=False)
    for column in COLUMNS:
        op.add_column('requests', column)
    for name in INDEXED:
        op.create_index(f'ix_requests_{name}', 'requests', [name], unique=False)
    op.create_unique_constraint('uq_requests_idempotency_key', 'requests', ['idempotency_key'])
    # Rows of the 0001 table keep their category: it becomes a category of its own until someone edits it.
    op.execute(
        "INSERT INTO request_categories SELECT DISTINCT category, category, category, '未分配', 30, 120, 4320, "
        "false, false, true FROM requests"
    )
    for name, table, local, remote, ondelete in FOREIGN:
        op.create_foreign_key(name, 'requests', table, local, remote, ondelete=ondelete)


def downgrade() -> None:
    for name, *_ in FOREIGN:
        op.drop_constraint(name, 'requests', type_='foreignkey')
    op.drop_constraint('uq_requests_idempotency_key', 'requests', type_='unique')
    for name in INDEXED:
        op.drop_index(f'ix_requests_{name}', table_name='requests')
    for column in COLUMNS:
        op.drop_column('requests', column.name)
    op.drop_index('ix_request_events_request_id', table_name='request_events')
    op.drop_table('request_events')
    op.drop_table('request_categories')
