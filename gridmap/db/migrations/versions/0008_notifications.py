"""notifications: events stored once, per-user inboxes, webhooks and their outbox; NOTIFY on new rows

Revision ID: 0008
Revises: 0009
Create Date: 2026-12-03 18:00:00
"""
from alembic import op
import sqlalchemy as sa

revision = '0008'
down_revision = '0009'
branch_labels = None
depends_on = None

# Statement-level triggers: one NOTIFY per statement (a fan-out of 500 rows is one message), sent at commit,
# so server-sent-event streams wake without polling and without a database connection each.
NOTIFY_USERS = """
CREATE FUNCTION gridmap_notify_users() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE users text;
BEGIN
  SELECT CASE WHEN count(DISTINCT user_id) > 400 THEN '*' ELSE string_agg(DISTINCT user_id::text, ',') END
    INTO users FROM changed;
  IF users IS NOT NULL THEN PERFORM pg_notify('gridmap_notifications', users); END IF;
  RETURN NULL;
END $$
"""
NOTIFY_OUTBOX = """
CREATE FUNCTION gridmap_notify_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM added) THEN PERFORM pg_notify('gridmap_outbox', ''); END IF;
  RETURN NULL;
END $$
"""


def upgrade() -> None:
    op.create_table('notify_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=120), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('stage', sa.String(length=10), nullable=True),
    sa.Column('since', sa.DateTime(timezone=True), nullable=True),
    sa.Column('status', sa.String(length=30), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['request_id'], ['requests.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key')
    )
    op.create_index('ix_notify_events_request_id', 'notify_events', ['request_id'])
    op.create_table('notifications',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('read_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['event_id'], ['notify_events.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('user_id', 'event_id')
    )
    op.create_index('ix_notifications_event_id', 'notifications', ['event_id'])
    op.create_index('ix_notifications_unread', 'notifications', ['user_id'], postgresql_where=sa.text('read_at IS NULL'))
    op.create_table('webhooks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('unit_kind', sa.String(length=20), nullable=False),
    sa.Column('unit', sa.String(length=200), nullable=False),
    sa.Column('url', sa.Text(), nullable=False),
    sa.Column('format', sa.String(length=20), nullable=False),
    sa.Column('kinds', sa.JSON(), nullable=False),
    sa.Column('secret', sa.String(length=200), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_webhooks_unit', 'webhooks', ['unit'])
    op.create_table('webhook_deliveries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('webhook_id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['event_id'], ['notify_events.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['webhook_id'], ['webhooks.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('webhook_id', 'event_id')
    )
    op.create_index('ix_webhook_deliveries_event_id', 'webhook_deliveries', ['event_id'])
    op.create_index('ix_webhook_deliveries_due', 'webhook_deliveries', ['next_attempt_at'],
                    postgresql_where=sa.text("status = 'pending'"))
    op.execute(NOTIFY_USERS)
    op.execute(NOTIFY_OUTBOX)
    for verb in ('INSERT', 'UPDATE'):
        op.execute(f"CREATE TRIGGER notifications_{verb.lower()} AFTER {verb} ON notifications "
                   "REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION gridmap_notify_users()")
    op.execute("CREATE TRIGGER webhook_deliveries_insert AFTER INSERT ON webhook_deliveries "
               "REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION gridmap_notify_outbox()")


def downgrade() -> None:
    op.drop_table('webhook_deliveries')
    op.drop_table('webhooks')
    op.drop_table('notifications')
    op.drop_table('notify_events')
    op.execute("DROP FUNCTION gridmap_notify_users()")
    op.execute("DROP FUNCTION gridmap_notify_outbox()")
