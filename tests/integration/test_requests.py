"""The requests workflow driven through the API as each role, on the 新街口 data with a controllable clock."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import count
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, func, select, text

from gridmap.api.main import create_app
from gridmap.auth.service import create_user
from gridmap.db.cluster import LocalCluster
from gridmap.db.models import Role, ServiceRequest
from gridmap.db.session import session_scope
from gridmap.ingest.service import import_files
from gridmap.partition.service import partition_db
from gridmap.settings import RequestSettings, Settings
from gridmap.spatial.crs import from_wgs84_lonlat
from tests.bombs import png_bomb
from tests.conftest import NANJING_OSM, make_database, resident_link

pytestmark = pytest.mark.db
_days = count()


class Clock:
    """A clock the test moves; each test starts on a day of its own so duplicates never span tests."""

    def __init__(self) -> None:
        self.now = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(scope="module")
def world(cluster: LocalCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    url = make_database(cluster, "requests_test")
    engine = create_engine(url)
    settings = Settings(
        home=tmp_path_factory.mktemp("home"),
        database_url=url,
        secret_key="test-secret-key-that-is-long-enough-for-hs256",
        requests=RequestSettings(public_rate="5/minute"),
    )
    with session_scope(engine) as session:
        import_files(session=session, settings=settings, paths=[NANJING_OSM])
        partition_db(session=session, params=settings.partition, publish=True)
        codes = session.scalars(text("SELECT code FROM grids ORDER BY code")).all()
        users = [
            ("worker1", Role.grid_worker, None, [codes[0]], None),
            ("worker2", Role.grid_worker, None, [codes[1]], None),
            ("community", Role.community, None, None, codes[0][:12]),  # the 社区 of the first grids
            ("command", Role.command, None, None, codes[0][:9]),  # their 街道
            ("sanitation", Role.department, "环卫所", None, None),
            ("chengguan", Role.department, "城管执法中队", None, None),
            ("leader", Role.leader, None, None, None),
        ]
        for name, role, dept, grids, unit in users:
            create_user(
                session=session, username=name, password="secret", role=role, department=dept, grids=grids,
                unit_code=unit,
                weak_password=True,
            )
        spots = session.execute(
            text(
                "SELECT code, ST_X(p), ST_Y(p) FROM (SELECT code, ST_PointOnSurface(geom) p FROM grids) g ORDER BY code"
            )
        ).all()
    yield {"engine": engine, "settings": settings, "codes": codes, "spots": {c: (x, y) for c, x, y in spots}}
    engine.dispose()


@pytest.fixture
def clock() -> Clock:
    c = Clock()
    c.now += timedelta(days=next(_days) * 3)
    return c


@pytest.fixture
def client(world: dict[str, Any], clock: Clock) -> Iterator[TestClient]:
    app = create_app(world["settings"], engine=world["engine"], clock=clock)
    with TestClient(app) as c:
        yield c


_tokens: dict[str, dict[str, str]] = {}


def auth(client: TestClient, user: str) -> dict[str, str]:
    if user not in _tokens:
        body = client.post("/api/auth/token", data={"username": user, "password": "secret"}).json()
        _tokens[user] = {"Authorization": f"Bearer {body['access_token']}"}
    return _tokens[user]


def rows(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(ServiceRequest)) or 0)


def report(client: TestClient, world: dict[str, Any], grid: int = 0, **extra: Any) -> dict[str, Any]:
    lon, lat = world["spots"][world["codes"][grid]]
    body = {"category": "garbage", "description": "楼下垃圾堆了三天", "lon": lon, "lat": lat} | extra
    response = client.post("/api/requests", json=body, headers=auth(client, "worker1"))
    assert response.status_code == 201, response.text
    return dict(response.json())


def do(client: TestClient, rid: int, user: str, action: str, expect: int = 200, **body: Any) -> dict[str, Any]:
    response = client.post(f"/api/requests/{rid}/actions", json={"action": action} | body, headers=auth(client, user))
    assert response.status_code == expect, response.text
    return dict(response.json())


def test_five_orders_through_every_role(client: TestClient, world: dict[str, Any], clock: Clock) -> None:
    req = report(client, world, reporter_name="王女士", reporter_phone="13812345678")
    rid = req["id"]
    assert req["status"] == "reported" and req["grid_code"] == world["codes"][0] and req["department"] == "环卫所"
    do(client, rid, "worker2", "take", expect=403)  # not worker2's grid
    clock.now += timedelta(minutes=12)
    do(client, rid, "worker1", "take")
    do(client, rid, "worker1", "escalate")
    do(client, rid, "community", "triage", size="big")
    do(client, rid, "leader", "dispatch", expect=403)
    do(client, rid, "command", "dispatch", department="环卫所")
    do(client, rid, "chengguan", "accept", expect=403)  # not its case
    do(client, rid, "sanitation", "return", expect=422)  # a return needs a reason
    do(client, rid, "sanitation", "return", reason="不属于本所职责")
    do(client, rid, "command", "dispatch", department="环卫所")
    seen = client.get(f"/api/requests/{rid}", headers=auth(client, "sanitation")).json()
    assert seen["reporter_phone"] == "138****5678" and seen["actions"] == ["accept", "return"]
    do(client, rid, "sanitation", "accept")
    clock.now += timedelta(hours=5)
    do(client, rid, "sanitation", "resolve")
    do(client, rid, "worker1", "reject", expect=422)  # a failed check needs a reason
    back = do(client, rid, "worker1", "reject", reason="垃圾仍未清运")
    assert back["status"] == "accepted" and back["resolved_at"] is None
    do(client, rid, "sanitation", "resolve")
    do(client, rid, "worker1", "verify")
    token = resident_link(world["engine"], rid)  # the link a resident holds (the database keeps its digest only)
    rated = client.post(f"/open311/v2/requests/{rid}/rating.json", data={"token": token, "stars": "2"})
    assert rated.json()[0]["status"] == "reopened"
    assert client.post(f"/open311/v2/requests/{rid}/rating.json", data={"token": "x", "stars": "5"}).status_code == 404
    do(client, rid, "worker1", "take")
    do(client, rid, "worker1", "resolve")
    do(client, rid, "community", "verify")
    final = do(client, rid, "community", "callback", stars=5, reason="居民电话确认已清运")
    assert final["status"] == "closed" and final["reopen_count"] == 1 and final["rating"] == 5
    assert final["rating_source"] == "callback"
    trail = [(e["action"], e["actor"], e["to"]) for e in final["events"]]
    assert trail[0] == ("report", "worker1", "reported")
    assert ("return", "sanitation", "returned") in trail and ("rate", "public", "reopened") in trail
    assert trail[-1] == ("callback", "community", "closed") and len(trail) == 17
    assert final["events"][5]["reason"] == "不属于本所职责"
    assert not final["sla"]["respond"]["overdue"] and final["sla"]["respond"]["done_at"]


def test_idempotency_key_returns_the_first_result(client: TestClient, world: dict[str, Any]) -> None:
    lon, lat = world["spots"][world["codes"][2]]
    body = {"category": "noise", "lon": lon, "lat": lat}
    headers = auth(client, "worker1") | {"Idempotency-Key": "retry-me-1"}
    before = rows(world["engine"])
    first = client.post("/api/requests", json=body, headers=headers)
    again = client.post("/api/requests", json=body, headers=headers)
    assert (first.status_code, again.status_code) == (201, 200) and first.json()["id"] == again.json()["id"]
    assert rows(world["engine"]) == before + 1
    changed = client.post("/api/requests", json=body | {"description": "x"}, headers=headers)
    assert changed.status_code == 409 and "Idempotency-Key" in changed.json()["detail"]


def test_duplicates_nearby_are_merged(client: TestClient, world: dict[str, Any], clock: Clock) -> None:
    first = report(client, world, grid=3, category="illegal_parking")
    lon, lat = first["lon"] + 0.0002, first["lat"]  # ~19 m east
    clock.now += timedelta(hours=2)
    second = report(client, world, grid=3, category="illegal_parking", lon=lon, lat=lat)
    assert second["status"] == "merged" and second["duplicate_of"] == first["id"]
    other = report(client, world, grid=3, category="garbage", lon=lon, lat=lat)
    assert other["status"] == "reported"
    original = client.get(f"/api/requests/{first['id']}", headers=auth(client, "leader")).json()
    assert original["report_count"] == 2


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"category": "garbage"}, "no location"),
        ({"category": "nonsense", "lon": 118.78, "lat": 32.04}, "blocked_lane"),
        ({"category": "garbage", "lon": 200, "lat": 32.04}, "less than or equal to 180"),
        ({"category": "garbage", "address": "火星市奥林匹斯山1号"}, "address not found"),
        ({"category": "garbage", "lon": 116.40, "lat": 39.90}, "outside_coverage"),
        ({"category": "garbage", "lon": 118.78, "lat": 32.04, "extra": 1}, "extra"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_stored(
    client: TestClient, world: dict[str, Any], body: dict[str, Any], needle: str
) -> None:
    before = rows(world["engine"])
    response = client.post("/api/requests", json=body, headers=auth(client, "worker1"))
    assert response.status_code == 422 and needle in response.text, response.text
    assert rows(world["engine"]) == before


def test_outside_coverage_names_the_nearest_grid(client: TestClient, world: dict[str, Any]) -> None:
    response = client.post(
        "/api/requests", json={"category": "garbage", "lon": 118.70, "lat": 32.04}, headers=auth(client, "worker1")
    )
    assert "nearest grid 000000000000" in response.json()["detail"] and " m away" in response.json()["detail"]
    with world["engine"].connect() as conn:  # just outside the tiling: the nearest grid takes it, and says so
        lon, lat = conn.execute(
            text(
                "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_Project(ST_StartPoint(ST_ExteriorRing(ST_ConvexHull("
                "ST_Collect(geom))))::geography, 40, radians(270))::geometry p FROM grids) q"
            )
        ).one()
    near = report(client, world, category="noise", lon=lon, lat=lat)
    assert near["match_level"] == "point;nearest_grid" and near["grid_code"] in world["codes"]


def test_a_point_outside_the_grids_runs_the_intake_statement_once_more_not_twice(
    client: TestClient, world: dict[str, Any]
) -> None:
    """The event-loop path says the point is outside; the general path snaps it without asking that again."""
    from sqlalchemy import event

    report(client, world, category="vegetable_plots")  # the category is now cached: the next report tries the fast path
    with world["engine"].connect() as conn:
        lon, lat = conn.execute(
            text(
                "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_Project(ST_StartPoint(ST_ExteriorRing(ST_ConvexHull("
                "ST_Collect(geom))))::geography, 40, radians(270))::geometry p FROM grids) q"
            )
        ).one()
    general: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.startswith("EXECUTE gridmap_intake"):
            general.append(statement)

    event.listen(world["engine"], "before_cursor_execute", seen)
    try:
        near = report(client, world, category="vegetable_plots", lon=lon, lat=lat)
    finally:
        event.remove(world["engine"], "before_cursor_execute", seen)
    assert (near["match_level"], len(general)) == ("point;nearest_grid", 1)


def test_address_text_is_geocoded_to_a_building_and_grid(client: TestClient, world: dict[str, Any]) -> None:
    with world["engine"].connect() as conn:
        name = conn.scalar(text("SELECT name FROM buildings WHERE name LIKE '%大厦' ORDER BY id LIMIT 1"))
    made = report(client, world, category="facade_falling", lon=None, lat=None, address=f"江苏省南京市{name}")
    assert made["match_level"].split(";")[0] in {"exact", "structured", "fuzzy"} and made["grid_code"] in world["codes"]
    seen = client.get(f"/api/requests/{made['id']}", headers=auth(client, "community")).json()
    with world["engine"].connect() as conn:
        building = conn.execute(
            text(
                "SELECT b.name, b.addr_street FROM requests r JOIN buildings b ON b.id = r.building_id WHERE r.id = :i"
            ),
            {"i": made["id"]},
        ).one()
    assert (building.addr_street or building.name) in seen["place_name"]  # the page names the 楼栋, not a point


def test_gcj02_points_are_converted(client: TestClient, world: dict[str, Any]) -> None:
    lon, lat = world["spots"][world["codes"][5]]
    glon, glat = from_wgs84_lonlat(lon, lat, "gcj02")
    made = report(client, world, grid=5, category="pets", lon=glon, lat=glat, coord_sys="gcj02")
    assert abs(made["lon"] - lon) < 1e-5 and abs(made["lat"] - lat) < 1e-5
    assert made["grid_code"] == world["codes"][5]


def test_overdue_follows_the_injected_clock(client: TestClient, world: dict[str, Any], clock: Clock) -> None:
    made = report(client, world, grid=6, category="thrown_from_height")
    clock.now += timedelta(minutes=31)
    late = client.get(f"/api/requests/{made['id']}", headers=auth(client, "leader")).json()
    assert late["sla"]["respond"]["overdue"] and late["sla"]["escalation"] == "community"
    listed = client.get(
        "/api/requests", params={"overdue": "true", "category": "thrown_from_height"}, headers=auth(client, "leader")
    )
    assert made["id"] in [r["id"] for r in listed.json()["items"]]


def test_grid_workers_list_only_their_grids(client: TestClient, world: dict[str, Any]) -> None:
    report(client, world, grid=1, category="stairwell_clutter")
    mine = client.get("/api/requests", headers=auth(client, "worker2")).json()["items"]
    assert mine and {r["grid_code"] for r in mine} == {world["codes"][1]}


def test_open311_intake_and_public_view(client: TestClient, world: dict[str, Any]) -> None:
    services = client.get("/open311/v2/services.json").json()
    assert {"service_code": "blocked_lane"}.items() <= next(
        s for s in services if s["service_code"] == "blocked_lane"
    ).items()
    lon, lat = world["spots"][world["codes"][7]]
    form = {
        "service_code": "blocked_lane",
        "lat": str(lat),
        "long": str(lon),
        "description": "巷口被三轮车堵死",
        "phone": "13900001111",
        "first_name": "李",
    }
    created = client.post("/open311/v2/requests.json", data=form, headers={"Idempotency-Key": "o311-1"})
    assert created.status_code == 201, created.text
    rid = created.json()[0]["service_request_id"]
    public = client.get(f"/open311/v2/requests/{rid}.json").json()[0]
    assert public["status"] == "open" and public["service_code"] == "blocked_lane" and "phone" not in str(public)
    bad = client.post("/open311/v2/requests.json", data=form | {"lat": "north"})
    assert bad.status_code == 400 and "malformed body" in bad.json()[0]["description"]
    huge = client.post("/open311/v2/requests.json", data=form | {"description": "堵" * 40_000})
    assert huge.status_code == 413


def test_open311_is_rate_limited(client: TestClient, world: dict[str, Any]) -> None:
    codes = [client.post("/open311/v2/requests.json", data={"service_code": "garbage"}).status_code for _ in range(8)]
    assert 429 in codes and codes[-1] == 429
    assert client.get("/open311/v2/services.json").status_code == 200  # reading is not limited


def test_kpis_json_and_csv(client: TestClient, world: dict[str, Any], clock: Clock) -> None:
    made = report(client, world, grid=8, category="garbage")
    do(client, made["id"], "community", "take")
    do(client, made["id"], "community", "resolve")
    params = {"level": "community", "since": (clock.now - timedelta(hours=1)).isoformat()}
    body = client.get("/api/kpis", params=params, headers=auth(client, "leader")).json()
    unit = body["units"][0]
    assert unit["unit"] == world["codes"][8][:12] and unit["requests"] == 1
    assert unit["unit_name"].endswith(f" {world['codes'][8][9:12]}社区")  # by name, as people call it
    assert unit["resolution_rate"] == {"value": 1.0, "numerator": 1, "denominator": 1}
    csv = client.get("/api/kpis", params=params | {"format": "csv"}, headers=auth(client, "command"))
    assert csv.headers["content-type"].startswith("text/csv") and "satisfaction_rate" in csv.text
    assert client.get("/api/kpis", headers=auth(client, "worker1")).status_code == 403


def test_simulation_is_realistic_and_repeatable(world: dict[str, Any]) -> None:
    from gridmap.requests.simulate import simulate_requests

    end = datetime(2025, 1, 1, tzinfo=UTC)

    def run() -> list[tuple[Any, ...]]:
        with session_scope(world["engine"]) as session:
            result = simulate_requests(
                session, days=5, end=end, settings=world["settings"].requests, per_day=30, seed=3
            )
            assert result.requests > 100 and len(result.lanes) == 3
        with world["engine"].connect() as conn:
            return list(
                conn.execute(
                    text(
                        "SELECT category, status, grid_code, created_at, rating FROM requests "
                        "WHERE simulated ORDER BY id"
                    )
                ).all()
            )

    first, second = run(), run()
    assert [r[1:] for r in first] == [r[1:] for r in second]  # same seed, same requests (ids differ)
    categories = {r[0] for r in first}
    assert {"blocked_lane", "garbage", "illegal_parking"} <= categories
    assert all(r[3] < end for r in first) and any(r[1] != "closed" for r in first)
    with world["engine"].connect() as conn:
        bad = conn.scalar(
            text(
                "SELECT count(*) FROM requests r WHERE simulated AND status <> (SELECT to_status FROM request_events e "
                "WHERE e.request_id = r.id ORDER BY at DESC, id DESC LIMIT 1)"
            )
        )
        night = conn.scalar(
            text(
                "SELECT avg((extract(hour FROM created_at AT TIME ZONE 'Asia/Shanghai') BETWEEN 2 AND 4)::int) "
                "FROM requests WHERE simulated"
            )
        )
    assert bad == 0  # the audit trail ends where the request is
    assert night < 0.05  # few reports in the small hours


def test_building_heads_are_kept_by_the_grid_worker(client: TestClient, world: dict[str, Any]) -> None:
    with world["engine"].connect() as conn:
        building = conn.execute(
            text(
                "SELECT a.building_id FROM grid_assignments a JOIN grids g ON g.id = a.grid_id "
                "WHERE g.code = :code LIMIT 1"
            ),
            {"code": world["codes"][0]},
        ).scalar_one()
    body = {"name": "张师傅", "phone": "13700000000"}
    assert client.put(f"/api/buildings/{building}/head", json=body, headers=auth(client, "worker2")).status_code == 403
    done = client.put(f"/api/buildings/{building}/head", json=body, headers=auth(client, "worker1"))
    assert done.status_code == 200 and done.json()["head_name"] == "张师傅"
    with session_scope(world["engine"]) as session:
        from gridmap.maps.data import plan_buildings

        plan = session.execute(text("SELECT id FROM grid_plans WHERE status = 'published'")).scalar_one()
        heads = plan_buildings(session, plan, [world["codes"][0]]).set_index("building_id")["head"]
    assert heads[building] == "张师傅"  # the 楼长 record by name: its phone is sealed personal data (0012)


def test_event_loop_intake_stores_what_the_general_path_would(world: dict[str, Any], clock: Clock) -> None:
    """``fast_intake.submit_point`` (asyncpg, no ORM) stores a point report exactly like ``service.submit``."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    from gridmap.requests.categories import cached_category
    from gridmap.requests.fast_intake import open_pool, submit_point
    from gridmap.requests.intake import Declined
    from gridmap.requests.schemas import NewRequest
    from gridmap.requests.service import Actor, submit

    engine = world["engine"]
    code = world["codes"][3]
    lon, lat = world["spots"][code]
    settings = world["settings"].requests
    actor = Actor(None, "tester", "community")
    with session_scope(engine) as session:
        cat = cached_category(session, "noise")
        assert cat is not None
        general, created = submit(
            session,
            NewRequest(category="noise", description="general path", lon=lon, lat=lat),
            actor=actor,
            channel="staff",
            now=clock.now,
            settings=settings,
            idempotency_key=f"general-{clock.now.isoformat()}",
        )
        assert created
    later = clock.now + timedelta(minutes=5)

    async def both() -> list[Any]:
        pool = await open_pool(engine.url, 2)
        try:
            body = NewRequest(category="noise", description="fast path", lon=lon, lat=lat)
            key = f"fast-{clock.now.isoformat()}"
            kwargs: dict[str, Any] = {"actor": actor, "channel": "staff", "now": later, "settings": settings}
            first = await submit_point(pool, body, cat, idempotency_key=key, **kwargs)
            again = await submit_point(pool, body, cat, idempotency_key=key, **kwargs)  # a retry: not stored twice
            outside = NewRequest(category="noise", description="outside", lon=lon + 1.0, lat=lat)
            far = await submit_point(pool, outside, cat, idempotency_key=key + "-far", **kwargs)
            return [first, again, far]
        finally:
            await pool.close()

    with ThreadPoolExecutor(1) as thread:  # a loop of its own: the browser tests' Playwright may hold this thread's
        fast, again, far = thread.submit(asyncio.run, both()).result()
    # both left to the general path, which is told why: a replay, a point outside the grids
    assert (again, far) == (Declined.key_used, Declined.outside)
    assert fast is not None
    assert (fast.grid_code, fast.plan_version, fast.match_level) == (code, general.plan_version, "point")
    assert fast.status == "merged" and fast.duplicate_of == general.id  # same category, same place, 5 min later
    with session_scope(engine) as session:
        trail = session.execute(
            text("SELECT action, to_status FROM request_events WHERE request_id = :id ORDER BY id"), {"id": fast.id}
        ).all()
        assert [tuple(r) for r in trail] == [("report", "merged"), ("merge", "merged")]
        original = session.get_one(ServiceRequest, general.id)
        assert original.report_count == 2
        stored = session.scalar(
            text("SELECT count(*) FROM requests WHERE idempotency_key LIKE :k"), {"k": f"fast-{clock.now.isoformat()}%"}
        )
        assert stored == 1


