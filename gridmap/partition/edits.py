"""Planner edits on a draft: move buildings (or a whole compound), merge and split grids, undo.

An edit sets the grid of some buildings and rebuilds the polygons and metrics of the 社区 with every grid
keeping its code. It is refused when a grid would stop being contiguous under the partition adjacency (which
already stops at main roads, railways, rivers and 社区 boundaries, so crossing one is refused with that reason)
or when it touches a locked grid. Splitting a 小区 is allowed but reported. Each edit is kept for undo.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy.sparse.csgraph import connected_components
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from gridmap.db.models import Building, Grid
from gridmap.errors import Conflict, InvalidInput, NotFound
from gridmap.partition.codes import GridCode, community_of
from gridmap.partition.drafts import assignment, draft
from gridmap.partition.pipeline import Prepared, finish, prepare
from gridmap.partition.service import load_plan_input, write_grids
from gridmap.partition.solver import subgraph
from gridmap.settings import PartitionSettings


def _contiguity_problems(prep: Prepared, labels: np.ndarray, codes: list[str], check: set[str]) -> list[str]:
    _, barrier_block = connected_components(prep.adjacency, directed=False)
    problems = []
    for code in sorted(check):
        members = np.flatnonzero(labels == codes.index(code))
        if len(members) < 2:
            continue
        n, _ = connected_components(subgraph(prep.adjacency, members), directed=False)
        if n > 1:
            blocks = len(set(barrier_block[members].tolist()))
            why = (
                "跨越主干道/铁路/河流 crosses a main road, railway or river" if blocks > 1 else "不连通 not contiguous"
            )
            problems.append(f"网格 {code} {why} ({n} parts)")
    return problems


def apply_changes(
    *,
    session: Session,
    plan_id: int,
    changes: Mapping[int, str],
    params: PartitionSettings,
    kind: str,
    record: bool = True,
) -> dict[str, Any]:
    """Give ``changes`` (building id → grid code) to the draft; returns metrics and warnings."""
    plan = draft(session=session, plan_id=plan_id)
    current = assignment(session, plan_id)
    unknown = sorted(set(changes) - set(current))
    if unknown:
        raise NotFound(f"buildings {unknown[:5]} are not residential buildings of plan {plan_id}")
    grids = {g.code: g for g in session.scalars(select(Grid).where(Grid.plan_id == plan_id))}
    locked = {code for code, g in grids.items() if g.locked}
    moved = {b: c for b, c in changes.items() if current[b] != c}
    if not moved:
        raise InvalidInput("nothing changes: the buildings are already in that grid")
    touched = {current[b] for b in moved} | set(moved.values())
    if touched & locked:
        raise Conflict(f"网格已锁定 / locked grids cannot change: {', '.join(sorted(touched & locked))}; unlock first")
    new = current | moved
    data = load_plan_input(session=session)
    data.buildings = data.buildings.loc[data.buildings.index.isin(list(new))]
    data.buildings.index = data.buildings.index.astype(str)
    data.locked = {str(b): c for b, c in new.items()}
    prep = prepare(data, params)
    codes = prep.locked_codes
    labels = np.array([codes.index(new[int(b)]) for b in prep.buildings.index], dtype=np.int64)
    problems = _contiguity_problems(prep, labels, codes, {c for c in touched if c in set(new.values())})
    if problems:
        raise InvalidInput("修改被拒绝 / edit refused: " + "; ".join(problems))
    compounds = session.execute(
        select(Building.compound_id).where(Building.id.in_(list(moved)), Building.compound_id.is_not(None))
    ).scalars()
    warnings = []
    for compound in set(compounds):
        members = session.scalars(select(Building.id).where(Building.compound_id == compound, Building.is_residential))
        if len({new[b] for b in members if b in new}) > 1:
            warnings.append(f"小区 {compound} 被拆分到多个网格 / compound {compound} is split between grids")
    result = finish(prep, labels, params)
    result.buildings.index = result.buildings.index.astype(int)
    session.execute(delete(Grid).where(Grid.plan_id == plan_id))
    write_grids(session=session, plan_id=plan_id, result=result, locked=frozenset(locked))
    metrics = result.metrics.as_dict()
    history = list(plan.params.get("edits", []))
    if record:
        history.append({"kind": kind, "undo": {str(b): current[b] for b in moved}})
    plan.params = plan.params | {"edits": history[-50:]}
    plan.metrics = metrics
    session.flush()
    return {"metrics": metrics, "warnings": warnings, "moved": len(moved), "edits": len(history)}


def undo(*, session: Session, plan_id: int, params: PartitionSettings) -> dict[str, Any]:
    """Revert the draft's last edit."""
    plan = draft(session=session, plan_id=plan_id)
    history = list(plan.params.get("edits", []))
    if not history:
        raise Conflict("nothing to undo")
    last = history.pop()
    plan.params = plan.params | {"edits": history}
    return apply_changes(
        session=session,
        plan_id=plan_id,
        changes={int(b): c for b, c in last["undo"].items()},
        params=params,
        kind="undo",
        record=False,
    ) | {"undone": last["kind"]}


def split_grid(*, session: Session, plan_id: int, code: str, params: PartitionSettings) -> dict[str, Any]:
    """Cut a grid in two across its longer axis; the eastern/southern half gets the next free code."""
    current = assignment(session, plan_id)
    members = [b for b, c in current.items() if c == code]
    if len(members) < 2:
        raise InvalidInput(f"grid {code} has {len(members)} building(s); nothing to split")
    rows = session.execute(
        select(Building.id, Building.geom.ST_PointOnSurface().ST_X(), Building.geom.ST_PointOnSurface().ST_Y()).where(
            Building.id.in_(members)
        )
    ).all()
    xy = np.array([[x, y] for _, x, y in rows])
    axis = int(np.ptp(xy[:, 0]) * np.cos(np.radians(xy[:, 1].mean())) < np.ptp(xy[:, 1]))
    key = xy[:, axis] if axis == 0 else -xy[:, axis]
    half = {int(rows[i][0]) for i in np.argsort(key)[len(rows) // 2 :]}
    community = community_of(code)
    free_code = next(iter(GridCode.free(community, current.values())), None)
    if free_code is None:
        raise Conflict(f"社区 {community} 已无空闲网格编码 / no free grid code left in 社区 {community}")
    free = str(free_code)
    return apply_changes(
        session=session, plan_id=plan_id, changes=dict.fromkeys(half, free), params=params, kind="split"
    ) | {"new_grid": free}

