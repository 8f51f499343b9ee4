"""landmarks: named OSM points (shops, amenities, gates, stops) the geocoder answers by name

Revision ID: 0010
Revises: 0006
Create Date: 2026-12-04 01:30:00
"""
from alembic import op
import sqlalchemy as sa
from geoalchemy2 import Geometry

revision = '0010'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_geospatial_table('landmarks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source_id', sa.String(length=100), nullable=False),
    sa.Column('osm_id', sa.BigInteger(), nullable=True),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('source', sa.String(length=255), nullable=False),
    sa.Column('geom', Geometry(geometry_type='POINT', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('source_id')
    )
    op.create_geospatial_index('idx_landmarks_geom', 'landmarks', ['geom'], unique=False, postgresql_using='gist', postgresql_ops={})


def downgrade() -> None:
    op.drop_geospatial_index('idx_landmarks_geom', table_name='landmarks', postgresql_using='gist', column_name='geom')
    op.drop_geospatial_table('landmarks')