def _phone_photo(size: tuple[int, int] = (64, 48)) -> bytes:
    """A JPEG as a phone writes it: EXIF with a GPS position and an orientation of 90°."""
    import io

    from PIL import Image

    image = Image.new("RGB", size, (200, 60, 30))
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90° clockwise to view
    exif[0x8825] = {1: "N", 2: (32.0, 2.0, 30.0), 3: "E", 4: (118.0, 47.0, 10.0)}  # GPS
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif)
    return out.getvalue()


def test_photos_are_stored_upright_without_metadata(client: TestClient, world: dict[str, Any], clock: Clock) -> None:
    import io

    from PIL import Image

    req = report(client, world, description="楼道堆物,见照片")
    url = f"/api/requests/{req['id']}/photos"
    files = {"photo": ("IMG_0001.jpg", _phone_photo(), "image/jpeg")}
    response = client.post(url, files=files, headers=auth(client, "worker1"))
    assert response.status_code == 201, response.text
    (photo,) = response.json()["photos"]
    again = client.post(url, files=files, headers=auth(client, "worker1"))  # the same photo twice is one
    assert again.json()["photos"] == [photo]

    got = client.get(photo, headers=auth(client, "worker1"))
    assert got.status_code == 200 and got.headers["content-type"] == "image/jpeg"
    image = Image.open(io.BytesIO(got.content))
    assert image.size == (48, 64)  # turned upright by its EXIF orientation
    assert not image.getexif()  # no GPS, no phone model
    assert client.get(photo, headers=auth(client, "worker2")).status_code == 403  # another grid's worker
    trail = client.get(f"/api/requests/{req['id']}", headers=auth(client, "community")).json()["events"]
    assert [e["action"] for e in trail].count("photo") == 1


