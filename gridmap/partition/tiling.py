"""Does a plan tile its area? Overlaps between neighbouring grids and gaps, in PostGIS.

A point in an overlap belongs to two grids; a point in a gap to none. Grids are stored in EPSG:4326 and every
lookup (``ST_Contains``, ``ST_Intersects`` on ``geometry``) treats their edges as straight lines in longitude and
latitude, so the areas are computed there too and converted to square metres at the place's latitude. Casting the
same shapes to ``geography`` would read each edge as a geodesic instead, which bends a straight lon/lat edge by
millimetres: a sliver of 3e-7 m² as stored reads as 0.03 m² there. That reading is given beside it
(``*_geodesic_m2``; ``gap_m2``, ``grids_m2`` and ``outline_m2`` are still read on the spheroid). Pairs of grids
are those whose boxes meet. Against a study area, also the part of it that no grid covers and the part of the
grids outside it. ``stray_points``: of ``:n`` random points within about a metre of
every grid edge (inside the study area when given), how many lie in no grid or in more than one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, text
from sqlalchemy.orm import Session

_MEASURES = """
    shared AS (
      SELECT ST_CollectionExtract(ST_Intersection(a.geom, b.geom), 3) AS geom
      FROM g a JOIN g b ON a.id < b.id AND a.geom && b.geom AND ST_Intersects(a.geom, b.geom)
    ),
    pairs AS (SELECT ST_Area(geom) AS area, ST_Area(geom::geography) AS geodesic FROM shared),
    outline AS (SELECT ST_Union(geom) AS geom FROM g),
    area AS (SELECT ST_GeomFromWKB(:area, 4326) AS geom),
    scale AS (  -- square metres per square degree at the outline's latitude (spherical Earth, mean radius)
      SELECT (pi() * 6371008.8 / 180) ^ 2 * cos(radians(ST_Y(ST_Centroid(geom)))) AS m2 FROM outline
    ),
    uncovered AS (SELECT ST_Difference(a.geom, o.geom) AS geom FROM outline o, area a WHERE a.geom IS NOT NULL),
    outside AS (SELECT ST_Difference(o.geom, a.geom) AS geom FROM outline o, area a WHERE a.geom IS NOT NULL),
    samples AS (
      SELECT (ST_Dump(ST_GeneratePoints(band.geom, :n, 1))).geom AS p
      FROM (SELECT ST_Intersection(ST_Buffer(ST_Union(ST_Boundary(g.geom)), 0.00001),
                                   coalesce((SELECT geom FROM area), (SELECT geom FROM outline))) AS geom FROM g) band
    ),
    hits AS (SELECT (SELECT count(*) FROM g WHERE ST_Contains(g.geom, s.p)) AS n FROM samples s)
    SELECT
      coalesce((SELECT sum(p.area) * s.m2 FROM pairs p, scale s GROUP BY s.m2), 0) AS overlap_m2,
      coalesce((SELECT sum(geodesic) FROM pairs), 0) AS overlap_geodesic_m2,
      (SELECT count(*) FROM pairs WHERE area > 0) AS overlapping_pairs,
      coalesce((SELECT sum(ST_Area(ST_MakePolygon(ST_InteriorRingN(d.geom, n))::geography))
                FROM (SELECT (ST_Dump(geom)).geom FROM outline) d,
                     LATERAL generate_series(1, ST_NumInteriorRings(d.geom)) n
                WHERE ST_Area(ST_MakePolygon(ST_InteriorRingN(d.geom, n))::geography) < :sliver), 0) AS gap_m2,
      (SELECT sum(ST_Area(geom::geography)) FROM g) AS grids_m2,
      (SELECT ST_Area(geom::geography) FROM outline) AS outline_m2,
      (SELECT ST_Area(u.geom) * s.m2 FROM uncovered u, scale s) AS uncovered_m2,
      (SELECT ST_Area(o.geom) * s.m2 FROM outside o, scale s) AS outside_m2,
      (SELECT coalesce(ST_Area(geom::geography), 0) FROM uncovered) AS uncovered_geodesic_m2,
      (SELECT coalesce(ST_Area(geom::geography), 0) FROM outside) AS outside_geodesic_m2,
      (SELECT count(*) FROM hits WHERE n <> 1) AS stray_points,
      (SELECT count(*) FROM hits) AS sampled_points
