"""Planner edits on a draft plan: copy the published plan, lock grids, re-partition a 社区."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, insert, select, text
from sqlalchemy.orm import Session

from gridmap.db.models import Grid, GridAssignment, GridPlan, PlanStatus
from gridmap.errors import Conflict, NotFound
from gridmap.partition.codes import community_of
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


def copy_published(*, session: Session, name: str | None = None, created_by: str | None = None) -> GridPlan:
    """A new draft holding the grids and assignments of the published plan."""
    source = published_plan(session=session)
    if source is None:
        raise NotFound("no published plan to copy: run `gridmap partition --all --publish` first")
    version = (session.scalar(select(func.max(GridPlan.version))) or 0) + 1
    plan = GridPlan(
        name=name or f"草稿 v{version}（基于现行 v{source.version}）",
        version=version,
        status=PlanStatus.draft,
        params={k: v for k, v in source.params.items() if k != "edits"},
        metrics=source.metrics,
        created_by=created_by,
        base_version=source.version,
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


def assignment(session: Session, plan_id: int) -> dict[int, str]:
    """Building id → grid code in plan ``plan_id``."""
    rows = session.execute(
        select(GridAssignment.building_id, Grid.code)
        .join(Grid, Grid.id == GridAssignment.grid_id)
        .where(GridAssignment.plan_id == plan_id)
    ).all()
    return {int(b): str(c) for b, c in rows}


def edited_grids(plan: GridPlan, current: dict[int, str]) -> set[str]:
    """Grids the planner changed by hand in this draft (moves, merges, splits still in the undo history)."""
    touched: set[str] = set()
    for edit in plan.params.get("edits", []):
        for building, before in edit["undo"].items():
            touched.add(str(before))
            if int(building) in current:
                touched.add(current[int(building)])
    return touched & set(current.values())


def repartition(
    *,
    session: Session,
    plan_id: int,
    params: PartitionSettings,
    community: str | None = None,
    code_prefix: str | None = None,
    keep_edits: bool = True,
) -> dict[str, Any]:
    """Re-partition a draft (one 社区, or everything) around its locked grids; returns the new metrics.

    Grids keep their 社区 and, where they barely change, their codes (see :mod:`gridmap.partition.identity`), so
    grid workers, 楼栋长 and open requests keep their grids. Grids edited by hand count as locked unless
    ``keep_edits`` is false. The undo history ends here: its entries name grids that may no longer exist.
    """
    plan = draft(session=session, plan_id=plan_id)
    grids = {g.code: g for g in session.scalars(select(Grid).where(Grid.plan_id == plan_id))}
    current = assignment(session, plan_id)
    data = load_plan_input(session=session)
    data.buildings.index = data.buildings.index.astype(str)
    if community:
        recorded = data.buildings["community"]
        mine = [
            current[int(b)].startswith(community) if int(b) in current else recorded.loc[b] == community
            for b in data.buildings.index
        ]
        data.buildings = data.buildings.loc[mine]
        if data.communities is not None:
            data.communities = data.communities[data.communities["code"] == community]
        if data.buildings.empty:
            raise NotFound(f"方案 {plan_id} 中没有社区 {community} 的楼栋 / no buildings of 社区 {community}")
    in_scope = {c for c in grids if not community or community_of(c) == community}
    edited = edited_grids(plan, current) & in_scope if keep_edits else set()
    keep = {c for c in in_scope if grids[c].locked} | edited
    data.locked = {str(b): c for b, c in current.items() if c in keep}
    data.previous = {str(b): c for b, c in current.items() if c in in_scope and c not in keep}
    result = partition(data, params, code_prefix=community if community and len(community) == 12 else code_prefix)
    result.buildings.index = result.buildings.index.astype(int)
    session.execute(delete(Grid).where(Grid.plan_id == plan_id, Grid.code.in_(in_scope)))
    write_grids(session=session, plan_id=plan_id, result=result, locked=frozenset(c for c in keep if grids[c].locked))
    plan.metrics = result.metrics.as_dict()
    plan.params = plan.params | {"edits": []}
    session.flush()
    return plan.metrics


def rename(*, session: Session, plan_id: int, name: str) -> GridPlan:
    """Give a draft a name planners recognise."""
    plan = draft(session=session, plan_id=plan_id)
    plan.name = name
    session.flush()
    return plan


def discard(*, session: Session, plan_id: int) -> None:
    """Delete a draft with its grids (published and archived plans are the record and stay)."""
    session.delete(draft(session=session, plan_id=plan_id))
    session.flush()


CHANGES = text(
    """
    SELECT d.plan_id,
           count(*) FILTER (WHERE pg.code IS DISTINCT FROM dg.code) AS buildings,
           count(DISTINCT dg.code) FILTER (WHERE pg.code IS DISTINCT FROM dg.code) AS grids
    FROM grid_assignments d
    JOIN grids dg ON dg.id = d.grid_id
    LEFT JOIN grid_assignments p ON p.building_id = d.building_id
      AND p.plan_id = (SELECT id FROM grid_plans WHERE status = 'published')
    LEFT JOIN grids pg ON pg.id = p.grid_id
    WHERE d.plan_id IN (SELECT id FROM grid_plans WHERE status = 'draft')
    GROUP BY d.plan_id
    """
)


def draft_changes(session: Session) -> dict[int, tuple[int, int]]:
    """Per draft: buildings whose grid differs from the published plan, and the draft grids they are in."""
    return {int(p): (int(b), int(g)) for p, b, g in session.execute(CHANGES)}
