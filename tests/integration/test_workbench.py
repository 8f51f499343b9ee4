"""Workbench API on real PostGIS: role × route × unit matrix, scopes, 待办, list filters with correct totals."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from gridmap import policy
from gridmap.api.main import create_app
from gridmap.auth.service import create_user
from gridmap.db.cluster import LocalCluster
from gridmap.db.models import Role
from gridmap.db.session import session_scope
from gridmap.ingest.service import import_files
from gridmap.partition.service import partition_db
from gridmap.settings import Settings
from tests.conftest import NANJING_OSM, make_database

pytestmark = pytest.mark.db
PREFIX = "320102003000"  # 新街口街道, 社区 part 000 (the demo's)
START = datetime(2026, 5, 4, 1, 0, tzinfo=UTC)
USERS: dict[str, tuple[Role, str | None, str | None]] = {  # name: role, unit, department
    "admin": (Role.admin, None, None),
    "leader": (Role.leader, None, None),
    "planner": (Role.planner, None, None),
    "worker1": (Role.grid_worker, None, None),
    "worker2": (Role.grid_worker, None, None),
    "community": (Role.community, PREFIX, None),
    "community_other": (Role.community, "320102003001", None),  # 香铺营社区: no grids of the data
    "community_none": (Role.community, None, None),
    "command": (Role.command, PREFIX[:9], None),
    "command_other": (Role.command, "320102004", None),
    "sanitation": (Role.department, None, "环卫所"),
    "chengguan": (Role.department, None, "城管执法中队"),
}


class Clock:
    """A clock the fixture moves."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(scope="module")
