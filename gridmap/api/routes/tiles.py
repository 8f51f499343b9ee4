"""Vector tiles (Mapbox Vector Tiles from PostGIS) and their TileJSON, for the map pages, QGIS and MapLibre.

``/tiles/plan.json`` describes the published plan's tileset (grids, buildings from zoom 14, streets, compounds,
社区/街道 boundaries); ``/tiles/requests.json`` the request density beside it. Tiles are scoped to the caller
like every other route. A plan tile is cut from shapes made once per published plan version
(``gridmap.ogc.tile_shapes``). A plan tile's ``ETag`` names the published plan and its version (and the caller's scope),
so a publish changes every plan tile's ETag; a matching ``If-None-Match`` is answered 304 without drawing it.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from gridmap import policy
from gridmap.api.deps import CurrentUser, NowDep, Transactions
from gridmap.errors import InvalidInput, NotFound
from gridmap.ogc.tile_queries import BUILDINGS_FROM, DENSITY_TILE, GRIDS_FROM, PLAN_TILE, PLAN_VERSION, band_of
from gridmap.ogc.tile_shapes import ensure_shapes
from gridmap.policy import Scope

router = APIRouter(tags=["tiles"])
MVT = "application/vnd.mapbox-vector-tile"
MAX_ZOOM = 20
PLAN_CACHE = "private, max-age=300, must-revalidate"
DENSITY_CACHE = "private, max-age=60"
ATTRIBUTION = "© OpenStreetMap contributors"


class VectorLayer(BaseModel):
    """One layer of a tileset and its attributes."""

    id: str
    description: str
    minzoom: int
    maxzoom: int
    fields: dict[str, str]


class TileJSON(BaseModel):
    """A TileJSON 3.0.0 document."""

    tilejson: str = "3.0.0"
    name: str
    version: str = Field(description="the published plan's version (plan tiles) or 1.0.0")
    attribution: str = ATTRIBUTION
    scheme: str = "xyz"
    tiles: list[str]
    minzoom: int = 0
    maxzoom: int = MAX_ZOOM
    bounds: list[float] | None = None
    vector_layers: list[VectorLayer]


PLAN_LAYERS = [
    VectorLayer(
        id="grids",
        description="网格 (simplified below zoom 14; below zoom 12 see boundaries)",
        minzoom=GRIDS_FROM,
        maxzoom=MAX_ZOOM,
        fields={"code": "String", "households": "Number", "n_buildings": "Number", "community_code": "String"},
    ),
    VectorLayer(
        id="buildings",
        description="楼栋 with households and grid code",
        minzoom=BUILDINGS_FROM,
        maxzoom=MAX_ZOOM,
        fields={"id": "Number", "name": "String", "households": "Number", "grid_code": "String"},
    ),
    VectorLayer(
        id="streets",
        description="道路 (barriers only below zoom 14, main roads and rivers below 12)",
        minzoom=0,
        maxzoom=MAX_ZOOM,
        fields={"name": "String", "street_class": "String"},
    ),
    VectorLayer(
        id="compounds", description="小区", minzoom=12, maxzoom=MAX_ZOOM, fields={"id": "Number", "name": "String"}
    ),
    VectorLayer(
        id="boundaries",
        description="社区/街道 boundaries",
        minzoom=0,
        maxzoom=MAX_ZOOM,
        fields={"code": "String", "name": "String", "level": "String"},
    ),
]
DENSITY_LAYERS = [
    VectorLayer(
        id="request_density",
        description="诉求 counted on a 32 x 32 grid of each tile",
        minzoom=0,
        maxzoom=MAX_ZOOM,
        fields={"n": "Number"},
    )
]


async def _scope(user: CurrentUser, transactions: Transactions) -> Scope:
    def read() -> Scope:
        with transactions() as session:
            return policy.user_scope(session, user)

    return await run_in_threadpool(read)


ScopeDep = Annotated[Scope, Depends(_scope)]


def _scope_args(scope: Scope) -> tuple[bool, list[str], str | None, str | None]:
    return scope.everything, sorted(scope.grids), scope.prefix, scope.department


def _scope_tag(scope: Scope) -> str:
    return hashlib.sha256(repr(_scope_args(scope)).encode()).hexdigest()[:12]


def _check_tile(z: int, x: int, y: int) -> None:
    if not (0 <= x < 2**z and 0 <= y < 2**z):
        raise InvalidInput(f"瓦片坐标超出范围 / tile {z}/{x}/{y} does not exist: x and y must be below 2^z = {2**z}")


async def _plan(request: Request) -> tuple[int, int]:
    async with request.app.state.tiles_pool.pool.acquire() as conn:
        row = await conn.fetchrow(PLAN_VERSION)
        if row is None:
            raise NotFound("还没有发布的网格方案 / no published plan yet: publish one in the planner first")
        plan_id, version = int(row["id"]), int(row["version"])
        if row["built"] != version:  # the first tile of this version: its shapes are made once
            await ensure_shapes(conn, plan_id, version)
    return plan_id, version


def _template(request: Request, name: str) -> str:
    return str(request.base_url).rstrip("/") + f"/tiles/{name}/{{z}}/{{x}}/{{y}}.pbf"


@router.get("/tiles/plan.json", response_model=TileJSON)
async def plan_tilejson(request: Request, _: CurrentUser) -> TileJSON:
    """TileJSON of the published plan's vector tiles: ``tiles`` is the URL template."""
    plan_id, version = await _plan(request)
    return TileJSON(
        name=f"gridmap plan {plan_id}",
        version=f"{version}.0.0",
        tiles=[_template(request, "plan")],
        vector_layers=PLAN_LAYERS,
    )


