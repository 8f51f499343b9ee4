"""Building heads (楼长): recorded by the 社区/街道 of the building's unit or the grid worker of its grid.

Since migration 0012 a 楼长 is a person record with a ``building_head`` post (:mod:`gridmap.people`); this route
keeps the old free-text API working on top of it and answers with the phone masked.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from gridmap.api.deps import NowDep, SessionDep, require_role
from gridmap.api.routes.people import CipherDep
from gridmap.db.models import Building, User
from gridmap.errors import NotFound
from gridmap.people.schemas import HeadOut
from gridmap.people.service import set_building_head
from gridmap.policy import HEAD_EDITORS

router = APIRouter(prefix="/api/buildings", tags=["buildings"])


class HeadIn(BaseModel):
    """The building head's name and phone (empty name: none)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str | None = Field(None, max_length=100)
    phone: str | None = Field(None, max_length=30, pattern=r"^[0-9+\- ]{5,30}$")


@router.put("/{building_id}/head", response_model=HeadOut)
def set_head(
    building_id: int,
    body: HeadIn,
    session: SessionDep,
    cipher: CipherDep,
    now: NowDep,
    user: User = Depends(require_role(*HEAD_EDITORS)),  # noqa: B008 - FastAPI dependency
) -> HeadOut:
    """Record the 楼长 of a building in the user's scope (a grid worker: own grids; 社区/街道: own unit)."""
    if session.get(Building, building_id) is None:
        raise NotFound(f"building {building_id} does not exist")
    person, masked = set_building_head(session, cipher, user, building_id, name=body.name, phone=body.phone, now=now)
    return HeadOut(
        building_id=building_id,
        head_name=person.name if person else None,
        head_phone=masked,
        person_id=person.id if person else None,
    )
