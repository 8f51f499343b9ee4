"""Planner edits on a draft plan: copy the published plan, lock grids, re-partition a 社区."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from gridmap.db.models import Grid, GridAssignment, GridPlan, PlanStatus
from gridmap.errors import Conflict, NotFound
from gridmap.partition.pipeline import partition
from gridmap.partition.service import load_plan_input, published_plan, write_grids
from gridmap.settings import PartitionSettings


def draft(*, session: Session, plan_id: int) -> GridPlan:
    """The draft plan ``plan_id``; published and archived plans are read-only."""
    plan = session.get(GridPlan, plan_id)
    if plan is None:
        raise NotFound(f"grid plan {plan_id} does not exist")
    if plan.status is not PlanStatus.draft:
        raise Conflict(f"plan {plan_id} is {plan.status.value}; copy it to a draft first (POST /api/plans/drafts)")
    return plan


def copy_published(*, session: Session, name: str | None = None) -> GridPlan:
    """A new draft holding the grids and assignments of the published plan."""
    source = published_plan(session=session)
    if source is None:
        raise NotFound("no published plan to copy: run `gridmap partition --all --publish` first")
    version = (session.scalar(select(func.max(GridPlan.version))) or 0) + 1
    plan = GridPlan(
        name=name or f"{source.name} (草稿 draft)",
        version=version,
        status=PlanStatus.draft,
        params=source.params,
        metrics=source.metrics,
    )
    session.add(plan)
    session.flush()
    new_ids: dict[int, int] = {}
    for grid in session.scalars(select(Grid).where(Grid.plan_id == source.id)):
        copy = Grid(
            plan_id=plan.id,
            code=grid.code,
            households=grid.households,
            n_buildings=grid.n_buildings,
            locked=grid.locked,
            community_code=grid.community_code,
            metrics=grid.metrics,
            geom=grid.geom,
        )
        session.add(copy)
        session.flush()
        new_ids[grid.id] = copy.id
    rows = session.execute(
        select(GridAssignment.building_id, GridAssignment.grid_id).where(GridAssignment.plan_id == source.id)
    ).all()
    if rows:
        session.execute(
            insert(GridAssignment), [{"plan_id": plan.id, "building_id": b, "grid_id": new_ids[g]} for b, g in rows]
        )
    return plan


def set_locked(*, session: Session, plan_id: int, code: str, locked: bool) -> Grid:
    """Lock or unlock one grid of a draft."""
    draft(session=session, plan_id=plan_id)
    grid = session.scalar(select(Grid).where(Grid.plan_id == plan_id, Grid.code == code))
    if grid is None:
        raise NotFound(f"plan {plan_id} has no grid {code}")
    grid.locked = locked
    session.flush()
    return grid


def repartition(
    *,
    session: Session,
    plan_id: int,
    params: PartitionSettings,
    community: str | None = None,
    code_prefix: str | None = None,
) -> dict[str, Any]:
    """Re-partition a draft (one 社区, or everything) around its locked grids; returns the new metrics."""
    plan = draft(session=session, plan_id=plan_id)
    in_scope = [Grid.plan_id == plan_id]
    if community:
        in_scope.append(Grid.community_code == community)
    locked_rows = session.execute(
        select(GridAssignment.building_id, Grid.code)
        .join(Grid, Grid.id == GridAssignment.grid_id)
        .where(*in_scope, Grid.locked)
    ).all()
    locked = {str(b): code for b, code in locked_rows}
    data = load_plan_input(session=session, community=community)
    data.locked = locked
    data.buildings.index = data.buildings.index.astype(str)
    result = partition(data, params, code_prefix=community if community and len(community) == 12 else code_prefix)
    result.buildings.index = result.buildings.index.astype(int)
    session.execute(delete(Grid).where(*in_scope))
    write_grids(session=session, plan_id=plan_id, result=result, locked=frozenset(locked.values()))
    plan.metrics = result.metrics.as_dict()
    session.flush()
    return plan.metrics
