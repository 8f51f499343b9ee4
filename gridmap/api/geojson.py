"""GeoJSON answers: rows whose last column is ``ST_AsGeoJSON`` text, and the bbox query parameter."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from fastapi import Query, Response

BBOX = Query(None, description="minlon,minlat,maxlon,maxlat", pattern=r"^-?[\d.]+(,-?[\d.]+){3}$")


def feature_collection(rows: Iterable[Sequence[Any]], names: list[str]) -> Response:
    """A FeatureCollection: ``names`` label the leading columns, the last column is the geometry's GeoJSON.

    The geometry text from PostGIS is spliced in as it is: no parsing and re-encoding of large layers.
    """
    features = ",".join(
        '{"type":"Feature","geometry":'
        + row[-1]
        + ',"properties":'
        + json.dumps(dict(zip(names, row[:-1], strict=True)), ensure_ascii=False, default=str)
        + "}"
        for row in rows
    )
    return Response('{"type":"FeatureCollection","features":[' + features + "]}", media_type="application/geo+json")


def parse_bbox(bbox: str | None) -> tuple[float, float, float, float] | None:
    """The four numbers of a ``bbox`` parameter (already checked by :data:`BBOX`)."""
    if not bbox:
        return None
    x0, y0, x1, y1 = (float(v) for v in bbox.split(","))
    return x0, y0, x1, y1