def world(cluster: LocalCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    url = make_database(cluster, "workbench_test")
    engine = create_engine(url)
    settings = Settings(
        home=tmp_path_factory.mktemp("home"), database_url=url, secret_key="workbench-test-secret-key-long-enough"
    )
    with session_scope(engine) as session:
        import_files(session=session, settings=settings, paths=[NANJING_OSM])
        partition_db(session=session, params=settings.partition, publish=True, code_prefix=PREFIX)
        codes = list(session.scalars(text("SELECT code FROM grids ORDER BY code")).all())
        for name, (role, unit, dept) in USERS.items():
            grids = {"worker1": [codes[0]], "worker2": [codes[1]]}.get(name)
            create_user(
                session=session, username=name, password="secret", role=role, grids=grids, unit_code=unit,
                department=dept,
                weak_password=True,
            )
        points = text("SELECT code, ST_X(p), ST_Y(p) FROM (SELECT code, ST_PointOnSurface(geom) p FROM grids) g")
        spots = {code: [x, y] for code, x, y in session.execute(points)}
    clock = Clock()
    app = create_app(settings, engine=engine, clock=clock)
    with TestClient(app) as client:
        made = _cases(client, clock, codes, spots)
        yield {"client": client, "engine": engine, "codes": codes, "app": app, "clock": clock} | made
    engine.dispose()


_tokens: dict[str, dict[str, str]] = {}


def auth(client: TestClient, user: str) -> dict[str, str]:
    if user not in _tokens:
        body = client.post("/api/auth/token", data={"username": user, "password": "secret"}).json()
        _tokens[user] = {"Authorization": f"Bearer {body['access_token']}"}
    return _tokens[user]


def _do(client: TestClient, rid: int, user: str, action: str, **body: Any) -> None:
    r = client.post(f"/api/requests/{rid}/actions", json={"action": action} | body, headers=auth(client, user))
    assert r.status_code == 200, r.text


def _cases(client: TestClient, clock: Clock, codes: list[str], spots: dict[str, list[float]]) -> dict[str, Any]:
    """Requests at every step of the chain, a day apart (so none is a duplicate and their deadlines differ)."""
    ids: dict[str, int] = {}
    plan = [
        ("reported", 0, "worker1", "garbage"),
        ("reported2", 1, "worker2", "garbage"),
        ("taken", 0, "worker1", "noise"),
        ("escalated", 0, "worker1", "pets"),
        ("triaged", 0, "worker1", "stairwell_clutter"),
        ("dispatched", 0, "worker1", "garbage"),
        ("resolved_by_worker", 0, "worker1", "broken_facility"),
    ]
    for name, grid, user, category in plan:
        lon, lat = spots[codes[grid]]
        body = {"category": category, "description": f"测试 {name} 独特词{len(ids)}", "lon": lon, "lat": lat}
        r = client.post("/api/requests", json=body, headers=auth(client, user))
        assert r.status_code == 201, r.text
        ids[name] = r.json()["id"]
        clock.now += timedelta(hours=25)
    _do(client, ids["taken"], "worker1", "take")
    _do(client, ids["escalated"], "worker1", "escalate")
    for name in ("triaged", "dispatched"):
        _do(client, ids[name], "worker1", "escalate")
        _do(client, ids[name], "community", "triage", size="big")
    _do(client, ids["dispatched"], "command", "dispatch", department="环卫所")
    _do(client, ids["resolved_by_worker"], "worker1", "take")
    _do(client, ids["resolved_by_worker"], "worker1", "resolve")
    return {"ids": ids}


def listing(world: dict[str, Any], user: str, **params: Any) -> dict[str, Any]:
    r = world["client"].get("/api/requests", params=params, headers=auth(world["client"], user))
    assert r.status_code == 200, r.text
    return dict(r.json())


def ids_of(page: dict[str, Any]) -> set[int]:
    return {item["id"] for item in page["items"]}


PAGE_URLS = {p.href: p.href + ("?plan_id=1" if p.href == "/maps/plan-diff" else "") for p in policy.PAGES}


@pytest.mark.parametrize("user", list(USERS))
def test_role_route_matrix(world: dict[str, Any], user: str) -> None:
    """Each page answers 200 exactly when the policy lets the role open it (403 otherwise), signed in by cookie."""
    role = USERS[user][0]
    with TestClient(world["app"]) as browser:
        signed = browser.post("/login", data={"username": user, "password": "secret"}, follow_redirects=False)
        assert signed.status_code == 303
        got = {href: browser.get(url, follow_redirects=False).status_code for href, url in PAGE_URLS.items()}
    assert got == {href: 200 if policy.may_open(role, href) else 403 for href in PAGE_URLS}
    me = world["client"].get("/api/me", headers=auth(world["client"], user)).json()
    assert [link["href"] for link in me["links"]] == [p.href for p in policy.links(role)]


SEES = {  # user -> names of the cases it sees
    "worker1": {"reported", "taken", "escalated", "triaged", "dispatched", "resolved_by_worker"},
    "worker2": {"reported2"},
    "community": "all",
    "command": "all",
    "leader": "all",
    "community_other": set(),
    "community_none": set(),
    "command_other": set(),
    "sanitation": {"dispatched"},  # never-dispatched 环卫所 cases (garbage) stay invisible
    "chengguan": set(),
}


@pytest.mark.parametrize("user", list(SEES))
def test_scope_of_each_role_and_unit(world: dict[str, Any], user: str) -> None:
    ids = world["ids"]
    expected = set(ids.values()) if SEES[user] == "all" else {ids[n] for n in SEES[user]}
    page = listing(world, user, limit=500)
    assert ids_of(page) == expected and page["total"] == len(expected)
    for name, rid in ids.items():
        status = world["client"].get(f"/api/requests/{rid}", headers=auth(world["client"], user)).status_code
        assert status == (200 if rid in expected else 403), (user, name)


TODO = {
    "worker1": {"reported", "taken"},
    "worker2": {"reported2"},
    "community": {"escalated", "resolved_by_worker"},
    "command": {"triaged"},
    "sanitation": {"dispatched"},
    "chengguan": set(),
    "community_other": set(),
    "leader": set(),
}


@pytest.mark.parametrize("user", list(TODO))
def test_todo_is_what_the_role_must_act_on(world: dict[str, Any], user: str) -> None:
    page = listing(world, user, todo="true")
    assert ids_of(page) == {world["ids"][n] for n in TODO[user]} and page["total"] == len(TODO[user])
    dues = [item["due"]["at"] for item in page["items"] if item["due"]]
    assert dues == sorted(dues)  # soonest deadline first


def test_out_of_scope_actions_are_refused(world: dict[str, Any]) -> None:
    client, ids = world["client"], world["ids"]
    for user, rid, body in (
        ("community_other", ids["escalated"], {"action": "triage", "size": "big"}),
        ("command_other", ids["triaged"], {"action": "dispatch", "department": "环卫所"}),
        ("chengguan", ids["dispatched"], {"action": "accept"}),
        ("sanitation", ids["reported"], {"action": "resolve"}),  # its category, never dispatched
        ("worker2", ids["reported2"], {"action": "merge", "duplicate_of": ids["reported"], "reason": "同一处"}),
    ):
        r = client.post(f"/api/requests/{rid}/actions", json=body, headers=auth(client, user))
        assert r.status_code == 403, (user, r.text)
    r = client.post(f"/api/requests/{ids['escalated']}/actions", json={"action": "triage", "size": "big"},
                    headers=auth(client, "community_none"))
    assert r.status_code == 403 and "所属单位" in r.json()["detail"]


def test_status_lists_and_overdue_have_correct_totals(world: dict[str, Any]) -> None:
    ids = world["ids"]
    both = listing(world, "leader", status="reported,taken")
    assert ids_of(both) == {ids["reported"], ids["reported2"], ids["taken"]} and both["total"] == 3
    assert listing(world, "leader", status=["reported", "taken"])["total"] == 3
    everything = listing(world, "leader", limit=500)["items"]
    late = {i["id"] for i in everything if i["overdue"]}
    assert 0 < len(late) < len(everything)  # the fixture's days make some late, the newest not
    seen: set[int] = set()
    for offset in range(0, len(everything), 2):  # page through overdue=true two at a time
        page = listing(world, "leader", overdue="true", limit=2, offset=offset)
        assert page["total"] == len(late)
        seen |= ids_of(page)
    assert seen == late
    assert listing(world, "leader", overdue="false")["total"] == len(everything) - len(late)


def test_paging_by_deadline_covers_every_request_once(world: dict[str, Any]) -> None:
    full = listing(world, "leader", sort="deadline", limit=500)["items"]
    pages = [listing(world, "leader", sort="deadline", limit=3, offset=o) for o in range(0, len(full), 3)]
    paged = [i["id"] for page in pages for i in page["items"]]
    assert paged == [i["id"] for i in full]
    dues = [i["due"]["at"] for i in full if i["due"]]
    assert dues == sorted(dues) and all(i["due"] is None for i in full[len(dues) :])


def test_search_by_number_and_text(world: dict[str, Any]) -> None:
    rid = world["ids"]["escalated"]
    assert ids_of(listing(world, "leader", q=str(rid))) >= {rid}
    assert rid in ids_of(listing(world, "leader", q=f"#{rid}"))
    assert ids_of(listing(world, "leader", q="独特词3")) == {rid}
    assert listing(world, "leader", q="100%_")["total"] == 0  # LIKE wildcards are text
    assert listing(world, "worker2", q="独特词3")["total"] == 0  # search stays in scope


def test_list_items_name_place_and_deadline(world: dict[str, Any]) -> None:
    item = listing(world, "worker1", todo="true")["items"][0]
    assert item["category_name"] in {"垃圾乱堆", "噪声扰民"} and item["place"]
    assert item["due"]["state"] in {"ok", "warning", "overdue"} and item["due"]["stage"] in {"respond", "resolve"}


@pytest.mark.parametrize(
    ("params", "needle"),
    [
        ({"status": "bogus"}, "未知状态"),
        ({"q": "a\x00b"}, "NUL"),
        ({"sort": "random"}, ""),
        ({"category": "a\x00"}, ""),
    ],
)
def test_bad_list_parameters_are_422(world: dict[str, Any], params: dict[str, str], needle: str) -> None:
    r = world["client"].get("/api/requests", params=params, headers=auth(world["client"], "leader"))
    assert r.status_code == 422 and needle in r.text


@pytest.mark.parametrize(
    ("user", "name", "unit"),
    [
        ("worker1", "网格员 · 新街口街道 000社区 第1网格", "新街口街道 000社区 第1网格"),
        ("community", "社区工作人员 · 新街口街道 000社区", "新街口街道 000社区"),
        ("community_other", "社区工作人员 · 新街口街道 香铺营社区", "新街口街道 香铺营社区"),
        ("command", "街道指挥中心 · 新街口街道", "新街口街道"),
        ("sanitation", "环卫所", "环卫所"),
        ("leader", "领导", None),
    ],
)
def test_me_names_role_and_unit(world: dict[str, Any], user: str, name: str, unit: str | None) -> None:
    me = world["client"].get("/api/me", headers=auth(world["client"], user)).json()
    assert (me["display_name"], me["unit_name"]) == (name, unit)


def test_building_heads_are_edited_in_scope_only(world: dict[str, Any]) -> None:
    with world["engine"].connect() as conn:
        building = conn.execute(
            text(
                "SELECT a.building_id FROM grid_assignments a JOIN grids g ON g.id = a.grid_id "
                "WHERE g.code = :code LIMIT 1"
            ),
            {"code": world["codes"][0]},
        ).scalar_one()
    client, body = world["client"], {"name": "王楼长", "phone": "13800001111"}
    for user, expected in (("community_other", 403), ("worker2", 403), ("chengguan", 403), ("community", 200)):
        r = client.put(f"/api/buildings/{building}/head", json=body, headers=auth(client, user))
        assert r.status_code == expected, (user, r.text)


@pytest.mark.parametrize(("user", "count"), [("leader", 7), ("community", 7), ("command", 7), ("community_other", 0)])
def test_kpis_count_the_callers_unit_only(world: dict[str, Any], user: str, count: int) -> None:
    r = world["client"].get("/api/kpis", params={"level": "community"}, headers=auth(world["client"], user))
    assert r.status_code == 200 and sum(u["requests"] for u in r.json()["units"]) == count
