"""The 五单 workflow as a table: which action moves a request from which status to which, and who may act.

reported ─点单 take─▶ taken ─resolve─▶ resolved ─verify─▶ verified ─rate─▶ closed (or reopened on a low rating)
                                      resolved ─reject (核查不通过)─▶ back to taken / accepted
    │                   │                  ▲
    └──── escalate ─────┴─▶ escalated ─分单 triage (small → taken, big → triaged)
                                             triaged/returned ─派单 dispatch─▶ dispatched ─接单 accept─▶ accepted
                                             dispatched/accepted ─退单 return─▶ returned   accepted ─resolve─┘
Any open request can be merged into another as a duplicate. A grid worker acts in own grids only, a department on
its own cases only (checked in :mod:`gridmap.requests.service`).

评单 (rate) comes from the reporter only (the public token); staff record a 回访 (callback: the stars the resident
gave on the phone) instead, and whoever resolved a request does not verify it (conflict of interest, checked in
``service``). Names of statuses, actions and roles in 简体中文 and English are here, for the API and the pages.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from gridmap.db.models import Role
from gridmap.errors import Conflict, InvalidInput


class Status(enum.StrEnum):
    """Where a request is."""

    reported = "reported"  # 上报
    taken = "taken"  # 点单: the grid worker has it
    escalated = "escalated"  # 上报社区: needs the 社区
    triaged = "triaged"  # 分单: a big case, waiting for the 街道
    dispatched = "dispatched"  # 派单: sent to a department
    accepted = "accepted"  # 接单
    returned = "returned"  # 退单: the department sent it back with a reason
    resolved = "resolved"  # 办结
    verified = "verified"  # 核查
    closed = "closed"  # 结案 (评单 done)
    reopened = "reopened"  # a low rating reopened it
    merged = "merged"  # a duplicate of another request


class Action(enum.StrEnum):
    """What a user can do to a request."""

    take = "take"
    escalate = "escalate"
    triage = "triage"
    dispatch = "dispatch"
    accept = "accept"
    return_ = "return"
    resolve = "resolve"
    verify = "verify"
    reject = "reject"  # 核查不通过: back to whoever resolved it
    rate = "rate"
    callback = "callback"  # 回访: 社区/街道 staff record the stars the resident gave on the phone
    close = "close"
    merge = "merge"


OPEN = frozenset(Status) - {Status.closed, Status.merged}
DONE = frozenset({Status.resolved, Status.verified, Status.closed})  # counted as 办结
RESPONSES = frozenset({Action.take, Action.escalate, Action.triage, Action.merge, Action.resolve})
RATINGS = frozenset({Action.rate, Action.callback})  # the two ways a resident's stars arrive
S = Status

STATUS_NAMES: dict[Status, tuple[str, str]] = {
    S.reported: ("待点单", "reported"),
    S.taken: ("处理中", "taken"),
    S.escalated: ("已上报社区", "escalated"),
    S.triaged: ("待派单", "triaged"),
    S.dispatched: ("已派单", "dispatched"),
    S.accepted: ("部门处理中", "accepted"),
    S.returned: ("已退单", "returned"),
    S.resolved: ("已办结", "resolved"),
    S.verified: ("已核查", "verified"),
    S.closed: ("已结案", "closed"),
    S.reopened: ("重新打开", "reopened"),
    S.merged: ("已合并", "merged"),
}
ACTION_NAMES: dict[str, tuple[str, str]] = {
    Action.take: ("点单", "take"),
    Action.escalate: ("上报", "escalate"),
    Action.triage: ("分单", "triage"),
    Action.dispatch: ("派单", "dispatch"),
    Action.accept: ("接单", "accept"),
    Action.return_: ("退单", "return"),
    Action.resolve: ("办结", "resolve"),
    Action.verify: ("核查", "verify"),
    Action.reject: ("核查不通过", "reject"),
    Action.rate: ("评单", "rate"),
    Action.callback: ("回访", "call back"),
    Action.close: ("结案", "close"),
    Action.merge: ("合并", "merge"),
    "report": ("上报", "report"),  # audit-trail entries that are no transition
    "photo": ("上传照片", "photo"),
}
ROLE_NAMES: dict[str, tuple[str, str]] = {  # every actor of the audit trail: the roles, residents and the system
    "admin": ("管理员", "Administrator"),
    "planner": ("规划员", "Planner"),
    "leader": ("领导", "Leader"),
    "grid_worker": ("网格员", "Grid worker"),
    "community": ("社区工作人员", "Community staff"),
    "command": ("街道指挥中心", "Sub-district command centre"),
    "department": ("职能部门", "Department"),
    "public": ("居民", "Resident"),
    "system": ("系统", "System"),
}


def role_name(role: str) -> str:
    """The 简体中文 name of a role or actor (the code itself when unknown)."""
    return ROLE_NAMES.get(role, (role, role))[0]


def status_name(status: str) -> str:
    """The 简体中文 name of a status (the code itself when unknown)."""
    try:
        return STATUS_NAMES[Status(status)][0]
    except ValueError:
        return status


def action_name(action: str) -> str:
    """The 五单 word for an action (the code itself when unknown)."""
    known = ACTION_NAMES.get(action)
    return known[0] if known else action


@dataclass(frozen=True)
class Rule:
    """Statuses an action applies to, its result, and the roles that may do it."""

    sources: frozenset[Status]
    target: Status
    roles: frozenset[Role]
    needs_reason: bool = False


RULES: dict[Action, Rule] = {
    Action.take: Rule(frozenset({S.reported, S.reopened}), S.taken, frozenset({Role.grid_worker, Role.community})),
    Action.escalate: Rule(frozenset({S.reported, S.reopened, S.taken}), S.escalated, frozenset({Role.grid_worker})),
    Action.triage: Rule(frozenset({S.reported, S.reopened, S.escalated}), S.triaged, frozenset({Role.community})),
    Action.dispatch: Rule(frozenset({S.triaged, S.returned}), S.dispatched, frozenset({Role.command})),
    Action.accept: Rule(frozenset({S.dispatched}), S.accepted, frozenset({Role.department})),
    Action.return_: Rule(frozenset({S.dispatched, S.accepted}), S.returned, frozenset({Role.department}), True),
    Action.resolve: Rule(
        frozenset({S.taken, S.accepted}), S.resolved, frozenset({Role.grid_worker, Role.community, Role.department})
    ),
    Action.verify: Rule(frozenset({S.resolved}), S.verified, frozenset({Role.grid_worker, Role.community})),
    Action.reject: Rule(frozenset({S.resolved}), S.taken, frozenset({Role.grid_worker, Role.community}), True),
    Action.rate: Rule(frozenset({S.verified}), S.closed, frozenset()),  # the reporter only, never staff
    Action.callback: Rule(frozenset({S.verified}), S.closed, frozenset({Role.community, Role.command})),
    Action.close: Rule(frozenset({S.verified}), S.closed, frozenset({Role.community, Role.command}), True),
    Action.merge: Rule(OPEN - {S.resolved, S.verified}, S.merged, frozenset({Role.grid_worker, Role.community}), True),
}


def may_act(role: Role, action: Action) -> bool:
    """Whether ``role`` may take ``action`` at all; admins may do what any staff role may (never 评单)."""
    roles = RULES[action].roles
    return role in roles or (role is Role.admin and bool(roles))


def allowed_actions(status: Status, role: Role) -> list[Action]:
    """Actions ``role`` may take on a request in ``status`` (scope and conflict-of-interest checks aside)."""
    return [a for a, r in RULES.items() if status in r.sources and may_act(role, a)]


def next_status(
    action: Action,
    status: Status,
    *,
    size: str | None = None,
    stars: int | None = None,
    reopen_below: int = 3,
    dispatched: bool = False,
) -> Status:
    """The status after ``action``; raises :class:`Conflict` when it does not apply."""
    rule = RULES[action]
    if status not in rule.sources:
        allowed = ", ".join(sorted(s.value for s in rule.sources))
        names = "、".join(STATUS_NAMES[s][0] for s in sorted(rule.sources))
        raise Conflict(
            f"无法{action_name(action)}：该诉求状态为{STATUS_NAMES[status][0]}，{action_name(action)}只适用于{names} / "
            f"cannot {action.value} a request that is {status.value}; {action.value} applies to: {allowed}"
        )
    if action is Action.triage:
        if size not in {"small", "big"}:
            raise InvalidInput(
                "分单需要选择大小：small 小事回网格，big 大事报街道 / "
                "triage needs size: small (the grid handles it) or big (the 街道 dispatches it)"
            )
        return Status.taken if size == "small" else Status.triaged
    if action is Action.reject:  # a department's case goes back to the department, a grid's to the grid
        return Status.accepted if dispatched else Status.taken
    if action in RATINGS:
        if stars is None or not 1 <= stars <= 5:
            raise InvalidInput(f"{action_name(action)}需要 1 到 5 星 / {action.value} needs stars from 1 to 5")
        return Status.reopened if stars < reopen_below else Status.closed
    return rule.target
