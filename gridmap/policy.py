"""One policy: roles and role sets, unit scopes, who may act, what each role must act on, which pages it may open.

Routes, services, maps and pages ask this module; nothing else decides who may do what. Admins are admitted
everywhere. A user's scope says which requests (and grids) are theirs:

- 网格员 (grid_worker): the requests of own grids;
- 社区 / 街道 (community, command): the requests whose grid code starts with the user's unit code (a 12-digit
  社区 or a 9-digit 街道 code); without a unit, nothing (fail closed);
- 职能部门 (department): the requests dispatched to it, from 派单 on (never-dispatched ones stay invisible);
- leaders, planners, admins: everything.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, and_, false, or_, true
from sqlalchemy.orm import InstrumentedAttribute, Session

from gridmap.auth.service import user_grids
from gridmap.db.models import Role, ServiceRequest, User
from gridmap.errors import Forbidden, InvalidInput
from gridmap.partition.codes import UNIT_PATTERN
from gridmap.requests import states
from gridmap.requests.states import OPEN, RULES, Action, Status

ALL = frozenset(Role)
LEADERS = frozenset({Role.leader, Role.planner})
PLANNERS = frozenset({Role.planner})
WORKERS = frozenset({Role.grid_worker})
REPORTERS = frozenset({Role.grid_worker, Role.community})  # the staff 上报 form
KPI_VIEWERS = frozenset({Role.leader, Role.planner, Role.community, Role.command})
HEAD_EDITORS = frozenset({Role.community, Role.command, Role.grid_worker})  # 楼栋长 records
UNIT_ROLES = frozenset({Role.community, Role.command})
LEDGER_READERS = KPI_VIEWERS  # 网格台账 and plan exports, scoped to the reader's unit
HOUSEHOLD_EDITORS = frozenset({Role.planner, Role.community, Role.command})  # surveyed 户数 from a 台账
# The people of a grid: who records them and places registered 党员 (社区/街道), who sees them (masked), who may
# reveal a phone or ID number (with a reason, logged), who prints the 网格公示牌.
PEOPLE_EDITORS = UNIT_ROLES
PEOPLE_VIEWERS = frozenset({Role.grid_worker, Role.community, Role.command, Role.leader})
PII_REVEALERS = UNIT_ROLES
CARD_PRINTERS = frozenset({Role.grid_worker, Role.community, Role.command, Role.leader, Role.planner})
FIELDWORK_VIEWERS = LEADERS | UNIT_ROLES  # patrol coverage, other people's tracks (logged), 五个一
VISIT_MAP_VIEWERS = FIELDWORK_VIEWERS | WORKERS
UNIT_CODE = re.compile(UNIT_PATTERN)  # 街道 (9 digits) or 社区 (12 digits)

ROLE_NAMES: dict[Role, tuple[str, str]] = {role: states.ROLE_NAMES[role.value] for role in Role}


def admits(role: Role, allowed: Iterable[Role]) -> bool:
    """Whether ``role`` is in ``allowed`` (admins always are)."""
    return role is Role.admin or role in set(allowed)


# ---------------------------------------------------------------- pages


@dataclass(frozen=True)
class Page:
    """A work page: its path, its name in the navigation, and the roles that may open it."""

    href: str
    zh: str
    en: str
    roles: frozenset[Role]
    nav: bool = True  # listed in the navigation (pages that need parameters are not)


PAGES: tuple[Page, ...] = (
    Page("/", "工作台", "Workbench", ALL),
    Page("/report", "上报", "Report", REPORTERS),
    Page("/maps/my-grid", "我的网格", "My grid", WORKERS),
    Page("/dashboard", "指标看板", "Dashboard", KPI_VIEWERS),
    Page("/maps/visits", "走访覆盖", "Visits", VISIT_MAP_VIEWERS),
    Page("/maps/patrols", "巡查覆盖", "Patrols", FIELDWORK_VIEWERS),
    Page("/maps/coverage", "网格覆盖", "Coverage", LEADERS),
    Page("/maps/hotspots", "诉求热点", "Hot spots", LEADERS),
    Page("/maps/lanes", "堵巷", "Blocked lanes", LEADERS),
    Page("/people", "网格人员", "Grid people", PEOPLE_VIEWERS),
    Page("/planner", "网格规划", "Planner", PLANNERS),
    Page("/households", "户数台账", "Household ledger", HOUSEHOLD_EDITORS),
    Page("/maps/plan-diff", "方案对比", "Plan diff", PLANNERS, nav=False),
)
_BY_HREF = {p.href: p for p in PAGES}


def may_open(role: Role, path: str) -> bool:
    """Whether ``role`` may open the page at ``path`` (query string ignored; unknown pages: no)."""
    page = _BY_HREF.get(path.split("?", 1)[0])
    return page is not None and admits(role, page.roles)


def links(role: Role) -> list[Page]:
    """The navigation of ``role``: exactly the pages it may open."""
    return [p for p in PAGES if p.nav and admits(role, p.roles)]


# ---------------------------------------------------------------- actions and 待办


def may_act(role: Role, action: Action) -> bool:
    """Whether ``role`` may take ``action`` at all (scope aside), as :data:`states.RULES` says."""
    return states.may_act(role, action)


def act_refusal(role: Role, action: Action) -> str | None:
    """Why ``role`` may not take ``action`` (None: it may)."""
    if may_act(role, action):
        return None
    roles = sorted(RULES[action].roles)
    return (
        f"{states.action_name(action)}由{'、'.join(ROLE_NAMES[r][0] for r in roles)}办理，"
        f"您的角色是{ROLE_NAMES[role][0]} / {action.value} is done by {', '.join(r.value for r in roles)}, "
        f"you are {role.value}"
    )


@dataclass(frozen=True)
class Todo:
    """Requests in ``statuses`` (and, when set, dispatched or not) wait for a role."""

    statuses: frozenset[Status]
    dispatched: bool | None = None


S = Status
# What each role must act on; every (role, status) here has an action in states.RULES (tested).
TODO: dict[Role, tuple[Todo, ...]] = {
    Role.grid_worker: (Todo(frozenset({S.reported, S.reopened, S.taken})), Todo(frozenset({S.resolved}), True)),
    Role.community: (Todo(frozenset({S.escalated, S.verified})), Todo(frozenset({S.resolved}), False)),
    Role.command: (Todo(frozenset({S.triaged, S.returned})),),
    Role.department: (Todo(frozenset({S.dispatched, S.accepted})),),
    Role.admin: (Todo(OPEN),),
}


def todo_statuses(role: Role) -> frozenset[Status]:
    """Statuses that can put a request on ``role``'s 待办."""
    return frozenset().union(*(t.statuses for t in TODO.get(role, ())))