def test_bad_photos_are_refused_and_nothing_is_kept(client: TestClient, world: dict[str, Any], clock: Clock) -> None:
    req = report(client, world, description="照片上传失败的事件")
    url = f"/api/requests/{req['id']}/photos"
    folder = world["settings"].home / "photos" / str(req["id"])
    not_image = client.post(
        url, files={"photo": ("a.jpg", b"GIF89a not really", "image/jpeg")}, headers=auth(client, "worker1")
    )
    assert not_image.status_code == 422 and "JPEG, PNG or WebP" in not_image.json()["detail"]
    big = b"\xff\xd8" + b"0" * world["settings"].requests.max_photo_bytes
    too_big = client.post(url, files={"photo": ("b.jpg", big, "image/jpeg")}, headers=auth(client, "worker1"))
    assert too_big.status_code == 413 and "limit" in too_big.json()["detail"]
    assert not folder.exists() or not any(folder.iterdir())
    assert client.get(f"/api/requests/{req['id']}", headers=auth(client, "worker1")).json()["photos"] == []


def test_duplicate_check_goes_through_the_open_requests_index_in_a_generic_plan(world: dict[str, Any]) -> None:
    """Once ``requests`` has statistics, the prepared intake's generic plan still finds duplicates by location.

    Walking the created_at index over the duplicate window instead made every report slower than the last (the
    load benchmark went from p50 3 ms to timeouts after autovacuum's first ANALYZE of a busy table).
    """
    from gridmap.db.models import RequestCategory
    from gridmap.requests.intake import _NAME, _PREPARE, intake_values, positional
    from gridmap.requests.schemas import NewRequest

    lon, lat = world["spots"][world["codes"][0]]
    with world["engine"].connect() as conn:
        # a busy day: 6,000 open and merged reports of several kinds around the area, then fresh statistics
        conn.execute(
            text(
                "INSERT INTO requests (category, status, created_at, geom) SELECT "
                "(ARRAY['noise', 'garbage', 'illegal_parking'])[1 + i % 3], "
                "CASE WHEN i % 10 = 0 THEN 'reported' ELSE 'merged' END, now() - i * interval '10 s', "
                "ST_SetSRID(ST_MakePoint(:lon + (i % 77) * 1e-4, :lat + (i % 53) * 1e-4), 4326) "
                "FROM generate_series(1, 6000) i"
            ),
            {"lon": lon, "lat": lat},
        )
        conn.execute(text("ANALYZE requests"))
        conn.execute(text("SET LOCAL plan_cache_mode = force_generic_plan"))
        conn.exec_driver_sql(_PREPARE.replace("%", "%%").replace(_NAME, "plan_probe"))
        cat = conn.execute(text("SELECT * FROM request_categories WHERE code = 'noise'")).mappings().one()
        values = intake_values(
            NewRequest(category="noise", description="probe", lon=lon, lat=lat),
            RequestCategory(**cat),
            lon=lon,
            lat=lat,
            actor=(None, "tester", "community"),
            channel="staff",
            now=datetime.now(UTC),
            settings=world["settings"].requests,
            key=None,
            digest="probe",
        )
        count = len(positional(values))
        plan = "\n".join(
            row[0]
            for row in conn.exec_driver_sql(
                f"EXPLAIN EXECUTE plan_probe ({', '.join(['%s'] * count)})", tuple(positional(values))
            )
        )
        conn.rollback()
    assert "ix_requests_open_geom" in plan, plan
    assert "ix_requests_created_at" not in plan, plan


