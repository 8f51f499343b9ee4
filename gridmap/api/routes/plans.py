"""Grid plans: list, copy to a draft, lock grids, re-partition a 社区, publish (planners)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field
from sqlalchemy import select

from gridmap.api.deps import LeaderUser, PlannerUser, SessionDep, SettingsDep
from gridmap.db.models import GridPlan
from gridmap.errors import InvalidInput
from gridmap.partition import drafts
from gridmap.partition.service import publish_plan

router = APIRouter(prefix="/api/plans", tags=["plans"])


class PlanPublic(BaseModel):
    """A plan version and its quality numbers."""

    id: int
    name: str
    version: int
    status: str
    metrics: dict[str, Any]


class RepartitionRequest(BaseModel):
    """Which 社区 to re-partition (all of the plan when omitted) and optional size band."""

    community: str | None = Field(None, pattern=r"^\d{12}$", description="12-digit 社区 code")
    target: int | None = Field(None, gt=0)
    min: int | None = Field(None, gt=0)
    max: int | None = Field(None, gt=0)


class LockRequest(BaseModel):
    """Lock or unlock a grid."""

    locked: bool = True


def _public(plan: GridPlan) -> PlanPublic:
    return PlanPublic(id=plan.id, name=plan.name, version=plan.version, status=plan.status.value, metrics=plan.metrics)


@router.get("", response_model=list[PlanPublic])
def list_plans(_: LeaderUser, session: SessionDep) -> list[PlanPublic]:
    """Every plan version, newest first."""
    return [_public(p) for p in session.scalars(select(GridPlan).order_by(GridPlan.version.desc()))]


@router.post("/drafts", response_model=PlanPublic, status_code=201)
def new_draft(_: PlannerUser, session: SessionDep) -> PlanPublic:
    """Copy the published plan into a new draft to edit."""
    return _public(drafts.copy_published(session=session))


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
    return drafts.repartition(session=session, plan_id=plan_id, params=params, community=body.community)


@router.post("/{plan_id}/publish", response_model=PlanPublic)
def publish(plan_id: int, _: PlannerUser, session: SessionDep) -> PlanPublic:
    """Publish a draft as the plan in force, in one transaction."""
    drafts.draft(session=session, plan_id=plan_id)
    return _public(publish_plan(session=session, plan_id=plan_id))
