"""The one policy as a matrix: role × page, role × 待办 status (against states.RULES), role × unit scope."""

from __future__ import annotations

import pytest

from gridmap import policy
from gridmap.db.models import Role, User
from gridmap.errors import InvalidInput
from gridmap.requests.states import Action, Status, allowed_actions

FIELDWORK = {"/maps/visits", "/maps/patrols"}  # 走访覆盖, 巡查覆盖
# role -> pages it may open (every other page of policy.PAGES must be refused)
OPENS = {
    Role.admin: {p.href for p in policy.PAGES},
    Role.planner: {"/", "/dashboard", "/maps/coverage", "/maps/hotspots", "/maps/lanes", "/planner", "/maps/plan-diff"}
    | {"/households"} | FIELDWORK,
    Role.leader: {"/", "/dashboard", "/maps/coverage", "/maps/hotspots", "/maps/lanes", "/people"} | FIELDWORK,
    Role.grid_worker: {"/", "/report", "/maps/my-grid", "/maps/visits", "/people"},
    Role.community: {"/", "/report", "/dashboard", "/people", "/households"} | FIELDWORK,
    Role.command: {"/", "/dashboard", "/people", "/households"} | FIELDWORK,
    Role.department: {"/"},
}


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("page", [p.href for p in policy.PAGES])
def test_role_page_matrix(role: Role, page: str) -> None:
    assert policy.may_open(role, page + "?days=7") is (page in OPENS[role])


@pytest.mark.parametrize("role", list(Role))
def test_links_are_exactly_the_pages_a_role_may_open(role: Role) -> None:
    hrefs = [p.href for p in policy.links(role)]
    assert set(hrefs) == OPENS[role] - {"/maps/plan-diff"} and hrefs[0] == "/"


def test_unknown_pages_are_refused() -> None:
    assert not policy.may_open(Role.admin, "/nowhere")


@pytest.mark.parametrize("role", list(policy.TODO))
def test_every_todo_status_has_an_action_of_that_role(role: Role) -> None:
    for status in policy.todo_statuses(role):
        assert set(allowed_actions(status, role)) - {Action.merge}, (role, status)


def test_the_todo_of_the_chain() -> None:
    assert policy.is_todo(Role.grid_worker, "reported", dispatched=False)
    assert policy.is_todo(Role.grid_worker, "resolved", dispatched=True)  # a department's work to verify
    assert not policy.is_todo(Role.grid_worker, "resolved", dispatched=False)  # own work: the 社区 verifies
    assert policy.is_todo(Role.community, "resolved", dispatched=False)
    assert policy.is_todo(Role.command, "returned", dispatched=True)
    assert policy.is_todo(Role.department, "dispatched", dispatched=True)
    assert not policy.is_todo(Role.department, "triaged", dispatched=False)
    assert not policy.is_todo(Role.leader, "reported", dispatched=False)
    assert policy.todo_statuses(Role.admin) == frozenset(Status) - {Status.closed, Status.merged}


def _user(role: Role, unit: str | None = None, department: str | None = None) -> User:
    return User(username=role.value, role=role, unit_code=unit, department=department, password_hash="x")


GRID = "320102003001002"  # 新街口街道 香铺营社区 第2网格
# (role, unit or department, grids) -> whether the request in GRID, undispatched / dispatched to 环卫所, is in scope
CASES = [
    (_user(Role.leader), (), True, True),
    (_user(Role.planner), (), True, True),
    (_user(Role.admin), (), True, True),
    (_user(Role.grid_worker), [GRID], True, True),
    (_user(Role.grid_worker), ["320102003001001"], False, False),
    (_user(Role.community, "320102003001"), (), True, True),
    (_user(Role.community, "320102003002"), (), False, False),
    (_user(Role.community), (), False, False),  # no unit: nothing (fail closed)
    (_user(Role.command, "320102003"), (), True, True),
    (_user(Role.command, "320102004"), (), False, False),
    (_user(Role.department, department="环卫所"), (), False, True),  # from 派单 on
    (_user(Role.department, department="城管执法中队"), (), False, False),
]


@pytest.mark.parametrize(("user", "grids", "undispatched", "dispatched"), CASES)
def test_role_unit_scope_matrix(user: User, grids: list[str], undispatched: bool, dispatched: bool) -> None:
    scope = policy.scope_of(user, grids)
    assert scope.covers(grid_code=GRID, department="环卫所", dispatched=False) is undispatched
    assert scope.covers(grid_code=GRID, department="环卫所", dispatched=True) is dispatched


def test_unit_codes_are_checked() -> None:
    policy.check_unit(Role.community, "320102003001")
    policy.check_unit(Role.command, "320102003")
    for role, code in ((Role.community, "3201020030"), (Role.grid_worker, "320102003"), (Role.command, "32010200x")):
        with pytest.raises(InvalidInput):
            policy.check_unit(role, code)


def test_act_refusal_names_the_roles_in_chinese_first() -> None:
    assert policy.act_refusal(Role.community, Action.triage) is None
    refusal = policy.act_refusal(Role.grid_worker, Action.dispatch)
    assert refusal is not None and refusal.startswith("派单由街道指挥中心办理，您的角色是网格员")
