"""The 五单 workflow as a table: which action moves a request from which status to which, and who may act.

reported ─点单 take─▶ taken ─resolve─▶ resolved ─verify─▶ verified ─rate─▶ closed (or reopened on a low rating)
                                      resolved ─reject (核查不通过)─▶ back to taken / accepted
    │                   │                  ▲
    └──── escalate ─────┴─▶ escalated ─分单 triage (small → taken, big → triaged)
                                             triaged/returned ─派单 dispatch─▶ dispatched ─接单 accept─▶ accepted
                                             dispatched/accepted ─退单 return─▶ returned   accepted ─resolve─┘
Any open request can be merged into another as a duplicate. A grid worker acts in own grids only, a department on
its own cases only (checked in :mod:`gridmap.requests.service`).
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
    close = "close"
    merge = "merge"


OPEN = frozenset(Status) - {Status.closed, Status.merged}
DONE = frozenset({Status.resolved, Status.verified, Status.closed})  # counted as 办结
RESPONSES = frozenset({Action.take, Action.escalate, Action.triage, Action.merge, Action.resolve})
S = Status


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
    Action.rate: Rule(frozenset({S.verified}), S.closed, frozenset({Role.grid_worker, Role.community, Role.command})),
    Action.close: Rule(frozenset({S.verified}), S.closed, frozenset({Role.community, Role.command}), True),
    Action.merge: Rule(OPEN - {S.resolved, S.verified}, S.merged, frozenset({Role.grid_worker, Role.community}), True),
}


def allowed_actions(status: Status, role: Role) -> list[Action]:
    """Actions ``role`` may take on a request in ``status`` (scope checks aside)."""
    return [a for a, r in RULES.items() if status in r.sources and (role in r.roles or role is Role.admin)]


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
        raise Conflict(f"cannot {action.value} a request that is {status.value}; {action.value} applies to: {allowed}")
    if action is Action.triage:
        if size not in {"small", "big"}:
            raise InvalidInput("triage needs size: small (the grid handles it) or big (the 街道 dispatches it)")
        return Status.taken if size == "small" else Status.triaged
    if action is Action.reject:  # a department's case goes back to the department, a grid's to the grid
        return Status.accepted if dispatched else Status.taken
    if action is Action.rate:
        if stars is None or not 1 <= stars <= 5:
            raise InvalidInput("rate needs stars from 1 to 5")
        return Status.reopened if stars < reopen_below else Status.closed
    return rule.target
