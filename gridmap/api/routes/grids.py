"""Grids of the published plan as GeoJSON, within the user's scope (grid workers: own grids; 社区/街道: their unit)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from sqlalchemy import func, select

from gridmap.api.deps import CurrentUser, SessionDep, SettingsDep
from gridmap.api.geojson import BBOX, feature_collection, parse_bbox
from gridmap.api.threads import map_threads
from gridmap.db.models import Grid, GridPlan, PlanStatus, Street
from gridmap.policy import user_scope

router = APIRouter(tags=["grids"])


@router.get("/api/grids")
@map_threads
def grids(
    user: CurrentUser,
    session: SessionDep,
    bbox: str | None = BBOX,
) -> Response:
    """A GeoJSON FeatureCollection of grids (code, households, buildings)."""
    query = (
        select(Grid.code, Grid.households, Grid.n_buildings, Grid.locked, func.ST_AsGeoJSON(Grid.geom, 6))
        .join(GridPlan, GridPlan.id == Grid.plan_id)
        .where(GridPlan.status == PlanStatus.published)
    )
    query = query.where(user_scope(session, user).grid_clause(Grid.code))
    if box := parse_bbox(bbox):
        query = query.where(func.ST_Intersects(Grid.geom, func.ST_MakeEnvelope(*box, 4326)))
    names = ["grid_code", "households", "n_buildings", "locked"]
    return feature_collection(session.execute(query.order_by(Grid.code)).all(), names)


@router.get("/api/streets")
@map_threads
def streets(
    _: CurrentUser,
    session: SessionDep,
    bbox: str | None = BBOX,
) -> Response:
    """Streets as GeoJSON (name, class, barrier): the backdrop of maps without base tiles."""
    query = select(Street.name, Street.street_class, Street.is_barrier, func.ST_AsGeoJSON(Street.geom, 6))
    if box := parse_bbox(bbox):
        query = query.where(func.ST_Intersects(Street.geom, func.ST_MakeEnvelope(*box, 4326)))
    return feature_collection(session.execute(query.order_by(Street.id)).all(), ["name", "street_class", "is_barrier"])


@router.get("/api/map-config")
def map_config(_: CurrentUser, settings: SettingsDep) -> dict[str, Any]:
    """Optional base tiles (GRIDMAP_TILES) and the attribution every map shows."""
    return {"tiles": settings.tiles, "attribution": "© OpenStreetMap contributors"}
