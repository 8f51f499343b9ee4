"""Headline counts for leaders and planners."""

from __future__ import annotations

from fastapi import APIRouter

from gridmap.api.deps import LeaderUser, SessionDep
from gridmap.api.schemas import Stats
from gridmap.db.queries import stats as stats_query

router = APIRouter(tags=["stats"])


@router.get("/api/stats", response_model=Stats)
def stats(_: LeaderUser, session: SessionDep) -> Stats:
    """Buildings, compounds, streets, grids, households and requests of the published plan."""
    return Stats.model_validate(stats_query(session=session))
