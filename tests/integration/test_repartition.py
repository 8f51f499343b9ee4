"""Re-partitioning a draft keeps every grid in its 社区, keeps the codes of grids that barely change, keeps hand
edits, and a draft whose codes leave their 社区 cannot be published."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from gridmap.api.main import create_app
from gridmap.auth.service import create_user
from gridmap.db.cluster import LocalCluster
from gridmap.db.models import Role
from gridmap.db.session import session_scope
from gridmap.ingest.service import import_files
from gridmap.maps.data import coverage_area
from gridmap.partition.codes import community_of
from gridmap.partition.service import partition_db
from gridmap.partition.tiling import measure_tiling
from gridmap.settings import Settings
from tests.conftest import NANJING_OSM, make_database
from tests.edit_rules import EditGraph, edge_move, edit_graph, mergeable

pytestmark = pytest.mark.db
PREFIX = "320102003000"  # the demo's 社区: the 新街口 extract has no 社区 polygons, as in `gridmap demo`


@pytest.fixture(scope="module")
def client(cluster: LocalCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    url = make_database(cluster, "repartition_test")
    engine = create_engine(url)
    settings = Settings(
        home=tmp_path_factory.mktemp("home"), database_url=url, secret_key="test-secret-key-long-enough-for-hs256x"
    )
    with session_scope(engine) as session:
        import_files(session=session, settings=settings, paths=[NANJING_OSM])
        partition_db(session=session, params=settings.partition, publish=True, code_prefix=PREFIX)
        create_user(session=session, username="planner", password="secret", role=Role.planner, weak_password=True)
    with TestClient(create_app(settings, engine=engine)) as c:
        c.headers.update({"Authorization": "Bearer " + _token(c)})
        yield c
    engine.dispose()


def _token(client: TestClient) -> str:
    response = client.post("/api/auth/token", data={"username": "planner", "password": "secret"})
    return str(response.json()["access_token"])


def _assignment(client: TestClient, plan_id: int) -> dict[int, str]:
    features = client.get(f"/api/plans/{plan_id}/buildings").json()["features"]
    return {f["properties"]["building_id"]: f["properties"]["grid_code"] for f in features}


def _households(client: TestClient, plan_id: int) -> dict[int, int]:
    features = client.get(f"/api/plans/{plan_id}/buildings").json()["features"]
    return {f["properties"]["building_id"]: max(f["properties"]["households"], 1) for f in features}


def _published(client: TestClient) -> dict[str, Any]:
    return next(p for p in client.get("/api/plans").json() if p["status"] == "published")


def _draft(client: TestClient) -> int:
    response = client.post("/api/plans/drafts")
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def test_repartition_with_the_same_rules_changes_no_grid(client: TestClient) -> None:
    before = _assignment(client, _published(client)["id"])
    plan = _draft(client)
    response = client.post(f"/api/plans/{plan}/repartition", json={})
    assert response.status_code == 200, response.text
    assert _assignment(client, plan) == before


def test_a_worker_keeps_the_grid_when_the_plan_barely_changes(client: TestClient) -> None:
    engine = client.app.state.engine  # type: ignore[attr-defined]
    published = _published(client)
    code = sorted(set(_assignment(client, published["id"]).values()))[5]
    with session_scope(engine) as session:
        create_user(
            session=session,
            username="keeper",
            password="secret",
            role=Role.grid_worker,
            grids=[code],
            weak_password=True,
        )
    plan = _draft(client)
    assert client.post(f"/api/plans/{plan}/repartition", json={}).status_code == 200
    handover = client.get(f"/api/plans/{plan}/handover").json()
    assert handover["needs_staffing"] == []
    assert client.post(f"/api/plans/{plan}/publish").status_code == 200  # nothing to confirm
    grids = {f["properties"]["grid_code"]: f for f in client.get(f"/api/plans/{plan}/grids").json()["features"]}
    assert code in grids


def test_repartition_keeps_the_community_prefix_and_codes_of_grids_that_barely_change(client: TestClient) -> None:
    published = _published(client)
    before = _assignment(client, published["id"])
    plan = _draft(client)
    response = client.post(f"/api/plans/{plan}/repartition", json={"target": 280, "min": 224, "max": 336})
    assert response.status_code == 200, response.text
    after = _assignment(client, plan)
    assert {c[:12] for c in after.values()} == {PREFIX}
    old_codes, new_codes = set(before.values()), set(after.values())
    households = _households(client, plan)
    kept = new_codes & old_codes
    assert kept, "some grids barely change and keep their codes"
    for code in kept:  # a kept code names mostly the same households as before
        was = {b for b, c in before.items() if c == code}
        now = {b for b, c in after.items() if c == code}
        shared = sum(households[b] for b in was & now)
        assert shared > sum(households[b] for b in was) / 2 and shared > sum(households[b] for b in now) / 2, code
    fresh = sorted(new_codes - old_codes)
    assert all(int(c[12:]) > max(int(o[12:]) for o in old_codes) for c in fresh)  # no old code reused elsewhere
    moved = next(b for b, c in after.items() if before[b] != c)
    request_id, expected = _open_request_at(client, moved, before[moved], plan)
    assert expected != before[moved]
    handover = client.get(f"/api/plans/{plan}/handover").json()
    assert {c["grid_code"] for c in handover["needs_staffing"] if c["reason"] == "new"} == set(fresh)
    assert handover["kept"] == len(kept) - sum(1 for c in handover["needs_staffing"] if c["reason"] == "changed")
    assert handover["requests_moving"] >= 1
    assert client.post(f"/api/plans/{plan}/publish").status_code == 409  # grids need staffing: confirm first
    assert client.post(f"/api/plans/{plan}/publish", json={"confirm": True}).status_code == 200
    engine = client.app.state.engine  # type: ignore[attr-defined]
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT grid_code FROM requests WHERE id = :i"), {"i": request_id}) == expected
        trail = conn.execute(
            text("SELECT data FROM request_events WHERE request_id = :i AND action = 'regrid'"), {"i": request_id}
        ).scalar_one()
    assert trail == {"from_grid": before[moved], "to_grid": expected}


def _open_request_at(client: TestClient, building: int, grid: str, plan: int) -> tuple[int, str]:
    """An open request at a building (filed in its published grid); the draft grid its point lies in."""
    engine = client.app.state.engine  # type: ignore[attr-defined]
    with engine.begin() as conn:
        request_id = conn.execute(
            text(
                "INSERT INTO requests (category, status, grid_code, channel, simulated, photos, report_count, "
                "reopen_count, geom) SELECT 'garbage', 'taken', :grid, 'staff', false, '[]', 1, 0, "
                "ST_PointOnSurface(geom) FROM buildings WHERE id = :b RETURNING id"
            ),
            {"grid": grid, "b": building},
        ).scalar_one()
        expected = conn.execute(
            text(
                "SELECT g.code FROM grids g, requests r WHERE r.id = :r AND g.plan_id = :p "
                "AND ST_Covers(g.geom, r.geom) ORDER BY g.code LIMIT 1"
            ),
            {"r": request_id, "p": plan},
        ).scalar_one()
    return int(request_id), str(expected)


def _edit_graph(client: TestClient, plan: int) -> EditGraph:
    app = client.app
    return edit_graph(app.state.engine, plan, app.state.settings.partition)  # type: ignore[attr-defined]


def _grid_households(client: TestClient, plan: int) -> dict[str, int]:
    features = client.get(f"/api/plans/{plan}/grids").json()["features"]
    return {f["properties"]["grid_code"]: int(f["properties"]["households"]) for f in features}


def _plan_diff(client: TestClient, plan: int) -> tuple[int, int]:
    listed = next(p for p in client.get("/api/plans").json() if p["id"] == plan)
    return listed["changed_buildings"], listed["changed_grids"]


def _merge(client: TestClient, plan: int) -> tuple[str, str]:
    """Merge the draft's smallest mergeable grid into its neighbour (``tests.edit_rules.mergeable``): (gone, grown)."""
    small, into = mergeable(_edit_graph(client, plan), _grid_households(client, plan))
    merged = client.post(f"/api/plans/{plan}/merge", json={"from_grid": small, "into_grid": into})
    assert merged.status_code == 200, merged.text
    return small, into


