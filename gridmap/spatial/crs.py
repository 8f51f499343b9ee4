"""Coordinate systems: EPSG codes, CGCS2000, and the Chinese GCJ-02 / BD-09 offsets.

GCJ-02 ("Mars coordinates", used by Amap and Tencent) and BD-09 (Baidu) are
obfuscated WGS84 lon/lat with an offset of a few hundred metres; they have no
EPSG code, so pyproj cannot convert them. ``eviltransform`` implements the
published formulas; ``gcj2wgs_exact`` inverts GCJ-02 iteratively to < 1 m.
CGCS2000 (EPSG:4490) differs from WGS84 by centimetres and is treated as equal.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from functools import lru_cache

import eviltransform
import geopandas as gpd
import numpy as np
import shapely
from numpy.typing import NDArray
from pyproj import CRS
from pyproj.exceptions import CRSError as PyprojCRSError

from gridmap.errors import CRSError

WGS84 = CRS.from_epsg(4326)
CGCS2000 = CRS.from_epsg(4490)


class CoordSys(StrEnum):
    """Coordinate systems a point or file may come in."""

    wgs84 = "wgs84"
    cgcs2000 = "cgcs2000"
    gcj02 = "gcj02"
    bd09 = "bd09"


_TO_WGS84: dict[CoordSys, Callable[[float, float], tuple[float, float]]] = {
    CoordSys.gcj02: eviltransform.gcj2wgs_exact,
    CoordSys.bd09: eviltransform.bd2wgs,
}


def to_wgs84_lonlat(lon: float, lat: float, coord_sys: CoordSys | str) -> tuple[float, float]:
    """Convert one lon/lat pair from ``coord_sys`` to WGS84."""
    system = CoordSys(coord_sys)
    convert = _TO_WGS84.get(system)
    if convert is None:
        return lon, lat
    wlat, wlon = convert(lat, lon)
    return float(wlon), float(wlat)


def from_wgs84_lonlat(lon: float, lat: float, coord_sys: CoordSys | str) -> tuple[float, float]:
    """Convert one WGS84 lon/lat pair to ``coord_sys`` (for tests and exports)."""
    system = CoordSys(coord_sys)
    if system is CoordSys.gcj02:
        glat, glon = eviltransform.wgs2gcj(lat, lon)
        return float(glon), float(glat)
    if system is CoordSys.bd09:
        blat, blon = eviltransform.wgs2bd(lat, lon)
        return float(blon), float(blat)
    return lon, lat


def _convert_coords(coords: NDArray[np.float64], coord_sys: CoordSys) -> NDArray[np.float64]:
    out = np.empty_like(coords)
    for i, (lon, lat) in enumerate(coords):
        out[i] = to_wgs84_lonlat(lon, lat, coord_sys)
    return out


def parse_crs(value: str) -> CRS | CoordSys:
    """Parse a user's ``--crs`` value: ``gcj02``, ``bd09``, ``cgcs2000`` or anything pyproj reads."""
    lowered = value.strip().lower()
    if lowered in {"gcj02", "gcj-02", "amap", "tencent"}:
        return CoordSys.gcj02
    if lowered in {"bd09", "bd-09", "baidu"}:
        return CoordSys.bd09
    if lowered in {"cgcs2000", "epsg:4490"}:
        return CGCS2000
    try:
        crs: CRS = CRS.from_user_input(value)
        return crs
    except PyprojCRSError as exc:
        raise CRSError(
            f"unknown CRS {value!r}: use an EPSG code (EPSG:4326, EPSG:4490, EPSG:32650) or gcj02/bd09"
        ) from exc


def to_wgs84(frame: gpd.GeoDataFrame, declared: CRS | CoordSys | None = None) -> gpd.GeoDataFrame:
    """Return ``frame`` in EPSG:4326.

    ``declared`` overrides the file's CRS (needed when the file has none, or
    when it is GCJ-02/BD-09, which files cannot declare).
    """
    if isinstance(declared, CoordSys):
        if declared in _TO_WGS84:
            geoms = shapely.transform(frame.geometry.values, lambda c: _convert_coords(c, declared))
            frame = gpd.GeoDataFrame(frame.drop(columns=frame.geometry.name), geometry=geoms, crs=WGS84)
        else:
            frame = frame.set_crs(WGS84, allow_override=True)
    elif declared is not None:
        frame = frame.set_crs(declared, allow_override=True)
    if frame.crs is None:
        raise CRSError(
            "the file has no coordinate reference system; pass --crs (e.g. --crs EPSG:4326, --crs EPSG:4490 "
            "for CGCS2000, --crs EPSG:32650 for UTM 50N, or --crs gcj02 for Amap coordinates)"
        )
    if not is_wgs84(frame.crs):
        try:
            frame = frame.to_crs(WGS84)
        except Exception as exc:  # pyproj raises several types for unusable CRSs
            raise CRSError(f"cannot convert from {frame.crs.to_string()} to EPSG:4326: {exc}") from exc
    _check_lonlat(frame)
    return frame


def _check_lonlat(frame: gpd.GeoDataFrame) -> None:
    if frame.empty:
        return
    minx, miny, maxx, maxy = frame.total_bounds
    if not (np.isfinite([minx, miny, maxx, maxy]).all() and -180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        raise CRSError(
            f"coordinates {minx:.1f},{miny:.1f},{maxx:.1f},{maxy:.1f} are not longitude/latitude; the file's "
            "CRS is probably wrong: pass the right one with --crs (e.g. --crs EPSG:32650)"
        )


def is_wgs84(crs: CRS | str | int | None) -> bool:
    """Whether ``crs`` is EPSG:4326 (longitude/latitude as gridmap stores them)."""
    return crs is not None and CRS.from_user_input(crs).equals(WGS84)


@lru_cache(maxsize=128)
def _utm(zone: int, north: bool) -> CRS:
    return CRS.from_epsg((32600 if north else 32700) + zone)


def metric_crs(frame: gpd.GeoDataFrame) -> CRS:
    """The UTM zone of ``frame``'s centre: the CRS we measure areas and distances in (WGS84 input)."""
    if frame.empty:
        raise CRSError("cannot choose a metric CRS for an empty layer")
    minx, miny, maxx, maxy = frame.total_bounds if is_wgs84(frame.crs) else frame.to_crs(WGS84).total_bounds
    lon, lat = (minx + maxx) / 2, (miny + maxy) / 2
    zone = min(60, max(1, int((lon + 180) // 6) + 1))
    return _utm(zone, lat >= 0)