def test_a_refused_report_leaves_its_category_usable(client: TestClient, world: dict[str, Any]) -> None:
    """A report refused after its category was first read (outside coverage) must not poison the category cache."""
    from gridmap.requests import categories

    categories._CACHE.clear()
    far = {"category": "noise", "description": "远处噪声", "lon": 118.2, "lat": 31.5}
    refused = client.post("/api/requests", json=far, headers=auth(client, "worker1"))
    assert refused.status_code == 422, refused.text
    assert "outside_coverage" in refused.json()["detail"]
    assert report(client, world, category="noise")["category"] == "noise"


def test_whoever_resolved_cannot_verify(client: TestClient, world: dict[str, Any]) -> None:
    rid = report(client, world, category="stairwell_clutter", reporter_phone="13812345678")["id"]
    do(client, rid, "worker1", "take")
    resolved = do(client, rid, "worker1", "resolve", reason="杂物已清理")
    assert "verify" not in resolved["actions"] and "reject" not in resolved["actions"]
    refused = client.post(f"/api/requests/{rid}/actions", json={"action": "verify"}, headers=auth(client, "worker1"))
    assert refused.status_code == 403 and refused.json()["detail"].startswith("办结人不能核查自己办结的诉求")
    community = client.get(f"/api/requests/{rid}", headers=auth(client, "community")).json()
    assert community["actions"] == ["verify", "reject"] and community["reporter_phone"] == "138****5678"
    assert (community["reporter_phone_revealable"], resolved["reporter_phone_revealable"]) == (True, False)
    assert do(client, rid, "community", "verify")["status"] == "verified"


