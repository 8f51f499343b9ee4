"""Stricter versions of tipg's ``bbox`` and ``datetime`` parameters: bad values are a 422 that says what to fix.

tipg parses ``bbox`` with ``float()`` (a word is a ``ValueError``, ``nan`` passes) and passes ``datetime`` on
unchecked; these replace its dependencies in the ``/ogc`` application (``dependency_overrides``).
"""

from __future__ import annotations

import math
from datetime import datetime as Datetime
from typing import Annotated

from fastapi import Query
from tipg.errors import InvalidBBox, InvalidDatetime

BBOX_HELP = "bbox 格式: minlon,minlat,maxlon,maxlat (CRS84) / bbox: minlon,minlat,maxlon,maxlat in CRS84"
DATETIME_HELP = (
    "datetime 格式: RFC 3339 时间或区间 / datetime: an RFC 3339 instant, or an interval a/b with '..' for open ends"
)


def strict_bbox(bbox: Annotated[str | None, Query(description="Spatial Filter.")] = None) -> list[float] | None:
    """Four (or six, with heights) finite numbers within CRS84's longitude and latitude ranges."""
    if not bbox:
        return None
    try:
        bounds = [float(v) for v in bbox.split(",")]
    except ValueError as exc:
        raise InvalidBBox(f"{BBOX_HELP}; got {bbox!r}") from exc
    if len(bounds) not in (4, 6) or not all(math.isfinite(v) for v in bounds):
        raise InvalidBBox(f"{BBOX_HELP}; got {bbox!r}")
    half = len(bounds) // 2
    lons, lats = (bounds[0], bounds[half]), (bounds[1], bounds[half + 1])
    if any(abs(v) > 180 for v in lons) or any(abs(v) > 90 for v in lats):
        raise InvalidBBox(f"{BBOX_HELP}: longitudes within ±180, latitudes within ±90; got {bbox!r}")
    return bounds


def _instant(text: str) -> bool:
    try:
        moment = Datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        return False
    return 1 <= moment.year <= 9999


def strict_datetime(
    datetime: Annotated[str | None, Query(description="Temporal Filter.")] = None,
) -> list[str] | None:
    """An instant, or an interval ``start/end`` whose open ends are ``..`` or empty."""
    if not datetime:
        return None
    parts = datetime.split("/")
    if len(parts) > 2 or not all(p in ("", "..") or _instant(p) for p in parts) or set(parts) <= {"", ".."}:
        raise InvalidDatetime(f"{DATETIME_HELP}; got {datetime!r}")
    return parts
