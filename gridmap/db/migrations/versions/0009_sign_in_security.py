"""sign-in security: sessions (logout revokes, idleness ends) and the sign-in log

Revision ID: 0009
Revises: 0007
Create Date: 2026-12-03 18:00:00
"""
from alembic import op
import sqlalchemy as sa

revision = '0009'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'auth_sessions',
        sa.Column('id', sa.String(length=32), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('client', sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_auth_sessions_user_id', 'auth_sessions', ['user_id'])
    op.create_index('ix_auth_sessions_expires_at', 'auth_sessions', ['expires_at'])
    op.create_table(
        'sign_in_events',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('username', sa.String(length=100), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('client', sa.String(length=64), nullable=False),
        sa.Column('outcome', sa.String(length=20), nullable=False),
        sa.Column('via', sa.String(length=20), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_sign_in_events_at', 'sign_in_events', ['at'])
    op.create_index('ix_sign_in_events_username_at', 'sign_in_events', ['username', 'at'])
    op.create_index('ix_sign_in_events_client_at', 'sign_in_events', ['client', 'at'])


def downgrade() -> None:
    op.drop_table('sign_in_events')
    op.drop_table('auth_sessions')