def is_todo(role: Role, status: str, *, dispatched: bool) -> bool:
    """Whether a request in ``status`` waits for ``role``."""
    return any(
        status in t.statuses and (t.dispatched is None or t.dispatched is dispatched) for t in TODO.get(role, ())
    )


def todo_clause(role: Role) -> ColumnElement[bool]:
    """SQL: the requests waiting for ``role`` (scope not included)."""
    parts: list[ColumnElement[bool]] = []
    for t in TODO.get(role, ()):
        clause: ColumnElement[bool] = ServiceRequest.status.in_(sorted(t.statuses))
        if t.dispatched is not None:
            sent = ServiceRequest.dispatched_at.is_not(None)
            clause = and_(clause, sent if t.dispatched else ServiceRequest.dispatched_at.is_(None))
        parts.append(clause)
    return or_(*parts) if parts else false()


# ---------------------------------------------------------------- scopes

GridColumn = InstrumentedAttribute[str | None] | InstrumentedAttribute[str]


@dataclass(frozen=True)
class Scope:
    """The requests and grids a user may see and act on."""

    everything: bool = False
    grids: frozenset[str] = field(default_factory=frozenset)
    prefix: str | None = None
    department: str | None = None

    def covers_grid(self, code: str | None) -> bool:
        """Whether the grid ``code`` is in scope (a department has no grids of its own)."""
        if self.everything:
            return True
        if code is None:
            return False
        return code in self.grids or (self.prefix is not None and code.startswith(self.prefix))

    def covers(self, *, grid_code: str | None, department: str | None, dispatched: bool) -> bool:
        """Whether a request (its grid, department and whether it was dispatched) is in scope."""
        if self.department is not None:
            return dispatched and department == self.department
        return self.covers_grid(grid_code)

    def clause(self) -> ColumnElement[bool]:
        """SQL: the requests in scope."""
        return self.grid_clause(ServiceRequest.grid_code) if self.department is None else self._department_clause()

    def grid_clause(self, column: GridColumn) -> ColumnElement[bool]:
        """SQL: rows whose grid ``column`` is in scope."""
        if self.everything:
            return true()
        parts: list[ColumnElement[bool]] = []
        if self.grids:
            parts.append(column.in_(sorted(self.grids)))
        if self.prefix:
            parts.append(column.startswith(self.prefix))
        return or_(*parts) if parts else false()

    def _department_clause(self) -> ColumnElement[bool]:
        return and_(ServiceRequest.department == self.department, ServiceRequest.dispatched_at.is_not(None))


