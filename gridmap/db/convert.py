"""Rows <-> shapely / GeoDataFrame: the only place geometries change form."""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import shapely
from geoalchemy2.elements import WKBElement
from geoalchemy2.shape import from_shape, to_shape
from shapely.geometry.base import BaseGeometry
from sqlalchemy import Engine, text

from gridmap.db.models import SRID


def to_db(geom: BaseGeometry) -> WKBElement:
    """A shapely geometry as a GeoAlchemy2 element in EPSG:4326."""
    return from_shape(geom, srid=SRID)


def from_db(element: WKBElement) -> BaseGeometry:
    """A GeoAlchemy2 element as a shapely geometry."""
    return to_shape(element)


def read_frame(
    engine: Engine, sql: str, params: dict[str, Any] | None = None, geom_col: str = "geom"
) -> gpd.GeoDataFrame:
    """Run ``sql`` and return a GeoDataFrame in EPSG:4326."""
    with engine.connect() as conn:
        return gpd.read_postgis(text(sql), conn, geom_col=geom_col, params=params or {}, crs=SRID)


def to_geojson(geom: BaseGeometry) -> dict[str, Any]:
    """GeoJSON mapping of a geometry (the wire form)."""
    result: dict[str, Any] = shapely.geometry.mapping(geom)
    return result