def test_merge_through_the_api_puts_every_building_of_the_grid_into_its_neighbour(client: TestClient) -> None:
    plan = _draft(client)
    before, totals = _assignment(client, plan), _grid_households(client, plan)
    small, into = mergeable(_edit_graph(client, plan), totals)
    assert community_of(small) == community_of(into) == PREFIX
    merged = client.post(f"/api/plans/{plan}/merge", json={"from_grid": small, "into_grid": into})
    assert merged.status_code == 200, merged.text
    was_small = {b for b, c in before.items() if c == small}
    assert merged.json()["moved"] == len(was_small)
    after = _assignment(client, plan)
    assert {b: c for b, c in after.items() if before[b] != c} == dict.fromkeys(was_small, into)
    now = _grid_households(client, plan)
    assert small not in now and now[into] == totals[small] + totals[into]
    assert {c: n for c, n in now.items() if c != into} == {c: n for c, n in totals.items() if c not in (small, into)}
    assert _plan_diff(client, plan) == (len(was_small), 1)  # those buildings, all now in one grid


def test_hand_edits_survive_a_repartition(client: TestClient) -> None:
    plan = _draft(client)
    _, neighbour = _merge(client, plan)
    edited = _assignment(client, plan)
    response = client.post(f"/api/plans/{plan}/repartition", json={})
    assert response.status_code == 200, response.text
    after = _assignment(client, plan)
    assert {b for b, c in after.items() if c == neighbour} == {b for b, c in edited.items() if c == neighbour}


