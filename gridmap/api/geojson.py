"""GeoJSON answers: rows whose last column is ``ST_AsGeoJSON`` text, the bbox query parameter, paged layers."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import urlencode

from fastapi import Query, Request, Response
from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import QueryableAttribute, Session

from gridmap.errors import InvalidInput
from gridmap.settings import LimitSettings
from gridmap.spatial.budget import fitted

_NUMBER = r"-?(\d{1,3}(\.\d{1,15})?|\.\d{1,15})"  # -180 … 180: at most three integer digits
BBOX = Query(
    None,
    description="minlon,minlat,maxlon,maxlat in degrees (WGS84), e.g. 118.77,32.04,118.79,32.05",
    pattern=rf"^{_NUMBER}(,{_NUMBER}){{3}}$",
    examples=["118.77,32.04,118.79,32.05"],
)
BBOX_FORM = rf"{_NUMBER}(,{_NUMBER}){{3}}"


def feature_collection(
    rows: Iterable[Sequence[Any]], names: list[str], extra: dict[str, Any] | None = None
) -> Response:
    """A FeatureCollection: ``names`` label the leading columns, the last column is the geometry's GeoJSON.

    ``extra`` members (paging: ``numberMatched``, ``links``…) come before the features.

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
    members = "".join(f"{json.dumps(k)}:{json.dumps(v, ensure_ascii=False)}," for k, v in (extra or {}).items())
    return Response(
        '{"type":"FeatureCollection",' + members + '"features":[' + features + "]}", media_type="application/geo+json"
    )


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


LIMIT = Query(None, ge=1, le=1_000_000, description="features per page (at most the server's page size)")
OFFSET = Query(0, ge=0, le=1_000_000_000, description="features to skip: follow the answer's `next` link instead")


def layer_page(
    session: Session,
    query: Select[*tuple[Any, ...]],
    names: list[str],
    *,
    key: ColumnElement[Any] | QueryableAttribute[Any],
    geom: ColumnElement[Any] | QueryableAttribute[Any],
    tolerance: float = 0.0,
    request: Request,
    limits: LimitSettings,
    offset: int = 0,
    limit: int | None = None,
) -> Response:
    """One page of a layer: ``query``'s columns (labelled ``names``) and ``geom`` of rows ordered by ``key``.

    ``geom`` is fitted to the vertex cap first, then simplified by ``tolerance`` (degrees; 0: as it is).

    A page holds at most ``limits.layer_features`` features (or ``limit``, if fewer) and at most
    ``limits.layer_vertices`` vertices, or just its first feature if that alone has more; each feature at most
    ``limits.feature_vertices`` (see :func:`gridmap.spatial.budget.fitted`). The answer says ``numberMatched``
    and ``numberReturned`` and links the ``next`` page while there is one (the members of OGC API - Features).
    """
    size = min(limit or limits.layer_features, limits.layer_features)
    matched = int(session.scalar(select(func.count()).select_from(query.subquery())) or 0)
    shape = fitted(geom, limits.feature_vertices)
    if tolerance > 0:
        shape = func.ST_SimplifyPreserveTopology(shape, tolerance)
    window = (
        query.add_columns(key.label("k"), shape.label("g"))
        .order_by(key)
        .offset(offset)
        .limit(size + 1)
        .subquery("window")
    )
    *props, k, g = window.c
    points = func.ST_NPoints(g)
    running = func.sum(points).over(order_by=k)
    counted = select(*props, k, func.row_number().over(order_by=k).label("i"), running.label("running"), g)
    *props, k, i, total, g = counted.subquery("counted").c
    within = (total <= limits.layer_vertices) | (i == 1)  # the first feature always: a page is never empty
    rows = session.execute(select(*props, func.ST_AsGeoJSON(g, 6)).where(within).order_by(k)).all()
    kept = rows[:size]
    extra: dict[str, Any] = {"numberMatched": matched, "numberReturned": len(kept)}
    if offset + len(kept) < matched:
        following = {**request.query_params, "offset": str(offset + len(kept)), "limit": str(size)}
        href = f"{request.url.path}?{urlencode(following)}"
        extra["links"] = [{"rel": "next", "type": "application/geo+json", "href": href}]
    return feature_collection(kept, names, extra)
