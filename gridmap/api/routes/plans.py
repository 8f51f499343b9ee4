"""Grid plans: list, copy to a draft, lock grids, re-partition a 社区, publish (planners)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import func, select

from gridmap import policy
from gridmap.api.deps import LeaderUser, PlannerUser, SessionDep, SettingsDep
from gridmap.api.geojson import BBOX, LIMIT, OFFSET, layer_page, parse_bbox
from gridmap.api.threads import map_threads
from gridmap.db.models import Building, Grid, GridAssignment, GridPlan
from gridmap.errors import InvalidInput, NotFound
from gridmap.maps import data
from gridmap.maps.base import slim
from gridmap.partition import drafts, edits
from gridmap.partition.codes import COMMUNITY_PATTERN, GRID_PATTERN, GridCode
from gridmap.partition.handover import handover
from gridmap.partition.service import publish_plan, published_plan
from gridmap.units import unit_names

router = APIRouter(prefix="/api/plans", tags=["plans"])


class PlanPublic(BaseModel):
    """A plan version and its quality numbers; for drafts, who made it, from which version, what it changes."""

    id: int
    name: str
    version: int
    status: str
    metrics: dict[str, Any]
    created_at: datetime | None = None
    published_at: datetime | None = None
    created_by: str | None = None
    base_version: int | None = None
    changed_buildings: int | None = None
    changed_grids: int | None = None


class RenameRequest(BaseModel):
    """A draft's new name."""

    name: str = Field(min_length=1, max_length=200)


class RepartitionRequest(BaseModel):
    """Which 社区 to re-partition (all of the plan when omitted) and optional size band."""

    community: str | None = Field(None, pattern=COMMUNITY_PATTERN, description="12-digit 社区 code")
    target: int | None = Field(None, gt=0)
    min: int | None = Field(None, gt=0)
    max: int | None = Field(None, gt=0)
    keep_edits: bool = Field(True, description="grids edited by hand in this draft stay as they are")


class LockRequest(BaseModel):
    """Lock or unlock a grid."""

    locked: bool = True


class MoveRequest(BaseModel):
    """Buildings to give to a grid (a whole compound: all its building ids)."""

    building_ids: list[int] = Field(min_length=1, max_length=5000)
    to_grid: str = Field(pattern=GRID_PATTERN)


class MergeRequest(BaseModel):
    """Merge one grid into a neighbour."""

    from_grid: str = Field(pattern=GRID_PATTERN)
    into_grid: str = Field(pattern=GRID_PATTERN)


def _public(plan: GridPlan, changes: tuple[int, int] | None = None) -> PlanPublic:
    return PlanPublic(
        id=plan.id,
        name=plan.name,
        version=plan.version,
        status=plan.status.value,
        metrics=plan.metrics,
        created_at=plan.created_at,
        published_at=plan.published_at,
        created_by=plan.created_by,
        base_version=plan.base_version,
        changed_buildings=changes[0] if changes else None,
        changed_grids=changes[1] if changes else None,
    )


class GridAtPoint(BaseModel):
    """The published plan's grid at a point, as the coverage page's tooltip shows it (no names of people)."""

    code: str = Field(description="15-digit grid code")
    name: str = Field(description="the grid's name within its 社区, e.g. 第3网格")
    community_code: str
    community: str = Field(description="the 社区's name")
    households: int
    n_buildings: int
    staffed: bool = Field(description="whether a 网格员 is assigned to the grid")


@router.get("/published/grids/at", response_model=GridAtPoint)
def grid_at_point(
    user: LeaderUser,
    session: SessionDep,
    lon: float = Query(ge=-180, le=180, allow_inf_nan=False, description="longitude (WGS84)"),
    lat: float = Query(ge=-90, le=90, allow_inf_nan=False, description="latitude (WGS84)"),
) -> GridAtPoint:
    """Which grid of the published plan holds the point ``lon``, ``lat`` (the coverage page's hover and tap)."""
    plan = published_plan(session=session)
    if plan is None:
        raise NotFound("还没有发布的网格方案 / no published plan yet")
    row = data.grid_at(session, plan.id, lon, lat)
    if row is None or not policy.user_scope(session, user).covers_grid(row["code"]):
        raise NotFound(f"此处 ({lon:.6f}, {lat:.6f}) 不在任何网格内 / no grid of the published plan at this point")
    code = GridCode.parse(row["code"])
    names = unit_names(session, [str(code), code.community, code.street])
    return GridAtPoint(
        code=str(code),
        name=names[str(code)].removeprefix(names[code.community] + " "),
        community_code=code.community,
        community=names[code.community].removeprefix(names[code.street] + " "),
        households=row["households"],
        n_buildings=row["n_buildings"],
        staffed=row["staffed"],
    )


