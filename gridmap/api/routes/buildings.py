"""Building heads (楼栋长): recorded by the 社区/街道 of the building's unit or the grid worker of its grid."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from gridmap.api.deps import SessionDep, require_role
from gridmap.db.models import Building, Grid, GridAssignment, GridPlan, PlanStatus, User
from gridmap.errors import NotFound
from gridmap.policy import HEAD_EDITORS, check_grid, user_scope

router = APIRouter(prefix="/api/buildings", tags=["buildings"])


class HeadIn(BaseModel):
    """The building head's name and phone (empty name: none)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str | None = Field(None, max_length=100)
    phone: str | None = Field(None, max_length=30, pattern=r"^[0-9+\- ]{5,30}$")


@router.put("/{building_id}/head")
def set_head(
    building_id: int,
    body: HeadIn,
    session: SessionDep,
    user: User = Depends(require_role(*HEAD_EDITORS)),  # noqa: B008 - FastAPI dependency
) -> dict[str, Any]:
    """Record the 楼栋长 of a building in the user's scope (a grid worker: own grids; 社区/街道: own unit)."""
    building = session.get(Building, building_id)
    if building is None:
        raise NotFound(f"building {building_id} does not exist")
    grid = session.scalar(
        select(Grid.code)
        .join(GridAssignment, GridAssignment.grid_id == Grid.id)
        .join(GridPlan, GridPlan.id == Grid.plan_id)
        .where(GridAssignment.building_id == building_id, GridPlan.status == PlanStatus.published)
    )
    check_grid(user_scope(session, user), grid, user)
    building.head_name, building.head_phone = body.name or None, body.phone if body.name else None
    session.flush()
    return {"building_id": building_id, "head_name": building.head_name, "head_phone": building.head_phone}