def test_a_draft_whose_codes_leave_their_community_is_not_published(client: TestClient) -> None:
    plan = _draft(client)
    engine = client.app.state.engine  # type: ignore[attr-defined]
    with engine.begin() as conn:
        conn.execute(text("UPDATE grids SET code = '000000000000' || right(code, 3) WHERE plan_id = :p"), {"p": plan})
    response = client.post(f"/api/plans/{plan}/publish")
    assert response.status_code == 422, response.text
    assert "不属于其社区" in response.json()["detail"] and PREFIX in response.json()["detail"]
    assert client.get(f"/api/plans/{plan}/grids").status_code == 200
    assert next(p for p in client.get("/api/plans").json() if p["id"] == plan)["status"] == "draft"


def test_grids_tile_exactly_before_and_after_a_repartition(client: TestClient) -> None:
    engine = client.app.state.engine  # type: ignore[attr-defined]
    plan = _draft(client)
    band = {"target": 250, "min": 200, "max": 300}
    assert client.post(f"/api/plans/{plan}/repartition", json=band).status_code == 200
    settings: Settings = client.app.state.settings  # type: ignore[attr-defined]
    for plan_id in (_published(client)["id"], plan):
        with Session(engine) as session:
            area = coverage_area(session, settings.partition.study_buffer_m)
            assert area is not None
            tiling = measure_tiling(session, plan_id, bytes(area.wkb))
        assert tiling.overlap_m2 == 0 and tiling.overlapping_pairs == 0, tiling
        assert tiling.gap_m2 == 0, tiling
        assert abs(tiling.grids_m2 - tiling.outline_m2) < 1e-3, tiling
        # the study area the coverage page draws: every point of it in exactly one grid
        assert tiling.stray_points == 0 and tiling.sampled_points == 20_000, tiling
        assert tiling.uncovered_m2 is not None and tiling.uncovered_m2 < 1e-4, tiling
        assert tiling.outside_m2 is not None and tiling.outside_m2 < 1e-4, tiling


def test_move_undo_split_lock_through_the_api(client: TestClient) -> None:
    plan = _draft(client)
    before, totals = _assignment(client, plan), _grid_households(client, plan)
    building, source, target = edge_move(_edit_graph(client, plan))
    assert community_of(source) == community_of(target) == PREFIX
    moved = client.post(f"/api/plans/{plan}/moves", json={"building_ids": [building], "to_grid": target})
    assert moved.status_code == 200, moved.text
    assert moved.json()["moved"] == 1
    after = _assignment(client, plan)
    assert {b: c for b, c in after.items() if before[b] != c} == {building: target}
    households = next(
        f["properties"]["households"]
        for f in client.get(f"/api/plans/{plan}/buildings").json()["features"]
        if f["properties"]["building_id"] == building
    )
    now = _grid_households(client, plan)
    assert (now[source], now[target]) == (totals[source] - households, totals[target] + households)
    assert _plan_diff(client, plan) == (1, 1)

    undone = client.post(f"/api/plans/{plan}/undo")
    assert undone.status_code == 200 and undone.json()["undone"] == "move"
    assert _assignment(client, plan) == before and _grid_households(client, plan) == totals
    assert _plan_diff(client, plan) == (0, 0)
    assert client.post(f"/api/plans/{plan}/undo").status_code == 409  # nothing left to undo

    grids = client.get(f"/api/plans/{plan}/grids").json()["features"]
    big = max(grids, key=lambda f: f["properties"]["n_buildings"])["properties"]
    split = client.post(f"/api/plans/{plan}/grids/{big['grid_code']}/split")
    assert split.status_code == 200, split.text
    new = split.json()["new_grid"]
    assert new[:12] == big["grid_code"][:12] and new not in set(before.values())
    halves = _assignment(client, plan)
    was = {b for b, c in before.items() if c == big["grid_code"]}
    assert {b for b, c in halves.items() if c in (big["grid_code"], new)} == was
    assert {c for b, c in halves.items() if b in was} == {big["grid_code"], new}

    lock = client.put(f"/api/plans/{plan}/grids/{new}/lock", json={"locked": True})
    assert lock.status_code == 200 and lock.json() == {"grid_code": new, "locked": True}
    into_locked = client.post(f"/api/plans/{plan}/moves", json={"building_ids": [building], "to_grid": new})
    assert into_locked.status_code == 409 and "锁定" in into_locked.json()["detail"]


def test_drafts_are_listed_renamed_and_deleted(client: TestClient) -> None:
    plan = _draft(client)
    listed = next(p for p in client.get("/api/plans").json() if p["id"] == plan)
    assert listed["created_by"] == "planner" and listed["base_version"] == _published(client)["version"]
    assert listed["changed_buildings"] == 0 and listed["changed_grids"] == 0
    renamed = client.patch(f"/api/plans/{plan}", json={"name": "鼓楼片区调整"})
    assert renamed.status_code == 200 and renamed.json()["name"] == "鼓楼片区调整"
    assert client.delete(f"/api/plans/{plan}").status_code == 204
    assert plan not in {p["id"] for p in client.get("/api/plans").json()}
    published = _published(client)["id"]
    assert client.delete(f"/api/plans/{published}").status_code == 409  # the plan in force stays
