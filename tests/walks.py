"""Walks along real streets of the 新街口 extract (© OpenStreetMap contributors), for patrol tests."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

LONGEST_STREET = text(
    "SELECT s.name, ST_AsText(ST_LineMerge(ST_CollectionExtract(ST_Intersection(s.geom, g.geom), 2))) AS wkt, "
    "ST_Length(ST_Intersection(s.geom, g.geom)::geography) AS metres FROM streets s "
    "JOIN grids g ON g.code = :grid AND ST_Intersects(s.geom, g.geom) "
    "JOIN grid_plans gp ON gp.id = g.plan_id AND gp.status = 'published' "
    "WHERE s.name IS NOT NULL AND GeometryType(ST_LineMerge(ST_CollectionExtract(ST_Intersection(s.geom, g.geom), 2)))"
    " = 'LINESTRING' ORDER BY metres DESC LIMIT 1"
)
POINTS = text(
    "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_LineInterpolatePoint(ST_GeomFromText(:wkt, 4326), f) p "
    "FROM generate_series(0, :n) i, LATERAL (SELECT i::float / :n AS f) x ORDER BY i) y"
)


def street_walk(session: Session, grid: str, *, step_m: float = 10.0) -> tuple[str, float, list[tuple[float, float]]]:
    """The longest named street of ``grid`` (its part inside): name, length and positions every ``step_m``."""
    name, wkt, metres = session.execute(LONGEST_STREET, {"grid": grid}).one()
    n = max(2, int(metres // step_m))
    points = [(float(x), float(y)) for x, y in session.execute(POINTS, {"wkt": wkt, "n": n})]
    return str(name), float(metres), points


def timed(points: list[tuple[float, float]], start: datetime, seconds: float) -> list[dict[str, Any]]:
    """Positions as the phone uploads them, ``seconds`` apart, accuracy 8 m."""
    return [
        {"t": (start + timedelta(seconds=i * seconds)).isoformat(), "lon": x, "lat": y, "accuracy": 8.0}
        for i, (x, y) in enumerate(points)
    ]