@router.get("/tiles/requests.json", response_model=TileJSON)
async def requests_tilejson(request: Request, _: CurrentUser) -> TileJSON:
    """TileJSON of the request density tiles (requests of the last ``days`` days, 90 by default)."""
    return TileJSON(
        name="gridmap request density",
        version="1.0.0",
        tiles=[_template(request, "requests")],
        vector_layers=DENSITY_LAYERS,
    )


Z = Annotated[int, Path(ge=0, le=MAX_ZOOM, description="zoom")]
XY = Annotated[int, Path(ge=0)]


@router.get("/tiles/plan/{z}/{x}/{y}.pbf", response_class=Response, responses={200: {"content": {MVT: {}}}})
async def plan_tile(request: Request, z: Z, x: XY, y: XY, scope: ScopeDep) -> Response:
    """One tile of the published plan (all layers); 304 when ``If-None-Match`` names the current version."""
    _check_tile(z, x, y)
    plan_id, version = await _plan(request)
    etag = f'"plan-{plan_id}-v{version}-{_scope_tag(scope)}-{z}-{x}-{y}"'
    headers = {"ETag": etag, "Cache-Control": PLAN_CACHE}
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    async with request.app.state.tiles_pool.pool.acquire() as conn:
        tile: bytes = await conn.fetchval(PLAN_TILE[band_of(z)], z, x, y, *_scope_args(scope), plan_id)
    return Response(content=tile, media_type=MVT, headers=headers)


@router.get("/tiles/requests/{z}/{x}/{y}.pbf", response_class=Response, responses={200: {"content": {MVT: {}}}})
async def density_tile(
    request: Request, z: Z, x: XY, y: XY, scope: ScopeDep, now: NowDep, days: int = Query(90, ge=1, le=3660)
) -> Response:
    """Request density: requests in scope of the last ``days`` days, counted per cell."""
    _check_tile(z, x, y)
    args: list[Any] = [z, x, y, *_scope_args(scope), now - timedelta(days=days)]
    async with request.app.state.tiles_pool.pool.acquire() as conn:
        tile: bytes = await conn.fetchval(DENSITY_TILE, *args)
    return Response(content=tile, media_type=MVT, headers={"Cache-Control": DENSITY_CACHE})
