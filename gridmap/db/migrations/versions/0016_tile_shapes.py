"""vector tiles without work per request: buildings in EPSG:3857, a plan's shapes pre-simplified per zoom band

Revision ID: 0016
Revises: 0013
Create Date: 2026-12-04 02:30:00

``buildings.geom_3857`` is the footprint in Web Mercator (a stored generated column, indexed for the
residential ones the tiles draw). ``tile_shapes`` holds the published plan's grids and the streets, compounds
and 社区/街道 boundaries beside it in EPSG:3857, once per zoom band (10: zoom 10 and below, 11, 12, 13, 14: zoom 14
and above), simplified for that band's zoom; ``tile_builds`` says which plan version they were made from
(``gridmap.ogc.tile_shapes`` makes them on the first tile of a version, under a lock).
"""
from alembic import op

revision = '0016'
down_revision = '0011'
branch_labels = None
depends_on = None

BANDS = (10, 11, 12, 13, 14)


def upgrade() -> None:
    op.execute(
        "ALTER TABLE buildings ADD COLUMN geom_3857 geometry(MultiPolygon, 3857) "
        "GENERATED ALWAYS AS (ST_Transform(geom, 3857)) STORED"
    )
    op.execute("CREATE INDEX idx_buildings_geom_3857 ON buildings USING gist (geom_3857) WHERE is_residential")
    op.execute(
        """
        CREATE TABLE tile_builds (
          plan_id integer PRIMARY KEY REFERENCES grid_plans(id) ON DELETE CASCADE,
          version integer NOT NULL,
          built_at timestamptz NOT NULL DEFAULT now(),
          seconds double precision NOT NULL
        );
        CREATE TABLE tile_shapes (
          plan_id integer NOT NULL REFERENCES grid_plans(id) ON DELETE CASCADE,
          layer text NOT NULL,
          band smallint NOT NULL,
          ref_id integer,
          code text,
          name text,
          kind text,
          households integer,
          n_buildings integer,
          community_code text,
          geom geometry(Geometry, 3857) NOT NULL
        );
        COMMENT ON TABLE tile_shapes IS
          'gridmap: the published plan''s tile layers in EPSG:3857, simplified per zoom band (made from tile_builds)';
        """
    )
    for band in BANDS:
        op.execute(f"CREATE INDEX idx_tile_shapes_band{band} ON tile_shapes USING gist (geom) WHERE band = {band}")


def downgrade() -> None:
    op.execute("DROP TABLE tile_shapes")
    op.execute("DROP TABLE tile_builds")
    op.execute("DROP INDEX idx_buildings_geom_3857")
    op.execute("ALTER TABLE buildings DROP COLUMN geom_3857")
