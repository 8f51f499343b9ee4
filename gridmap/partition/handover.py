"""Publishing a draft hands the grids over: who keeps a grid, which grids need staff, where open requests go.

Grid workers are linked to grid codes (``user_grids``) and 楼栋长 to buildings, so both carry over wherever a
code names mostly the same households as before. A grid that is new, or whose code now names mostly other
households (less than half shared either way), cannot simply keep its worker: it is listed as 需重新配备
(needs staffing) and the planner must confirm the publish. Open requests follow their point to the new grid.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

SHARED = 0.5  # a code keeps its worker when more than this share of its households stay, both ways

ASSIGNED = text(
    """
    SELECT a.building_id, g.code, greatest(b.households, 1) AS households
    FROM grid_assignments a JOIN grids g ON g.id = a.grid_id JOIN buildings b ON b.id = a.building_id
    WHERE a.plan_id = :plan
    """
)
WORKERS = text(
    """
    SELECT ug.grid_code, coalesce(u.full_name, u.username) FROM user_grids ug
    JOIN users u ON u.id = ug.user_id AND u.role = 'grid_worker' AND u.is_active ORDER BY u.username
    """
)
MOVING = text(
    """
    SELECT r.id, r.grid_code, g.code AS new_code FROM requests r
    LEFT JOIN LATERAL (SELECT code FROM grids WHERE plan_id = :plan AND ST_Covers(geom, r.geom) ORDER BY code LIMIT 1) g
      ON true
    WHERE r.status NOT IN ('closed', 'merged') AND r.geom IS NOT NULL AND g.code IS DISTINCT FROM r.grid_code
      AND g.code IS NOT NULL
    """
)


@dataclass
class GridChange:
    """A grid that needs staffing after the publish, and why."""

    grid_code: str
    reason: str  # new | changed | removed
    households: int
    shared_share: float  # share of its households that were in the same code before
    workers: list[str] = field(default_factory=list)


@dataclass
class Handover:
    """What publishing ``plan_id`` changes for people and requests."""

    needs_staffing: list[GridChange]
    kept: int
    requests_moving: int

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return asdict(self)


def grid_workers(session: Session) -> dict[str, list[str]]:
    """Grid code → names of the active grid workers assigned to it."""
    out: dict[str, list[str]] = defaultdict(list)
    for code, name in session.execute(WORKERS):
        out[str(code)].append(str(name))
    return dict(out)


def _assigned(session: Session, plan_id: int | None) -> dict[int, tuple[str, int]]:
    """Building → (its grid code, its households, at least 1) in plan ``plan_id``."""
    if plan_id is None:
        return {}
    return {int(b): (str(c), int(h)) for b, c, h in session.execute(ASSIGNED, {"plan": plan_id})}


def _totals(assigned: dict[int, tuple[str, int]]) -> dict[str, int]:
    totals: dict[str, int] = defaultdict(int)
    for code, households in assigned.values():
        totals[code] += households
    return totals


def handover(session: Session, plan_id: int, published_id: int | None) -> Handover:
    """Compare draft ``plan_id`` with the published plan: grids needing staff, grids kept, requests moving."""
    new, old = _assigned(session, plan_id), _assigned(session, published_id)
    new_totals, old_totals = _totals(new), _totals(old)
    shared: dict[str, int] = defaultdict(int)
    for building, (code, households) in new.items():
        if building in old and old[building][0] == code:
            shared[code] += households
    workers = grid_workers(session)
    changes: list[GridChange] = []
    kept = 0
    for code, total in sorted(new_totals.items()):
        share = shared[code] / total if total else 0.0
        if code not in old_totals:
            changes.append(GridChange(code, "new", total, 0.0, workers.get(code, [])))
        elif share > SHARED and shared[code] > SHARED * old_totals[code]:
            kept += 1
        else:
            changes.append(GridChange(code, "changed", total, round(share, 3), workers.get(code, [])))
    for code in sorted(set(old_totals) - set(new_totals)):
        if workers.get(code):
            changes.append(GridChange(code, "removed", 0, 0.0, workers[code]))
    moving = len(session.execute(MOVING, {"plan": plan_id}).all())
    return Handover(needs_staffing=changes, kept=kept, requests_moving=moving)


REGRID = text(
    """
    WITH moving AS (MOVING),
    moved AS (
      UPDATE requests r SET grid_code = m.new_code, plan_version = :version
      FROM moving m WHERE r.id = m.id
      RETURNING r.id, r.status, m.grid_code AS before, m.new_code AS after
    )
    INSERT INTO request_events (request_id, at, action, from_status, to_status, actor, actor_role, reason, data)
    SELECT id, now(), 'regrid', status, status, 'system', 'system',
           '网格方案 v' || :version || ' 发布：' || coalesce(before, '无') || ' → ' || after || ' / plan published',
           json_build_object('from_grid', before, 'to_grid', after)
    FROM moved
    """.replace("MOVING", MOVING.text.strip())
)


def move_open_requests(session: Session, plan_id: int, version: int) -> int:
    """Give every open request the grid its point lies in under plan ``plan_id``, audited; returns how many moved."""
    result = session.execute(REGRID, {"plan": plan_id, "version": version})
    return int(getattr(result, "rowcount", 0) or 0)
