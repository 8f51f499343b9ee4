"""GeoJSON answers: rows whose last column is ``ST_AsGeoJSON`` text, and the bbox query parameter."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from fastapi import Query

BBOX = Query(None, description="minlon,minlat,maxlon,maxlat", pattern=r"^-?[\d.]+(,-?[\d.]+){3}$")


def feature_collection(rows: Iterable[Sequence[Any]], names: list[str]) -> dict[str, Any]:
    """A FeatureCollection: ``names`` label the leading columns, the last column is the geometry's GeoJSON."""
    return {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "geometry": json.loads(row[-1]), "properties": dict(zip(names, row[:-1], strict=True))}
            for row in rows
        ],
    }


def parse_bbox(bbox: str | None) -> tuple[float, float, float, float] | None:
    """The four numbers of a ``bbox`` parameter (already checked by :data:`BBOX`)."""
    if not bbox:
        return None
    x0, y0, x1, y1 = (float(v) for v in bbox.split(","))
    return x0, y0, x1, y1
