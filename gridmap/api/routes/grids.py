"""Grids of the published plan as GeoJSON, within the user's scope (grid workers: own grids; 社区/街道: their unit)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from sqlalchemy import func, select

from gridmap.api.deps import CurrentUser, SessionDep, SettingsDep
from gridmap.api.geojson import BBOX, LIMIT, OFFSET, layer_page, parse_bbox
from gridmap.api.threads import map_threads
from gridmap.db.models import Grid, GridPlan, PlanStatus, Street
from gridmap.policy import user_scope

router = APIRouter(tags=["grids"])


@router.get("/api/grids")
@map_threads
def grids(
    user: CurrentUser,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    bbox: str | None = BBOX,
    offset: int = OFFSET,
    limit: int | None = LIMIT,
) -> Response:
    """A GeoJSON FeatureCollection of grids (code, households, buildings), in pages (see the ``next`` link)."""
    query = (
        select(Grid.code, Grid.households, Grid.n_buildings, Grid.locked)
        .join(GridPlan, GridPlan.id == Grid.plan_id)
        .where(GridPlan.status == PlanStatus.published)
    )
    query = query.where(user_scope(session, user).grid_clause(Grid.code))
    if box := parse_bbox(bbox):
        query = query.where(func.ST_Intersects(Grid.geom, func.ST_MakeEnvelope(*box, 4326)))
    names = ["grid_code", "households", "n_buildings", "locked"]
    return layer_page(
        session,
        query,
        names,
        key=Grid.code,
        geom=Grid.geom,
        request=request,
        limits=settings.limits,
        offset=offset,
        limit=limit,
    )


@router.get("/api/streets")
@map_threads
def streets(
    _: CurrentUser,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    bbox: str | None = BBOX,
    offset: int = OFFSET,
    limit: int | None = LIMIT,
) -> Response:
    """Streets as GeoJSON (name, class, barrier), in pages: the backdrop of maps without base tiles."""
    query = select(Street.name, Street.street_class, Street.is_barrier)
    if box := parse_bbox(bbox):
        query = query.where(func.ST_Intersects(Street.geom, func.ST_MakeEnvelope(*box, 4326)))
    names = ["name", "street_class", "is_barrier"]
    return layer_page(
        session,
        query,
        names,
        key=Street.id,
        geom=Street.geom,
        request=request,
        limits=settings.limits,
        offset=offset,
        limit=limit,
    )


@router.get("/api/map-config")
def map_config(_: CurrentUser, settings: SettingsDep) -> dict[str, Any]:
    """Optional base tiles (GRIDMAP_TILES) and the attribution every map shows."""
    return {"tiles": settings.tiles, "attribution": "© OpenStreetMap contributors"}
