"""Read-only queries shared by the API and the CLI."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gridmap.db.models import Building, Compound, Grid, GridPlan, PlanStatus, ServiceRequest, Street


def stats(*, session: Session) -> dict[str, int | str | None]:
    """Counts of what is stored, grids and households of the published plan."""
    plan = session.scalar(select(GridPlan).where(GridPlan.status == PlanStatus.published))
    grids = households = 0
    if plan is not None:
        grids = session.scalar(select(func.count()).select_from(Grid).where(Grid.plan_id == plan.id)) or 0
        households = (
            session.scalar(select(func.coalesce(func.sum(Grid.households), 0)).where(Grid.plan_id == plan.id)) or 0
        )
    residential = select(func.count()).select_from(Building).where(Building.is_residential)
    return {
        "buildings": session.scalar(select(func.count()).select_from(Building)) or 0,
        "residential_buildings": session.scalar(residential) or 0,
        "compounds": session.scalar(select(func.count()).select_from(Compound)) or 0,
        "streets": session.scalar(select(func.count()).select_from(Street)) or 0,
        "grids": int(grids),
        "households": int(households),
        "requests": session.scalar(select(func.count()).select_from(ServiceRequest)) or 0,
        "plan_version": plan.version if plan else None,
        "plan_name": plan.name if plan else None,
    }