class UnassignedBuildings(BaseModel):
    """The published plan's residential buildings no grid holds: how many, and the first ``limit`` (GeoJSON)."""

    type: Literal["FeatureCollection"] = "FeatureCollection"
    total: int = Field(description="unassigned residential buildings in all")
    features: list[dict[str, Any]] = Field(description="the first of them by id: building_id and outline only")


@router.get("/published/unassigned", response_model=UnassignedBuildings)
@map_threads
def unassigned_buildings(
    _: LeaderUser, session: SessionDep, limit: int = Query(2000, ge=0, le=5000, description="outlines to send")
) -> UnassignedBuildings:
    """The unassigned buildings of the published plan (the city coverage page asks once it is drawn)."""
    plan = published_plan(session=session)
    if plan is None:
        raise NotFound("还没有发布的网格方案 / no published plan yet")
    frame, total = data.unassigned_sample(session, plan.id, limit)
    features = json.loads(slim(frame[["building_id", "geometry"]]).to_json())["features"] if len(frame) else []
    return UnassignedBuildings(total=total, features=features)


@router.get("", response_model=list[PlanPublic])
def list_plans(_: LeaderUser, session: SessionDep) -> list[PlanPublic]:
    """Every plan version, newest first; drafts with the buildings and grids they change against the published."""
    changes = drafts.draft_changes(session)
    plans = session.scalars(select(GridPlan).order_by(GridPlan.version.desc()))
    return [_public(p, changes.get(p.id, (0, 0)) if p.status.value == "draft" else None) for p in plans]


@router.post("/drafts", response_model=PlanPublic, status_code=201)
def new_draft(user: PlannerUser, session: SessionDep) -> PlanPublic:
    """Copy the published plan into a new draft to edit."""
    return _public(drafts.copy_published(session=session, created_by=user.username))


@router.patch("/{plan_id}", response_model=PlanPublic)
def rename_draft(plan_id: int, body: RenameRequest, _: PlannerUser, session: SessionDep) -> PlanPublic:
    """Rename a draft."""
    return _public(drafts.rename(session=session, plan_id=plan_id, name=body.name))


@router.delete("/{plan_id}", status_code=204)
def delete_draft(plan_id: int, _: PlannerUser, session: SessionDep) -> Response:
    """Delete a draft (published and archived versions stay as the record)."""
    drafts.discard(session=session, plan_id=plan_id)
    return Response(status_code=204)


@router.put("/{plan_id}/grids/{code}/lock")
def lock(plan_id: int, code: str, body: LockRequest, _: PlannerUser, session: SessionDep) -> dict[str, Any]:
    """Lock a grid so re-partitioning keeps it as it is (or unlock it)."""
    grid = drafts.set_locked(session=session, plan_id=plan_id, code=code, locked=body.locked)
    return {"grid_code": grid.code, "locked": grid.locked}


@router.post("/{plan_id}/repartition")
def repartition(
    plan_id: int, body: RepartitionRequest, _: PlannerUser, session: SessionDep, settings: SettingsDep
) -> dict[str, Any]:
    """Re-partition the unlocked grids of one 社区 (or the whole draft) and return the plan's metrics."""
    band = {k: v for k, v in {"target": body.target, "min": body.min, "max": body.max}.items() if v is not None}
    params = settings.partition.model_validate(settings.partition.model_dump() | band)
    if not params.min <= params.target <= params.max:
        raise InvalidInput(f"need min <= target <= max, got {params.min}, {params.target}, {params.max}")
    return drafts.repartition(
        session=session, plan_id=plan_id, params=params, community=body.community, keep_edits=body.keep_edits
    )


class PublishRequest(BaseModel):
    """Confirm that the grids listed as needing staffing (GET .../handover) may be published so."""

    confirm: bool = False


@router.get("/{plan_id}/handover")
def plan_handover(plan_id: int, _: PlannerUser, session: SessionDep) -> dict[str, Any]:
    """Before publishing: grids needing staffing (需重新配备) and open requests that will move to another grid."""
    drafts.draft(session=session, plan_id=plan_id)
    current = published_plan(session=session)
    return handover(session, plan_id, current.id if current else None).as_dict()


