"""Does a plan tile its area? Overlaps between neighbouring grids and gaps inside the grids' outline, in PostGIS.

A point in an overlap belongs to two grids; a point in a gap to none. Both are measured in square metres on the
spheroid (``geography``), over pairs of grids whose boxes meet. Against a study area, also the part of it that no
grid covers and the part of the grids outside it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, text
from sqlalchemy.orm import Session

_MEASURES = """
    pairs AS (
      SELECT ST_Area(ST_CollectionExtract(ST_Intersection(a.geom, b.geom), 3)::geography) AS area
      FROM g a JOIN g b ON a.id < b.id AND a.geom && b.geom AND ST_Intersects(a.geom, b.geom)
    ),
    outline AS (SELECT ST_Union(geom) AS geom FROM g)
    SELECT
      coalesce((SELECT sum(area) FROM pairs), 0) AS overlap_m2,
      (SELECT count(*) FROM pairs WHERE area > 0) AS overlapping_pairs,
      coalesce((SELECT sum(ST_Area(ST_MakePolygon(ST_InteriorRingN(d.geom, n))::geography))
                FROM (SELECT (ST_Dump(geom)).geom FROM outline) d,
                     LATERAL generate_series(1, ST_NumInteriorRings(d.geom)) n
                WHERE ST_Area(ST_MakePolygon(ST_InteriorRingN(d.geom, n))::geography) < :sliver), 0) AS gap_m2,
      (SELECT sum(ST_Area(geom::geography)) FROM g) AS grids_m2,
      (SELECT ST_Area(geom::geography) FROM outline) AS outline_m2,
      (SELECT coalesce(ST_Area(ST_Difference(s.geom, o.geom)::geography), 0)
         FROM outline o, (SELECT ST_GeomFromWKB(:area, 4326) AS geom) s WHERE s.geom IS NOT NULL) AS uncovered_m2,
      (SELECT coalesce(ST_Area(ST_Difference(o.geom, s.geom)::geography), 0)
         FROM outline o, (SELECT ST_GeomFromWKB(:area, 4326) AS geom) s WHERE s.geom IS NOT NULL) AS outside_m2
"""
TILING = text("WITH g AS (SELECT id, geom FROM grids WHERE plan_id = :plan)," + _MEASURES)
TILING_OF = text("WITH g AS (SELECT id, geom FROM tiling_input)," + _MEASURES)


@dataclass(frozen=True)
class Tiling:
    """How exactly a plan's grids tile: overlap area, overlapping pairs, sliver gaps, total areas (m²).

    ``uncovered_m2`` (study area in no grid) and ``outside_m2`` (grids beyond it) when a study area was given.
    """

    overlap_m2: float
    overlapping_pairs: int
    gap_m2: float
    grids_m2: float
    outline_m2: float
    uncovered_m2: float | None = None
    outside_m2: float | None = None


def measure_tiling(session: Session, plan_id: int, sliver_m2: float = 100.0) -> Tiling:
    """Overlaps of neighbouring grids, and holes smaller than ``sliver_m2`` inside their union (gaps, not parks)."""
    return _tiling(session.execute(TILING, {"plan": plan_id, "sliver": sliver_m2, "area": None}).one())


def measure_polygons(
    session: Session, polygons_wkb: Sequence[bytes], area_wkb: bytes | None = None, sliver_m2: float = 100.0
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
    row = session.execute(TILING_OF, {"sliver": sliver_m2, "area": area_wkb}).one()
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
    )
