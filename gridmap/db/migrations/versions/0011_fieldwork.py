"""fieldwork (五个一): patrols with their points and track, who viewed a track, visits (走访/民情日记)

Revision ID: 0011
Revises: 0006
Create Date: 2026-12-04 01:20:00
"""
from alembic import op
import sqlalchemy as sa
from geoalchemy2 import Geometry

revision = '0011'
down_revision = '0013'
branch_labels = None
depends_on = None

KINDS = "('routine', 'key_person', 'hardship', 'elderly_alone', 'key_place', 'other')"


def upgrade() -> None:
    op.create_table(
        'patrols',
        sa.Column('id', sa.Integer, primary_key=True),
        sa.Column('client_key', sa.String(64), nullable=False, unique=True),
        sa.Column('user_id', sa.Integer, sa.ForeignKey('users.id', ondelete='CASCADE'), nullable=False, index=True),
        sa.Column('grid_code', sa.String(15), index=True),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=False, index=True),
        sa.Column('ended_at', sa.DateTime(timezone=True)),
        sa.Column('n_points', sa.Integer, nullable=False, server_default='0'),
        sa.Column('length_m', sa.Float, nullable=False, server_default='0'),
        sa.Column('street_share', sa.Float),
        sa.Column('building_share', sa.Float),
        sa.Column('report_keys', sa.JSON, nullable=False, server_default='[]'),
        sa.Column('track_purged_at', sa.DateTime(timezone=True)),
        sa.Column('track', Geometry('LINESTRINGM', srid=4326, dimension=3, spatial_index=False), nullable=True),
    )
    op.create_index('ix_patrols_track', 'patrols', ['track'], postgresql_using='gist')
    op.create_table(
        'patrol_points',
        sa.Column('patrol_id', sa.Integer, sa.ForeignKey('patrols.id', ondelete='CASCADE'), primary_key=True),
        sa.Column('at', sa.DateTime(timezone=True), primary_key=True),
        sa.Column('accuracy_m', sa.Float),
        sa.Column('geom', Geometry('POINT', srid=4326, spatial_index=False), nullable=False),
    )
    op.create_table(
        'track_views',
        sa.Column('id', sa.Integer, primary_key=True),
        sa.Column('patrol_id', sa.Integer, sa.ForeignKey('patrols.id', ondelete='CASCADE'), nullable=False, index=True),
        sa.Column('viewer_id', sa.Integer, sa.ForeignKey('users.id', ondelete='SET NULL')),
        sa.Column('viewer', sa.String(100), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('reason', sa.Text, nullable=False),
    )
    op.create_table(
        'visits',
        sa.Column('id', sa.Integer, primary_key=True),
        sa.Column('client_key', sa.String(64), nullable=False, unique=True),
        sa.Column('user_id', sa.Integer, sa.ForeignKey('users.id', ondelete='SET NULL'), index=True),
        sa.Column('building_id', sa.Integer, sa.ForeignKey('buildings.id', ondelete='CASCADE'), nullable=False,
                  index=True),
        sa.Column('grid_code', sa.String(15), index=True),
        sa.Column('unit', sa.String(20)),
        sa.Column('room', sa.String(20)),
        sa.Column('visited_on', sa.Date, nullable=False, index=True),
        sa.Column('kind', sa.String(20), nullable=False),
        sa.Column('note', sa.Text),
        sa.Column('photos', sa.JSON, nullable=False, server_default='[]'),
        sa.Column('request_id', sa.Integer, sa.ForeignKey('requests.id', ondelete='SET NULL')),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(f"kind IN {KINDS}", name='ck_visits_kind'),
    )


def downgrade() -> None:
    op.drop_table('visits')
    op.drop_table('track_views')
    op.drop_table('patrol_points')
    op.drop_table('patrols')
