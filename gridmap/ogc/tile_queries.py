"""SQL of the vector tiles: one Mapbox Vector Tile per z/x/y with a layer per kind, built by PostGIS.

Parameters: ``$1..$3`` z, x, y; ``$4`` everything (bool), ``$5`` grid codes (text[]), ``$6`` 社区/街道 code
prefix (text or null), ``$7`` department (text or null) — the caller's ``gridmap.policy`` scope.
Geometries are stored in EPSG:4326; tiles are WebMercatorQuad (EPSG:3857), 4096 units, 64 units buffer.
Below zoom 14 grids and boundaries are simplified (about two tile units) and buildings are left out; below zoom
12 grids are left out too.
"""

from __future__ import annotations

BUILDINGS_FROM = 14
# A city's grids are a few pixels each below zoom 12 (a zoom-10 tile of a 1 M-building city holds 15,000 of them:
# 0.9 MB, 2 s): there the 社区/街道 boundaries stand for them.
GRIDS_FROM = 12
MAIN_ROADS = "'{motorway,trunk,primary,river}'::text[]"  # the streets drawn below zoom 12

_ENVELOPE = """
env AS (
  SELECT ST_TileEnvelope($1, $2, $3) AS box,
         ST_Transform(ST_TileEnvelope($1, $2, $3, margin => 64.0 / 4096), 4326) AS wgs,
         ST_Transform(ST_TileEnvelope($1, $2, $3, margin => 64.0 / 4096), 4326)::box2d AS clip,
         CASE WHEN $1 < 14 THEN (ST_XMax(ST_TileEnvelope($1, $2, $3)) - ST_XMin(ST_TileEnvelope($1, $2, $3))) / 2048
              ELSE 0 END AS tol
)"""
# A department has no grids of its own (``policy.Scope.covers_grid``).
_IN_SCOPE = (
    "($7::text IS NULL AND ($4 OR {code} = ANY($5::text[])"
    " OR ($6::text IS NOT NULL AND starts_with({code}, $6::text))))"
)


def _geom(column: str, simplify: bool) -> str:
    # Cut to the tile (and its buffer) first: a long street or a large boundary is transformed and simplified
    # only where the tile needs it (a street of 300 points across a zoom-17 tile: 8 ms instead of 50-270 ms).
    # Below zoom 14 simplified before the transform (degrees of longitude are 111,320 Web Mercator metres).
    clipped = f"ST_ClipByBox2D({column}, env.clip)"
    if simplify:
        clipped = f"CASE WHEN env.tol > 0 THEN ST_Simplify({clipped}, env.tol / 111320, true) ELSE {clipped} END"
    return f"ST_AsMVTGeom(ST_Transform({clipped}, 3857), env.box, 4096, 64, true)"


PLAN_TILE = f"""
WITH {_ENVELOPE},
plan AS (SELECT id FROM public.grid_plans WHERE status = 'published'),
grids AS MATERIALIZED (
  SELECT g.code, g.households, g.n_buildings, g.community_code, {_geom("g.geom", True)} AS geom
  FROM public.grids g JOIN plan ON g.plan_id = plan.id, env
  WHERE $1 >= {GRIDS_FROM} AND g.geom && env.wgs AND {_IN_SCOPE.format(code="g.code")}
),
buildings AS MATERIALIZED (
  SELECT b.id, b.name, b.households, g.code AS grid_code, {_geom("b.geom", False)} AS geom
  FROM public.buildings b JOIN public.grid_assignments a ON a.building_id = b.id JOIN plan ON a.plan_id = plan.id
  JOIN public.grids g ON g.id = a.grid_id, env
  WHERE $1 >= {BUILDINGS_FROM} AND b.geom && env.wgs AND b.is_residential AND {_IN_SCOPE.format(code="g.code")}
),
streets AS MATERIALIZED (
  SELECT s.name, s.street_class, {_geom("s.geom", True)} AS geom FROM public.streets s, env
  WHERE s.geom && env.wgs AND ($1 >= 14 OR (s.is_barrier AND ($1 >= 12 OR s.street_class = ANY({MAIN_ROADS}))))
),
compounds AS MATERIALIZED (
  SELECT c.id, c.name, {_geom("c.geom", True)} AS geom FROM public.compounds c, env WHERE $1 >= 12 AND c.geom && env.wgs
),
boundaries AS MATERIALIZED (
  SELECT u.code, u.name, u.level::text AS level, {_geom("u.geom", True)} AS geom FROM public.admin_units u, env
  WHERE u.geom IS NOT NULL AND u.level IN ('street', 'community') AND u.geom && env.wgs
)
SELECT (SELECT coalesce(ST_AsMVT(t.*, 'grids', 4096, 'geom'), '') FROM grids t WHERE t.geom IS NOT NULL)
    || (SELECT coalesce(ST_AsMVT(t.*, 'buildings', 4096, 'geom', 'id'), '') FROM buildings t WHERE t.geom IS NOT NULL)
    || (SELECT coalesce(ST_AsMVT(t.*, 'streets', 4096, 'geom'), '') FROM streets t WHERE t.geom IS NOT NULL)
    || (SELECT coalesce(ST_AsMVT(t.*, 'compounds', 4096, 'geom', 'id'), '') FROM compounds t WHERE t.geom IS NOT NULL)
    || (SELECT coalesce(ST_AsMVT(t.*, 'boundaries', 4096, 'geom'), '') FROM boundaries t WHERE t.geom IS NOT NULL)
"""

# Requests since ``$8`` counted on a 32 x 32 grid of each tile: the request density layer.
DENSITY_TILE = f"""
WITH {_ENVELOPE},
cells AS (
  SELECT count(*) AS n,
         ST_SnapToGrid(ST_Transform(r.geom, 3857), ST_XMin(env.box), ST_YMin(env.box),
                       (ST_XMax(env.box) - ST_XMin(env.box)) / 32, (ST_YMax(env.box) - ST_YMin(env.box)) / 32) AS cell
  FROM public.requests r, env
  WHERE r.geom && env.wgs AND r.created_at >= $8
    AND CASE WHEN $7::text IS NOT NULL THEN r.department = $7::text AND r.dispatched_at IS NOT NULL
             ELSE {_IN_SCOPE.format(code="r.grid_code")} END
  GROUP BY cell
)
SELECT coalesce(ST_AsMVT(t.*, 'request_density', 4096, 'geom'), '')
FROM (SELECT n, ST_AsMVTGeom(cell, env.box, 4096, 0, true) AS geom FROM cells, env) t WHERE t.geom IS NOT NULL
"""

PLAN_VERSION = "SELECT id, version FROM public.grid_plans WHERE status = 'published'"
