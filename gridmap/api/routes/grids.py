"""Grids of the published plan as GeoJSON; grid workers see their own only."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Query
from sqlalchemy import func, select

from gridmap.api.deps import CurrentUser, SessionDep, SettingsDep
from gridmap.auth.service import user_grids
from gridmap.db.models import Grid, GridPlan, PlanStatus, Role, Street

router = APIRouter(tags=["grids"])


@router.get("/api/grids")
def grids(
    user: CurrentUser,
    session: SessionDep,
    bbox: str | None = Query(None, description="minlon,minlat,maxlon,maxlat", pattern=r"^-?[\d.]+(,-?[\d.]+){3}$"),
) -> dict[str, Any]:
    """A GeoJSON FeatureCollection of grids (code, households, buildings)."""
    query = (
        select(Grid.code, Grid.households, Grid.n_buildings, Grid.locked, func.ST_AsGeoJSON(Grid.geom, 6))
        .join(GridPlan, GridPlan.id == Grid.plan_id)
        .where(GridPlan.status == PlanStatus.published)
    )
    if user.role in {Role.grid_worker, Role.department}:
        query = query.where(Grid.code.in_(user_grids(session=session, user=user)))
    if bbox:
        x0, y0, x1, y1 = (float(v) for v in bbox.split(","))
        query = query.where(func.ST_Intersects(Grid.geom, func.ST_MakeEnvelope(x0, y0, x1, y1, 4326)))
    features = [
        {
            "type": "Feature",
            "geometry": json.loads(geom),
            "properties": {"grid_code": code, "households": hh, "n_buildings": nb, "locked": locked},
        }
        for code, hh, nb, locked, geom in session.execute(query.order_by(Grid.code))
    ]
    return {"type": "FeatureCollection", "features": features}


@router.get("/api/streets")
def streets(
    _: CurrentUser,
    session: SessionDep,
    bbox: str | None = Query(None, description="minlon,minlat,maxlon,maxlat", pattern=r"^-?[\d.]+(,-?[\d.]+){3}$"),
) -> dict[str, Any]:
    """Streets as GeoJSON (name, class, barrier): the backdrop of maps without base tiles."""
    query = select(Street.name, Street.street_class, Street.is_barrier, func.ST_AsGeoJSON(Street.geom, 6))
    if bbox:
        x0, y0, x1, y1 = (float(v) for v in bbox.split(","))
        query = query.where(func.ST_Intersects(Street.geom, func.ST_MakeEnvelope(x0, y0, x1, y1, 4326)))
    features = [
        {
            "type": "Feature",
            "geometry": json.loads(geom),
            "properties": {"name": name, "street_class": klass, "is_barrier": barrier},
        }
        for name, klass, barrier, geom in session.execute(query.order_by(Street.id))
    ]
    return {"type": "FeatureCollection", "features": features}


@router.get("/api/map-config")
def map_config(_: CurrentUser, settings: SettingsDep) -> dict[str, Any]:
    """Optional base tiles (GRIDMAP_TILES) and the attribution every map shows."""
    return {"tiles": settings.tiles, "attribution": "© OpenStreetMap contributors"}
