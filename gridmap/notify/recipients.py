"""Who must act on a request in a status, within their scope: the one place notifications ask.

Grid workers by their grids (``user_grids``), departments by the request's department, 社区 and 街道 staff:
everyone of that role for now (users get a unit when the policy module lands; only this function then changes).
A grid task nobody is assigned to (no active grid worker left once the actor is excluded) goes to the 社区.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import and_, false, or_, select
from sqlalchemy.orm import Session

from gridmap.db.models import Role, ServiceRequest, User, UserGrid
from gridmap.requests.states import Status

MUST_ACT: dict[Status, frozenset[Role]] = {
    Status.reported: frozenset({Role.grid_worker}),  # 点单
    Status.reopened: frozenset({Role.grid_worker}),
    Status.taken: frozenset({Role.grid_worker}),  # 办结 (after 小事回网格 or 核查不通过)
    Status.escalated: frozenset({Role.community}),  # 分单
    Status.triaged: frozenset({Role.command}),  # 派单
    Status.returned: frozenset({Role.command}),  # 退单: dispatch again
    Status.dispatched: frozenset({Role.department}),  # 接单
    Status.accepted: frozenset({Role.department}),  # 办结 (after 核查不通过)
    Status.resolved: frozenset({Role.grid_worker}),  # 核查
    Status.verified: frozenset({Role.community}),  # 回访 / 评单
}


def recipients(
    session: Session,
    request: ServiceRequest,
    status: str,
    *,
    also: Iterable[Role] = (),
    exclude: int | None = None,
) -> list[int]:
    """Ids of the active users who must act on ``request`` in ``status`` (plus the roles ``also``, scoped).

    ``exclude`` (the actor) never hears of own work; a grid task with no grid worker goes to the 社区.
    """
    roles = set(MUST_ACT.get(Status(status), frozenset())) | set(also)
    if not roles:
        return []
    wanted = roles | ({Role.community} if Role.grid_worker in roles else set())
    conditions = []
    if Role.grid_worker in wanted:
        in_grid = select(UserGrid.user_id).where(UserGrid.grid_code == request.grid_code)
        conditions.append(and_(User.role == Role.grid_worker, User.id.in_(in_grid)))
    if Role.department in wanted:
        department = request.department
        conditions.append(and_(User.role == Role.department, User.department == department) if department else false())
    conditions.extend(User.role == role for role in wanted & {Role.community, Role.command})
    rows = session.execute(select(User.id, User.role).where(User.is_active, or_(*conditions))).all()
    found: dict[Role, list[int]] = {}
    for user_id, role in rows:
        if user_id != exclude:
            found.setdefault(role, []).append(user_id)
    chosen = {role for role in roles if found.get(role)}
    if Role.grid_worker in roles and not found.get(Role.grid_worker):
        chosen.add(Role.community)
    return sorted({user_id for role in chosen for user_id in found.get(role, [])})
