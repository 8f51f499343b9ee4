"""Does a plan tile its area? Overlaps between neighbouring grids and gaps inside the grids' outline, in PostGIS.

A point in an overlap belongs to two grids; a point in a gap to none. Both are measured in square metres on the
spheroid (``geography``), over pairs of grids whose boxes meet.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.orm import Session

TILING = text(
    """
    WITH g AS (SELECT id, geom FROM grids WHERE plan_id = :plan),
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
      (SELECT ST_Area(geom::geography) FROM outline) AS outline_m2
    """
)


@dataclass(frozen=True)
class Tiling:
    """How exactly a plan's grids tile: overlap area, overlapping pairs, sliver gaps, total areas (m²)."""

    overlap_m2: float
    overlapping_pairs: int
    gap_m2: float
    grids_m2: float
    outline_m2: float


def measure_tiling(session: Session, plan_id: int, sliver_m2: float = 100.0) -> Tiling:
    """Overlaps of neighbouring grids, and holes smaller than ``sliver_m2`` inside their union (gaps, not parks)."""
    row = session.execute(TILING, {"plan": plan_id, "sliver": sliver_m2}).one()
    return Tiling(
        overlap_m2=float(row.overlap_m2),
        overlapping_pairs=int(row.overlapping_pairs),
        gap_m2=float(row.gap_m2),
        grids_m2=float(row.grids_m2 or 0),
        outline_m2=float(row.outline_m2 or 0),
    )
