"""Patrols on real PostGIS: idempotent uploads, coverage of a walked 新街口 street, scope, logged reveals, purge."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from gridmap.api.main import create_app
from gridmap.auth.service import create_user
from gridmap.db.cluster import LocalCluster
from gridmap.db.models import Role
from gridmap.db.session import session_scope
from gridmap.fieldwork.patrols import purge
from gridmap.ingest.service import import_files
from gridmap.partition.service import partition_db
from gridmap.settings import Settings
from tests.conftest import NANJING_OSM, make_database
from tests.walks import street_walk, timed

pytestmark = pytest.mark.db
PREFIX = "320102003000"
NOW = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
USERS = {
    "w1": (Role.grid_worker, None),
    "w2": (Role.grid_worker, None),
    "leader": (Role.leader, None),
    "community": (Role.community, PREFIX),
    "community_other": (Role.community, "320102003001"),
}


@pytest.fixture(scope="module")
def world(cluster: LocalCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    url = make_database(cluster, "fieldwork_test")
    engine = create_engine(url)
    settings = Settings(
        home=tmp_path_factory.mktemp("home"), database_url=url, secret_key="fieldwork-test-secret-key-xx"
    )
    with session_scope(engine) as session:
        import_files(session=session, settings=settings, paths=[NANJING_OSM])
        partition_db(session=session, params=settings.partition, publish=True, code_prefix=PREFIX)
        codes = list(session.scalars(text("SELECT code FROM grids ORDER BY n_buildings DESC, code")).all())
        for name, (role, unit) in USERS.items():
            grids = {"w1": [codes[0]], "w2": [codes[1]]}.get(name)
            create_user(
                session=session,
                username=name,
                password="secret",
                role=role,
                grids=grids,
                unit_code=unit,
                weak_password=True,
            )
        walk = street_walk(session, codes[0])
    app = create_app(settings, engine=engine, clock=lambda: NOW)
    with TestClient(app) as client:
        tokens = {}
        for name in USERS:
            body = client.post("/api/auth/token", data={"username": name, "password": "secret"}).json()
            tokens[name] = {"Authorization": f"Bearer {body['access_token']}"}
        yield {"client": client, "engine": engine, "codes": codes, "walk": walk, "auth": tokens}
    engine.dispose()


def _walk_patrol(world: dict[str, Any], key: str, start: datetime, seconds: float = 10.0) -> dict[str, Any]:
    _, _, points = world["walk"]
    positions = timed(points, start, seconds)
    half = len(positions) // 2
    c, auth = world["client"], world["auth"]["w1"]
    first = c.put(
        f"/api/patrols/{key}", json={"started_at": start.isoformat(), "points": positions[:half]}, headers=auth
    )
    assert first.status_code == 200, first.text
    end = start + timedelta(seconds=seconds * len(positions))
    body = {"started_at": start.isoformat(), "ended_at": end.isoformat(), "points": positions}  # resent: all of them
    done = c.put(f"/api/patrols/{key}", json=body, headers=auth)
    assert done.status_code == 200, done.text
    return dict(done.json())


def test_resent_positions_are_stored_once(world: dict[str, Any]) -> None:
    patrol = _walk_patrol(world, "patrol-once-0001", NOW - timedelta(hours=3))
    assert patrol["properties"]["n_points"] == len(world["walk"][2])


def test_walking_a_street_covers_it_and_its_buildings(world: dict[str, Any]) -> None:
    name, metres, points = world["walk"]
    props = _walk_patrol(world, "patrol-cover-0001", NOW - timedelta(hours=2))["properties"]
    print(f"walked {name}: {metres:.0f} m, {len(points)} points; props {props}")  # noqa: T201
    assert props["grid_code"] == world["codes"][0]
    assert abs(props["length_m"] - metres) < 0.05 * metres
    assert 0 < props["street_share"] < 1 and 0 < props["building_share"] < 1


def test_a_patrol_shorter_than_the_minimum_is_flagged(world: dict[str, Any]) -> None:
    props = _walk_patrol(world, "patrol-short-0001", NOW - timedelta(hours=1), seconds=2.0)["properties"]
    assert props["short"] is True


def test_the_list_is_scoped_like_requests(world: dict[str, Any]) -> None:
    _walk_patrol(world, "patrol-scope-0001", NOW - timedelta(hours=4))
    c, auth = world["client"], world["auth"]
    seen = {
        who: len(c.get("/api/patrols", headers=auth[who]).json()["features"])
        for who in ("w1", "w2", "community", "community_other", "leader")
    }
    assert seen["w2"] == 0 and seen["community_other"] == 0 and seen["w1"] == seen["community"] == seen["leader"] > 0


def test_another_persons_track_is_shown_only_with_a_reason_and_logged(world: dict[str, Any]) -> None:
    pid = _walk_patrol(world, "patrol-view-0001", NOW - timedelta(hours=5))["id"]
    c, auth = world["client"], world["auth"]["community"]
    refused = c.get(f"/api/patrols/{pid}/track", headers=auth)
    shown = c.get(f"/api/patrols/{pid}/track", params={"reason": "核查巡查覆盖"}, headers=auth)
    with world["engine"].connect() as conn:
        log = conn.execute(text("SELECT viewer, reason FROM track_views WHERE patrol_id = :p"), {"p": pid}).all()
    assert (refused.status_code, shown.status_code, [tuple(r) for r in log]) == (
        422,
        200,
        [("community", "核查巡查覆盖")],
    )


def test_the_list_hides_other_peoples_tracks_without_a_reason(world: dict[str, Any]) -> None:
    _walk_patrol(world, "patrol-hide-0001", NOW - timedelta(hours=6))
    features = world["client"].get("/api/patrols", headers=world["auth"]["leader"]).json()["features"]
    assert all(f["geometry"] is None for f in features)


def test_a_patrol_of_another_worker_key_is_refused(world: dict[str, Any]) -> None:
    _walk_patrol(world, "patrol-owner-0001", NOW - timedelta(hours=7))
    body = {"started_at": (NOW - timedelta(hours=7)).isoformat(), "points": []}
    r = world["client"].put("/api/patrols/patrol-owner-0001", json=body, headers=world["auth"]["w2"])
    assert r.status_code == 403


def test_bad_uploads_are_refused_with_a_message(world: dict[str, Any]) -> None:
    c, auth = world["client"], world["auth"]["w1"]
    old = {"started_at": (NOW - timedelta(days=400)).isoformat(), "points": []}
    backwards = {"started_at": NOW.isoformat(), "ended_at": (NOW - timedelta(hours=1)).isoformat()}
    naive = {"started_at": "2026-05-04T08:00:00", "points": []}
    codes = [
        c.put(f"/api/patrols/patrol-bad-000{i}", json=b, headers=auth).status_code
        for i, b in enumerate((old, backwards, naive))
    ]
    assert codes == [422, 422, 422]


def test_purge_deletes_old_positions_and_keeps_the_summary(world: dict[str, Any]) -> None:
    pid = _walk_patrol(world, "patrol-purge-0001", NOW - timedelta(hours=8))["id"]
    with session_scope(world["engine"]) as session:
        result = purge(session, now=NOW + timedelta(days=181), retention_days=180)
    with world["engine"].connect() as conn:
        left = conn.execute(text("SELECT count(*) FROM patrol_points WHERE patrol_id = :p"), {"p": pid}).scalar()
        row = conn.execute(text("SELECT track IS NULL, length_m > 0 FROM patrols WHERE id = :p"), {"p": pid}).one()
    assert (result.patrols > 0, left, tuple(row)) == (True, 0, (True, True))


def _building(world: dict[str, Any], grid: str) -> int:
    with world["engine"].connect() as conn:
        return int(
            conn.execute(
                text(
                    "SELECT b.id FROM buildings b JOIN grid_assignments a ON a.building_id = b.id "
                    "JOIN grids g ON g.id = a.grid_id WHERE g.code = :g AND b.is_residential ORDER BY b.id LIMIT 1"
                ),
                {"g": grid},
            ).scalar_one()
        )


def _visit(world: dict[str, Any], key: str, **extra: Any) -> dict[str, Any]:
    body = {"key": key, "building_id": _building(world, world["codes"][0]), "visited_on": "2026-05-04"} | extra
    r = world["client"].post("/api/visits", json=body, headers=world["auth"]["w1"])
    assert r.status_code in (200, 201), r.text  # 200: a resend of a key already stored
    return dict(r.json())


def test_a_visit_is_stored_once_per_key(world: dict[str, Any]) -> None:
    first = _visit(world, "visit-once-0001", kind="hardship", unit="2", room="301", note="低保户，屋顶漏水")
    again = _visit(world, "visit-once-0001", kind="hardship", unit="2", room="301", note="低保户，屋顶漏水")
    assert again["id"] == first["id"]


def test_a_visit_outside_ones_grids_is_refused(world: dict[str, Any]) -> None:
    body = {"key": "visit-other-0001", "building_id": _building(world, world["codes"][1]), "visited_on": "2026-05-04"}
    assert world["client"].post("/api/visits", json=body, headers=world["auth"]["w1"]).status_code == 403


def test_a_visit_turns_into_a_request_once(world: dict[str, Any]) -> None:
    vid = _visit(world, "visit-req-0001", note="楼道堆放杂物")["id"]
    c, auth = world["client"], world["auth"]["w1"]
    first = c.post(f"/api/visits/{vid}/request", json={"category": "blocked_lane"}, headers=auth).json()
    again = c.post(f"/api/visits/{vid}/request", json={"category": "blocked_lane"}, headers=auth).json()
    req = c.get(f"/api/requests/{first['request_id']}", headers=auth).json()
    assert (again["request_id"], req["description"], req["grid_code"]) == (
        first["request_id"],
        "楼道堆放杂物",
        world["codes"][0],
    )


def test_the_visit_map_colours_the_visited_building(world: dict[str, Any]) -> None:
    _visit(world, "visit-map-0001")
    html = world["client"].get("/maps/visits", headers=world["auth"]["w1"]).text
    assert "#81c995" in html or "#188038" in html


def test_the_suggested_route_orders_overdue_buildings_by_walking(world: dict[str, Any]) -> None:
    route = world["client"].get("/api/visits/route", headers=world["auth"]["w1"]).json()
    print(f"route: {len(route['stops'])} stops, {route['walking_m']} m")  # noqa: T201
    assert len(route["stops"]) > 1 and route["walking_m"] > 0


def test_the_patrol_map_shows_a_track_and_logs_the_view(world: dict[str, Any]) -> None:
    pid = _walk_patrol(world, "patrol-map-0001", NOW - timedelta(hours=9))["id"]
    r = world["client"].get("/maps/patrols", params={"track": pid}, headers=world["auth"]["leader"])
    with world["engine"].connect() as conn:
        viewers = conn.execute(text("SELECT viewer FROM track_views WHERE patrol_id = :p"), {"p": pid}).scalars().all()
    assert (r.status_code, list(viewers)) == (200, ["leader"])


def test_five_ones_count_patrol_days_minutes_and_visits_per_worker(world: dict[str, Any]) -> None:
    _walk_patrol(world, "patrol-kpi-0001", NOW - timedelta(days=2, hours=1), seconds=40.0)
    _walk_patrol(world, "patrol-kpi-0002", NOW - timedelta(days=1, hours=1), seconds=40.0)
    _visit(world, "visit-kpi-0001", kind="key_place")
    body = (
        world["client"]
        .get("/api/kpis/fieldwork", params={"level": "worker", "days": 7}, headers=world["auth"]["leader"])
        .json()
    )
    w1 = next(u for u in body["units"] if u["unit"] == "w1")
    print(f"五个一 w1: {w1}")  # noqa: T201
    assert (
        w1["patrol_days"] >= 2,
        w1["patrol_minutes"] > 0,
        w1["visits_by_kind"]["key_place"],
        w1["visit_share"] > 0,
    ) == (
        True,
        True,
        1,
        True,
    )


def test_the_kpi_csv_carries_the_five_ones_columns(world: dict[str, Any]) -> None:
    csv = (
        world["client"]
        .get("/api/kpis", params={"level": "grid", "format": "csv"}, headers=world["auth"]["community"])
        .text
    )
    header = csv.lstrip("\ufeff").splitlines()[0].split(",")
    row = next(line for line in csv.splitlines() if line.startswith(f"grid,{world['codes'][0]}"))
    assert {"patrol_days", "patrol_minutes", "visits_key_place", "visit_share"} <= set(header) and row


def test_reports_made_during_a_patrol_are_linked_to_it(world: dict[str, Any]) -> None:
    c, auth = world["client"], world["auth"]["w1"]
    _, _, points = world["walk"]
    lon, lat = points[0]
    made = c.post(
        "/api/requests",
        json={"category": "garbage", "description": "巡查中发现垃圾堆放", "lon": lon, "lat": lat},
        headers=auth | {"Idempotency-Key": "report-during-patrol-1"},
    ).json()
    start = NOW - timedelta(hours=10)
    body = {"started_at": start.isoformat(), "ended_at": NOW.isoformat(), "points": timed(points, start, 60.0)}
    patrol = c.put(
        "/api/patrols/patrol-link-0001", json=body | {"report_keys": ["report-during-patrol-1"]}, headers=auth
    ).json()
    assert patrol["properties"]["request_ids"] == [made["id"]]


def test_the_purge_command_runs_from_cron(world: dict[str, Any], tmp_path: Path) -> None:
    env = {
        **os.environ,
        "GRIDMAP_HOME": str(tmp_path / "home"),
        "GRIDMAP_DATABASE_URL": str(world["engine"].url.render_as_string(hide_password=False)),
    }
    done = subprocess.run(
        [sys.executable, "-m", "gridmap.cli", "patrols", "purge", "--days", "1"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert (done.returncode, "purged tracks of" in done.stdout) == (0, True)


def test_the_patrol_map_lists_the_days_patrols_with_a_link_to_each_track(world: dict[str, Any]) -> None:
    pid = _walk_patrol(world, "patrol-list-0001", NOW - timedelta(hours=1, minutes=30))["id"]
    html = world["client"].get("/maps/patrols", headers=world["auth"]["community"]).text
    assert f"track={pid}" in html


def test_odd_positions_make_no_server_error(world: dict[str, Any]) -> None:
    c, auth = world["client"], world["auth"]["w1"]
    start = NOW - timedelta(hours=11)
    same = [{"t": (start + timedelta(seconds=i)).isoformat(), "lon": 118.78, "lat": 32.04} for i in range(3)]
    pole = [{"t": (start + timedelta(seconds=i)).isoformat(), "lon": 180.0, "lat": 90.0 - i} for i in range(3)]
    twice = [same[0], same[0]]
    codes = [
        c.put(
            f"/api/patrols/patrol-odd-000{i}", json={"started_at": start.isoformat(), "points": p}, headers=auth
        ).status_code
        for i, p in enumerate((same, pole, twice))
    ]
    assert codes == [200, 200, 200]


def _keyed_visit(world: dict[str, Any], key: str, **extra: Any) -> Any:
    body = {"building_id": _building(world, world["codes"][0])} | extra
    return world["client"].post("/api/visits", json=body, headers=world["auth"]["w1"] | {"Idempotency-Key": key})


def _visits_with_key(world: dict[str, Any], key: str) -> int:
    with world["engine"].connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM visits WHERE client_key = :k"), {"k": key}).scalar_one())


def test_the_same_idempotency_key_twice_stores_one_visit_and_returns_it(world: dict[str, Any]) -> None:
    made = (NOW - timedelta(hours=5)).isoformat()
    first = _keyed_visit(world, "visit-offline-0001", made_at=made, note="离线记录：楼道灯坏了")
    again = _keyed_visit(world, "visit-offline-0001", made_at=made, note="离线记录：楼道灯坏了")
    stored = _visits_with_key(world, "visit-offline-0001")
    assert (first.status_code, again.status_code, again.json()["id"], stored) == (201, 200, first.json()["id"], 1)


def test_a_visit_kept_offline_keeps_the_day_it_was_made_on_the_phone(world: dict[str, Any]) -> None:
    made = datetime(2026, 5, 1, 17, 30, tzinfo=UTC)  # 2026-05-02 01:30 in 南京
    body = _keyed_visit(world, "visit-offline-0002", made_at=made.isoformat()).json()
    assert (body["visited_on"], body["made_at"]) == ("2026-05-02", "2026-05-01T17:30:00Z")


def test_a_key_reused_for_another_visit_is_a_conflict(world: dict[str, Any]) -> None:
    made = (NOW - timedelta(hours=1)).isoformat()
    _keyed_visit(world, "visit-offline-0003", made_at=made, note="第一次")
    other = _keyed_visit(world, "visit-offline-0003", made_at=made, note="另一条")
    assert other.status_code == 409


@pytest.mark.parametrize(
    ("key", "made_at"),
    [("visit-stale-0001", NOW - timedelta(days=8)), ("visit-future-0001", NOW + timedelta(minutes=30))],
)
def test_a_phone_time_too_old_or_in_the_future_is_refused_in_chinese(
    world: dict[str, Any], key: str, made_at: datetime
) -> None:
    answer = _keyed_visit(world, key, made_at=made_at.isoformat())
    assert (answer.status_code, "走访时间" in answer.json()["detail"], _visits_with_key(world, key)) == (422, True, 0)


def test_a_visit_day_long_before_its_phone_time_is_refused(world: dict[str, Any]) -> None:
    answer = _keyed_visit(world, "visit-old-day-0001", made_at=NOW.isoformat(), visited_on="0001-01-01")
    assert (answer.status_code, _visits_with_key(world, "visit-old-day-0001")) == (422, 0)