def test_a_grid_worker_sees_reporter_phones_masked_by_the_one_rule(client: TestClient, world: dict[str, Any]) -> None:
    phones = {"8456-1234": "****1234", "+86 138 1234 5678": "138****5678", "12345": "****5"}  # local, +86, short
    seen = {phone: report(client, world, reporter_phone=phone)["reporter_phone"] for phone in phones}
    assert seen == phones  # before: 845****1234 (7 of 8 digits shown), +86****5678, ****



def test_staff_cannot_rate_and_a_callback_is_counted_apart(
    client: TestClient, world: dict[str, Any], clock: Clock
) -> None:
    since = (clock.now - timedelta(hours=1)).isoformat()
    called, rated = (report(client, world, grid=9, category=c)["id"] for c in ("pets", "noise"))
    for rid in (called, rated):
        do(client, rid, "community", "take")
        do(client, rid, "community", "resolve")
        do(client, rid, "worker1", "verify", expect=403)  # grid 9 is not worker1's
        clock.now += timedelta(minutes=1)
    for rid in (called, rated):
        with session_scope(world["engine"]) as session:  # a second 社区 colleague checks the work
            create_user(
                session=session,
                username=f"checker{rid}",
                password="secret",
                role=Role.community,
                unit_code=world["codes"][9][:12],  # the 社区 of grid 9
                weak_password=True,
            )
        do(client, rid, f"checker{rid}", "verify")
    for user in ("worker1", "community", "command", "leader"):
        refused = client.post(
            f"/api/requests/{called}/actions", json={"action": "rate", "stars": 5}, headers=auth(client, user)
        )
        assert refused.status_code == 403 and "工作人员不能代居民评单" in refused.json()["detail"]
    seen = client.get(f"/api/requests/{called}", headers=auth(client, "command")).json()
    assert seen["actions"] == ["callback", "close"]
    back = do(client, called, "command", "callback", stars=3, reason="居民表示基本满意")
    assert (back["status"], back["rating"], back["rating_source"]) == ("closed", 3, "callback")
    call = back["events"][-1]
    assert (call["action_name"], call["actor"], call["actor_role_name"], call["data"]) == (
        "回访",
        "command",
        "街道指挥中心",
        {"stars": 3},
    )
    token = resident_link(world["engine"], rated)
    assert (
        client.post(f"/open311/v2/requests/{rated}/rating.json", data={"token": token, "stars": "5"}).status_code == 200
    )
    params = {"level": "grid", "since": since}
    unit = next(
        u
        for u in client.get("/api/kpis", params=params, headers=auth(client, "leader")).json()["units"]
        if u["unit"] == world["codes"][9]
    )
    assert unit["satisfaction_rate"] == {"value": 1.0, "numerator": 1, "denominator": 1}  # the resident's 5★
    assert unit["callback_satisfaction_rate"] == {"value": 0.0, "numerator": 0, "denominator": 1}  # 3★ on the phone


