"""Rows <-> shapely: the only place geometries change form on their way into the database."""

from __future__ import annotations

from geoalchemy2.elements import WKBElement
from geoalchemy2.shape import from_shape
from shapely.geometry.base import BaseGeometry

from gridmap.db.models import SRID


def to_db(geom: BaseGeometry) -> WKBElement:
    """A shapely geometry as a GeoAlchemy2 element in EPSG:4326."""
    return from_shape(geom, srid=SRID)
