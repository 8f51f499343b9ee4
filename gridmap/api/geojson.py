"""GeoJSON answers: rows whose last column is ``ST_AsGeoJSON`` text, and the bbox query parameter."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from typing import Any

from fastapi import Query, Response

from gridmap.errors import InvalidInput

_NUMBER = r"-?(\d{1,3}(\.\d{1,15})?|\.\d{1,15})"  # -180 … 180: at most three integer digits
BBOX = Query(
    None,
    description="minlon,minlat,maxlon,maxlat in degrees (WGS84), e.g. 118.77,32.04,118.79,32.05",
    pattern=rf"^{_NUMBER}(,{_NUMBER}){{3}}$",
    examples=["118.77,32.04,118.79,32.05"],
)
BBOX_FORM = rf"{_NUMBER}(,{_NUMBER}){{3}}"


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
    """The four numbers of a ``bbox`` parameter (its form checked by :data:`BBOX`), within the globe and in order."""
    if not bbox:
        return None
    if not re.fullmatch(BBOX_FORM, bbox):
        raise InvalidInput(f"bbox {bbox[:60]!r}: 应为四个数 / needs four numbers: minlon,minlat,maxlon,maxlat")
    x0, y0, x1, y1 = (float(v) for v in bbox.split(","))
    if not (-180 <= x0 <= x1 <= 180 and -90 <= y0 <= y1 <= 90):
        raise InvalidInput(
            f"bbox {bbox!r}: 经度须在 -180…180、纬度在 -90…90 之间,且最小值不大于最大值 / "
            "needs -180 ≤ minlon ≤ maxlon ≤ 180 and -90 ≤ minlat ≤ maxlat ≤ 90"
        )
    return x0, y0, x1, y1