@router.post("/{plan_id}/publish", response_model=PlanPublic)
def publish(plan_id: int, _: PlannerUser, session: SessionDep, body: PublishRequest | None = None) -> PlanPublic:
    """Publish a draft as the plan in force, in one transaction (concurrent publishes run one at a time).

    Without ``confirm`` a draft with grids that need staffing is refused (409) with the list.
    """
    return _public(publish_plan(session=session, plan_id=plan_id, confirm=bool(body and body.confirm)))


ZOOM = Query(None, ge=0, le=22, description="map zoom: geometries are simplified to about a pixel")


def _tolerance(zoom: int | None) -> float:
    return 0.0 if zoom is None or zoom >= 17 else 360 / 256 / 2**zoom / 2  # half a pixel, in degrees


@router.get("/{plan_id}/grids")
@map_threads
def plan_grids(
    plan_id: int,
    _: LeaderUser,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    bbox: str | None = BBOX,
    zoom: int | None = ZOOM,
    offset: int = OFFSET,
    limit: int | None = LIMIT,
) -> Response:
    """The grids of any plan version as GeoJSON (code, households, buildings, locked, metrics), in pages."""
    query = select(Grid.code, Grid.households, Grid.n_buildings, Grid.locked, Grid.metrics).where(
        Grid.plan_id == plan_id
    )
    if box := parse_bbox(bbox):
        query = query.where(func.ST_Intersects(Grid.geom, func.ST_MakeEnvelope(*box, 4326)))
    names = ["grid_code", "households", "n_buildings", "locked", "metrics"]
    return layer_page(
        session,
        query,
        names,
        key=Grid.code,
        geom=Grid.geom,
        tolerance=_tolerance(zoom),
        request=request,
        limits=settings.limits,
        offset=offset,
        limit=limit,
    )


@router.get("/{plan_id}/buildings")
@map_threads
def plan_buildings(
    plan_id: int,
    _: LeaderUser,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    bbox: str | None = BBOX,
    zoom: int | None = ZOOM,
    offset: int = OFFSET,
    limit: int | None = LIMIT,
) -> Response:
    """Residential buildings with their grid in this plan, as GeoJSON in pages; filter by bbox, simplify by zoom."""
    query = (
        select(Building.id, Building.name, Building.households, Building.compound_id, Grid.code)
        .outerjoin(GridAssignment, (GridAssignment.building_id == Building.id) & (GridAssignment.plan_id == plan_id))
        .outerjoin(Grid, Grid.id == GridAssignment.grid_id)
        .where(Building.is_residential)
    )
    if box := parse_bbox(bbox):
        query = query.where(func.ST_Intersects(Building.geom, func.ST_MakeEnvelope(*box, 4326)))
    names = ["building_id", "name", "households", "compound_id", "grid_code"]
    return layer_page(
        session,
        query,
        names,
        key=Building.id,
        geom=Building.geom,
        tolerance=_tolerance(zoom),
        request=request,
        limits=settings.limits,
        offset=offset,
        limit=limit,
    )


@router.post("/{plan_id}/moves")
def move(plan_id: int, body: MoveRequest, _: PlannerUser, session: SessionDep, settings: SettingsDep) -> dict[str, Any]:
    """Move buildings to a grid; refused (422) when a grid would not be contiguous or cross a barrier."""
    return edits.apply_changes(
        session=session,
        plan_id=plan_id,
        changes=dict.fromkeys(body.building_ids, body.to_grid),
        params=settings.partition,
        kind="move",
    )


@router.post("/{plan_id}/merge")
def merge(
    plan_id: int, body: MergeRequest, _: PlannerUser, session: SessionDep, settings: SettingsDep
) -> dict[str, Any]:
    """Merge a grid into a neighbouring one."""
    members = [b for b, c in drafts.assignment(session, plan_id).items() if c == body.from_grid]
    if not members:
        raise InvalidInput(f"plan {plan_id} has no grid {body.from_grid} with buildings")
    return edits.apply_changes(
        session=session,
        plan_id=plan_id,
        changes=dict.fromkeys(members, body.into_grid),
        params=settings.partition,
        kind="merge",
    )


@router.post("/{plan_id}/grids/{code}/split")
def split(plan_id: int, code: str, _: PlannerUser, session: SessionDep, settings: SettingsDep) -> dict[str, Any]:
    """Split a grid in two across its longer axis."""
    return edits.split_grid(session=session, plan_id=plan_id, code=code, params=settings.partition)


@router.post("/{plan_id}/undo")
def undo(plan_id: int, _: PlannerUser, session: SessionDep, settings: SettingsDep) -> dict[str, Any]:
    """Revert the last edit of the draft."""
    return edits.undo(session=session, plan_id=plan_id, params=settings.partition)