"""
TILING = text("WITH g AS (SELECT id, geom FROM grids WHERE plan_id = :plan)," + _MEASURES)
TILING_OF = text("WITH g AS (SELECT id, geom FROM tiling_input)," + _MEASURES)


@dataclass(frozen=True)
class Tiling:
    """How exactly a plan's grids tile: overlap area, overlapping pairs, sliver gaps, total areas (m²).

    ``overlap_m2`` as stored (straight lon/lat edges, as lookups read them; ``overlap_geodesic_m2`` the same pairs
    read on the spheroid). ``uncovered_m2`` (study area in no grid) and ``outside_m2`` (grids beyond it) when a
    study area was given, as stored, and the same read on the spheroid; ``stray_points`` of ``sampled_points``
    random points near the grids' edges lie in no grid or in two.
    """

    overlap_m2: float
    overlapping_pairs: int
    gap_m2: float
    grids_m2: float
    outline_m2: float
    uncovered_m2: float | None = None
    outside_m2: float | None = None
    overlap_geodesic_m2: float = 0.0
    uncovered_geodesic_m2: float | None = None
    outside_geodesic_m2: float | None = None
    stray_points: int = 0
    sampled_points: int = 0


def measure_tiling(
    session: Session, plan_id: int, area_wkb: bytes | None = None, sliver_m2: float = 100.0, samples: int = 20_000
) -> Tiling:
    """Overlaps of neighbouring grids and holes smaller than ``sliver_m2`` inside their union (gaps, not parks).

    Also the fit to ``area_wkb`` (EPSG:4326) when given.
    """
    params = {"plan": plan_id, "sliver": sliver_m2, "area": area_wkb, "n": samples}
    return _tiling(session.execute(TILING, params).one())


def measure_polygons(
    session: Session,
    polygons_wkb: Sequence[bytes],
    area_wkb: bytes | None = None,
    sliver_m2: float = 100.0,
    samples: int = 20_000,
) -> Tiling:
    """The same measures for polygons not stored as a plan (WKB in EPSG:4326), against ``area_wkb`` if given.

    They go into a temporary table of this transaction, dropped at its end.
    """
    session.execute(text("CREATE TEMP TABLE tiling_input (id serial, geom geometry(Geometry, 4326)) ON COMMIT DROP"))
    session.execute(
        text("INSERT INTO tiling_input (geom) VALUES (ST_GeomFromWKB(:wkb, 4326))"),
        [{"wkb": w} for w in polygons_wkb],
    )
    session.execute(text("CREATE INDEX ON tiling_input USING gist (geom)"))
    row = session.execute(TILING_OF, {"sliver": sliver_m2, "area": area_wkb, "n": samples}).one()
    session.rollback()
    return _tiling(row)


def _tiling(row: Row[Any]) -> Tiling:
    return Tiling(
        overlap_m2=float(row.overlap_m2),
        overlapping_pairs=int(row.overlapping_pairs),
        gap_m2=float(row.gap_m2),
        grids_m2=float(row.grids_m2 or 0),
        outline_m2=float(row.outline_m2 or 0),
        uncovered_m2=None if row.uncovered_m2 is None else float(row.uncovered_m2),
        outside_m2=None if row.outside_m2 is None else float(row.outside_m2),
        overlap_geodesic_m2=float(row.overlap_geodesic_m2),
        uncovered_geodesic_m2=None if row.uncovered_geodesic_m2 is None else float(row.uncovered_geodesic_m2),
        outside_geodesic_m2=None if row.outside_geodesic_m2 is None else float(row.outside_geodesic_m2),
        stray_points=int(row.stray_points),
        sampled_points=int(row.sampled_points),
    )