def scope_of(user: User, grids: Iterable[str] = ()) -> Scope:
    """The scope of ``user`` given its assigned grid codes (pure: no database)."""
    if user.role in {Role.admin, Role.leader, Role.planner}:
        return Scope(everything=True)
    if user.role is Role.grid_worker:
        return Scope(grids=frozenset(grids))
    if user.role in UNIT_ROLES:
        return Scope(prefix=user.unit_code or None)
    if user.role is Role.department:
        return Scope(department=user.department or "")
    return Scope()


def user_scope(session: Session, user: User) -> Scope:
    """The scope of ``user``, reading its grids when it is a grid worker."""
    grids = user_grids(session=session, user=user) if user.role is Role.grid_worker else []
    return scope_of(user, grids)


def check_request(scope: Scope, req: ServiceRequest, user: User) -> None:
    """:class:`Forbidden` unless request ``req`` is in ``user``'s ``scope``."""
    if scope.covers(grid_code=req.grid_code, department=req.department, dispatched=req.dispatched_at is not None):
        return
    if user.role is Role.grid_worker:
        raise Forbidden(f"网格员只能处理自己网格的事件 / request {req.id} is in grid {req.grid_code}, not yours")
    if user.role is Role.department:
        raise Forbidden(f"该事件未派给本部门 / request {req.id} was not dispatched to {user.department}")
    if not user.unit_code:
        raise Forbidden("您的账号还没有所属单位 / your account has no unit (社区/街道): ask an administrator")
    raise Forbidden(f"该事件不在本辖区 / request {req.id} is in grid {req.grid_code}, outside unit {user.unit_code}")


def check_grid(scope: Scope, code: str | None, user: User) -> None:
    """:class:`Forbidden` unless the grid ``code`` is in ``user``'s ``scope``."""
    if not scope.covers_grid(code):
        raise Forbidden(f"该网格不在您的辖区 / grid {code} is outside your scope ({user.role.value})")


def check_unit(role: Role, unit_code: str | None) -> None:
    """:class:`InvalidInput` unless ``unit_code`` is a 9-digit 街道 or 12-digit 社区 code (or None)."""
    if unit_code is not None and not UNIT_CODE.match(unit_code):
        raise InvalidInput(f"单位代码须为 9 位街道或 12 位社区代码 / unit {unit_code!r}: 9 (街道) or 12 (社区) digits")
    if unit_code is not None and role not in UNIT_ROLES:
        raise InvalidInput(f"只有社区和街道账号有所属单位 / only community and command users have a unit, not {role}")
