"""SQL of the vector tiles: one Mapbox Vector Tile per z/x/y with a layer per kind, built by PostGIS.

Parameters: ``$1..$3`` z, x, y; ``$4`` everything (bool), ``$5`` grid codes (text[]), ``$6`` 社区/街道 code
prefix (text or null), ``$7`` department (text or null) — the caller's ``gridmap.policy`` scope; plan tiles:
``$8`` the published plan's id. Tiles are WebMercatorQuad (EPSG:3857), 4096 units, 64 units buffer.

A plan tile does no geometry work but ``ST_AsMVTGeom``: buildings are read from their EPSG:3857 column
(migration 0016), grids, streets, compounds and boundaries from ``tile_shapes``, made once per published plan
version (:data:`BUILD_SHAPES`) in EPSG:3857 and simplified per zoom band (about two tile units of the band's
zoom; band 14 is not simplified). Below zoom 14 buildings are left out; below zoom 12 grids and compounds too,
and streets but the barriers (main roads and rivers only below 12).
"""

from __future__ import annotations

BUILDINGS_FROM = 14
# A city's grids are a few pixels each below zoom 12 (a zoom-10 tile of a 1 M-building city holds 15,000 of them:
# 0.9 MB, 2 s): there the 社区/街道 boundaries stand for them.
GRIDS_FROM = 12
MAIN_ROADS = "'{motorway,trunk,primary,river}'::text[]"  # the streets drawn below zoom 12
BANDS = (10, 11, 12, 13, 14)  # zoom bands of ``tile_shapes``: 10 serves zoom 0-10, 14 zoom 14 and above
WORLD = 40075016.685578488  # width of the WebMercatorQuad world in metres


def band_of(z: int) -> int:
    """The ``tile_shapes`` band a zoom's tiles are cut from."""
    return min(max(z, BANDS[0]), BANDS[-1])


_ENVELOPE = """
env AS (
  SELECT ST_TileEnvelope($1, $2, $3) AS box,
         ST_Transform(ST_TileEnvelope($1, $2, $3, margin => 64.0 / 4096), 4326) AS wgs,
         ST_TileEnvelope($1, $2, $3, margin => 64.0 / 4096) AS big
)"""
# A department has no grids of its own (``policy.Scope.covers_grid``).
_IN_SCOPE = (
    "($7::text IS NULL AND ($4 OR {code} = ANY($5::text[])"
    " OR ($6::text IS NOT NULL AND starts_with({code}, $6::text))))"
)
_MVT_GEOM = "ST_AsMVTGeom({column}, env.box, 4096, 64, true)"


def _shapes(layer: str, band: int, columns: str, where: str = "true") -> str:
    # ``band`` is written into the SQL (not a parameter): the partial GiST index of that band applies.
    return (
        f"SELECT {columns}, {_MVT_GEOM.format(column='t.geom')} AS geom FROM public.tile_shapes t, env "
        f"WHERE t.band = {band} AND t.plan_id = $8 AND t.layer = '{layer}' AND t.geom && env.big AND {where}"
    )


def _plan_tile(band: int) -> str:
    grids = _shapes(
        "grids",
        band,
        "t.code, t.households, t.n_buildings, t.community_code",
        f"$1 >= {GRIDS_FROM} AND {_IN_SCOPE.format(code='t.code')}",
    )
    return f"""
WITH {_ENVELOPE},
grids AS MATERIALIZED ({grids}),
buildings AS MATERIALIZED (
  SELECT b.id, b.name, b.households, g.code AS grid_code, {_MVT_GEOM.format(column="b.geom_3857")} AS geom
  FROM public.buildings b JOIN public.grid_assignments a ON a.building_id = b.id AND a.plan_id = $8
  JOIN public.grids g ON g.id = a.grid_id, env
  WHERE $1 >= {BUILDINGS_FROM} AND b.is_residential AND b.geom_3857 && env.big AND {_IN_SCOPE.format(code="g.code")}
),
streets AS MATERIALIZED ({_shapes("streets", band, "t.name, t.kind AS street_class")}),
compounds AS MATERIALIZED ({_shapes("compounds", band, "t.ref_id AS id, t.name", "$1 >= 12")}),
boundaries AS MATERIALIZED ({_shapes("boundaries", band, "t.code, t.name, t.kind AS level")})
SELECT (SELECT coalesce(ST_AsMVT(t.*, 'grids', 4096, 'geom'), '') FROM grids t WHERE t.geom IS NOT NULL)
    || (SELECT coalesce(ST_AsMVT(t.*, 'buildings', 4096, 'geom', 'id'), '') FROM buildings t WHERE t.geom IS NOT NULL)
    || (SELECT coalesce(ST_AsMVT(t.*, 'streets', 4096, 'geom'), '') FROM streets t WHERE t.geom IS NOT NULL)
    || (SELECT coalesce(ST_AsMVT(t.*, 'compounds', 4096, 'geom', 'id'), '') FROM compounds t WHERE t.geom IS NOT NULL)
    || (SELECT coalesce(ST_AsMVT(t.*, 'boundaries', 4096, 'geom'), '') FROM boundaries t WHERE t.geom IS NOT NULL)
"""