def test_dispatch_goes_to_a_known_department_only(client: TestClient, world: dict[str, Any]) -> None:
    names = [d["name"] for d in client.get("/api/departments", headers=auth(client, "command")).json()]
    assert {"环卫所", "城管执法中队"} <= set(names) and names == sorted(names)
    rid = report(client, world, category="facade_falling")["id"]
    do(client, rid, "worker1", "escalate")
    do(client, rid, "community", "triage", size="big")
    refused = do(client, rid, "command", "dispatch", expect=422, department="不存在的局")
    assert refused["detail"].startswith("没有名为「不存在的局」的部门")
    still = client.get(f"/api/requests/{rid}", headers=auth(client, "command")).json()
    assert still["status"] == "triaged" and still["actions"] == ["dispatch"]
    assert do(client, rid, "command", "dispatch", department="城管执法中队")["department"] == "城管执法中队"


def test_merge_into_a_request_outside_ones_scope_is_refused(client: TestClient, world: dict[str, Any]) -> None:
    theirs = report(client, world, grid=1, category="broken_facility")["id"]  # worker2's grid
    mine = report(client, world, grid=0, category="noise")["id"]
    refused = do(client, mine, "worker1", "merge", expect=403, duplicate_of=theirs, reason="重复上报")
    assert refused["detail"].startswith("不能合并到您管辖范围以外的诉求")
    seen = client.get(f"/api/requests/{mine}", headers=auth(client, "worker1")).json()
    assert seen["status"] == "reported" and theirs not in {t["id"] for t in seen["merge_targets"]}
    with world["engine"].connect() as conn:
        assert conn.scalar(select(ServiceRequest.report_count).where(ServiceRequest.id == theirs)) == 1


def _unique_name(world: dict[str, Any]) -> str:
    with world["engine"].connect() as conn:
        return str(
            conn.scalar(
                text(
                    "SELECT name FROM buildings WHERE name LIKE '%大厦' GROUP BY name HAVING count(*) = 1 "
                    "ORDER BY name LIMIT 1"
                )
            )
        )


def test_a_place_inside_a_sentence_is_found_and_the_matched_span_kept(
    client: TestClient, world: dict[str, Any]
) -> None:
    name = _unique_name(world)
    made = report(client, world, lon=None, lat=None, address=f"{name}门口垃圾堆了好几天没人清理")
    assert made["match_level"].split(";")[0] == "in_text" and made["grid_code"] in world["codes"]
    with world["engine"].connect() as conn:
        data = conn.scalar(
            text("SELECT data FROM request_events WHERE request_id = :id AND action = 'report'"), {"id": made["id"]}
        )
    assert data["matched_text"] == name and data["uncertainty_m"] > 20  # 门口: beyond the building itself


def test_an_admin_prefix_of_another_city_is_refused(client: TestClient, world: dict[str, Any]) -> None:
    before = rows(world["engine"])
    body = {"category": "garbage", "address": f"上海市浦东新区{_unique_name(world)}"}
    response = client.post("/api/requests", json=body, headers=auth(client, "worker1"))
    assert response.status_code == 422 and "outside_area" in response.text and "上海市" in response.text
    assert rows(world["engine"]) == before


POST_OFFICE = "新街口邮局"  # amenity=post_office, an OSM node of the 新街口 extract (no building carries the name)


def _grid_of_landmark(world: dict[str, Any], name: str) -> str:
    with world["engine"].connect() as conn:
        return str(
            conn.scalar(
                text(
                    "SELECT g.code FROM grids g JOIN grid_plans p ON p.id = g.plan_id JOIN landmarks l "
                    "ON ST_Covers(g.geom, l.geom) WHERE p.status = 'published' AND l.name = :n ORDER BY g.code LIMIT 1"
                ),
                {"n": name},
            )
        )