PLAN_TILE = {band: _plan_tile(band) for band in BANDS}

# ``tile_shapes`` of the published plan ``$1``: each shape once per band it is drawn in, in EPSG:3857.
_SIMPLIFIED = (
    f"CASE WHEN b.band < 14 THEN ST_Simplify(ST_Transform({{column}}, 3857), {WORLD} / 2 ^ b.band / 2048, true) "
    "ELSE ST_Transform({column}, 3857) END"
)
_INSERT = (
    "INSERT INTO public.tile_shapes (plan_id, layer, band, ref_id, code, name, kind, households, n_buildings, "
    "community_code, geom) SELECT * FROM ({select}) q WHERE q.geom IS NOT NULL AND NOT ST_IsEmpty(q.geom)"
)
BUILD_SHAPES = [
    "DELETE FROM public.tile_shapes",  # only the published plan is drawn
    "DELETE FROM public.tile_builds",
    _INSERT.format(
        select="SELECT $1::integer, 'grids', b.band, g.id, g.code::text, NULL::text, NULL::text, g.households, "
        f"g.n_buildings, g.community_code::text, {_SIMPLIFIED.format(column='g.geom')} AS geom "
        "FROM public.grids g, unnest('{12,13,14}'::smallint[]) b(band) WHERE g.plan_id = $1"
    ),
    _INSERT.format(
        select="SELECT $1::integer, 'streets', b.band, s.id, NULL::text, s.name::text, s.street_class::text, "
        f"NULL::integer, NULL::integer, NULL::text, {_SIMPLIFIED.format(column='s.geom')} AS geom "
        "FROM public.streets s, unnest('{10,11,12,13,14}'::smallint[]) b(band) "
        f"WHERE b.band >= 14 OR (s.is_barrier AND (b.band >= 12 OR s.street_class = ANY({MAIN_ROADS})))"
    ),
    _INSERT.format(
        select="SELECT $1::integer, 'compounds', b.band, c.id, NULL::text, c.name::text, NULL::text, "
        f"NULL::integer, NULL::integer, NULL::text, {_SIMPLIFIED.format(column='c.geom')} AS geom "
        "FROM public.compounds c, unnest('{12,13,14}'::smallint[]) b(band)"
    ),
    _INSERT.format(
        select="SELECT $1::integer, 'boundaries', b.band, NULL::integer, u.code::text, u.name::text, u.level::text, "
        f"NULL::integer, NULL::integer, NULL::text, {_SIMPLIFIED.format(column='u.geom')} AS geom "
        "FROM public.admin_units u, unnest('{10,11,12,13,14}'::smallint[]) b(band) "
        "WHERE u.geom IS NOT NULL AND u.level IN ('street', 'community')"
    ),
]
BUILT = "INSERT INTO public.tile_builds (plan_id, version, seconds) VALUES ($1, $2, $3)"
BUILT_VERSION = "SELECT version FROM public.tile_builds WHERE plan_id = $1"
BUILD_LOCK = "SELECT pg_advisory_xact_lock(hashtext('gridmap.tile_shapes'))"

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

PLAN_VERSION = """
SELECT p.id, p.version, t.version AS built FROM public.grid_plans p LEFT JOIN public.tile_builds t ON t.plan_id = p.id
WHERE p.status = 'published'"""