def test_a_staff_report_naming_a_shop_door_goes_to_the_landmarks_grid(
    client: TestClient, world: dict[str, Any]
) -> None:
    made = report(client, world, lon=None, lat=None, address=f"{POST_OFFICE}门口有人乱停车，堵住了人行道")
    assert (made["match_level"], made["grid_code"]) == ("landmark", _grid_of_landmark(world, POST_OFFICE))
    with world["engine"].connect() as conn:
        data = conn.scalar(
            text("SELECT data FROM request_events WHERE request_id = :id AND action = 'report'"), {"id": made["id"]}
        )
    assert data["matched_text"] == POST_OFFICE and data["uncertainty_m"] >= 25  # a point (5 m) + 门口 (20 m)


def test_an_open311_address_string_naming_a_landmark_is_placed_at_it(
    client: TestClient, world: dict[str, Any]
) -> None:
    form = {"service_code": "garbage", "description": "垃圾没人清理", "address_string": f"{POST_OFFICE}门口垃圾桶满了"}
    made = client.post("/open311/v2/requests.json", data=form, headers={"Idempotency-Key": "landmark-open311"})
    assert made.status_code == 201, made.text
    with world["engine"].connect() as conn:
        stored = conn.execute(
            text("SELECT match_level, grid_code FROM requests WHERE id = :id"),
            {"id": int(made.json()[0]["service_request_id"])},
        ).one()
    assert tuple(stored) == ("landmark", _grid_of_landmark(world, POST_OFFICE))


@pytest.mark.parametrize("side", [9_000, 13_000, 20_000])
def test_a_photo_with_too_many_pixels_is_refused_before_it_is_decoded(
    client: TestClient, world: dict[str, Any], clock: Clock, side: int
) -> None:
    """A PNG of a few hundred KB declaring side × side pixels (81, 169, 400 MP; the limit is 50 MP): 413.

    81 MP is under Pillow's own warning and 169 MP between its warning and its error: both were decoded and stored.
    """
    req = report(client, world, description=f"像素炸弹 {side}")
    files = {"photo": ("bomb.png", png_bomb(side, side), "image/png")}
    answer = client.post(f"/api/requests/{req['id']}/photos", files=files, headers=auth(client, "worker1"))
    assert (answer.status_code, "上限 50 百万像素" in answer.json()["detail"]) == (413, True), answer.text


def reveals_of(world: dict[str, Any], rid: int) -> list[tuple[str, str, str, str]]:
    with world["engine"].connect() as conn:
        query = "SELECT username, role, field, reason FROM pii_reveals WHERE request_id = :id ORDER BY id"
        found = conn.execute(text(query), {"id": rid})
        return [(r.username, r.role, r.field, r.reason) for r in found]


def test_a_reporters_whole_number_is_shown_only_by_a_logged_reveal(client: TestClient, world: dict[str, Any]) -> None:
    rid = report(client, world, reporter_phone="13812345678")["id"]
    url = f"/api/requests/{rid}/reporter-phone"
    shown = client.post(url, json={"reason": "回访居民"}, headers=auth(client, "community"))
    assert shown.status_code == 200, shown.text
    assert shown.json()["phone"] == "13812345678"
    assert reveals_of(world, rid) == [("community", "community", "phone", "回访居民")]
    again = client.get(f"/api/requests/{rid}", headers=auth(client, "community")).json()
    assert again["reporter_phone"] == "138****5678"  # a reveal shows the number once; the view stays masked


@pytest.mark.parametrize(
    ("user", "body", "expect"),
    [
        ("worker1", {"reason": "回访居民"}, 403),  # a grid worker's own grid, but grid workers do not call back
        ("sanitation", {"reason": "回访居民"}, 403),  # not its case
        ("leader", {"reason": "回访居民"}, 403),
        ("community", {"reason": " "}, 422),  # a reason is required
        ("community", {}, 422),
    ],
)
def test_a_reveal_without_the_right_or_a_reason_is_refused_and_not_logged(
    client: TestClient, world: dict[str, Any], user: str, body: dict[str, str], expect: int
) -> None:
    rid = report(client, world, reporter_phone="13812345678")["id"]
    refused = client.post(f"/api/requests/{rid}/reporter-phone", json=body, headers=auth(client, user))
    assert (refused.status_code, "13812345678" in refused.text, reveals_of(world, rid)) == (expect, False, [])


def test_a_reveal_outside_ones_unit_or_without_a_number_is_refused(client: TestClient, world: dict[str, Any]) -> None:
    with session_scope(world["engine"]) as session:  # the staff of a neighbouring 社区 of the same 街道
        neighbour = world["codes"][0][:9] + "999"
        create_user(
            session=session, username="neighbour", password="secret", role=Role.community, unit_code=neighbour,
            weak_password=True,
        )
    elsewhere = report(client, world, reporter_phone="13812345678")["id"]
    no_phone = report(client, world)["id"]
    why = {"reason": "回访"}
    outside = client.post(f"/api/requests/{elsewhere}/reporter-phone", json=why, headers=auth(client, "neighbour"))
    missing = client.post(f"/api/requests/{no_phone}/reporter-phone", json=why, headers=auth(client, "command"))
    assert (outside.status_code, missing.status_code) == (403, 422)
    assert "未留电话" in missing.json()["detail"]
    assert reveals_of(world, elsewhere) + reveals_of(world, no_phone) == []
