"""What the report form asks (suggestions, the grid of a point, the resident's view) and Open311's privacy rules."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import create_engine, select, text, update
from sqlalchemy.exc import IntegrityError

from gridmap.api.main import create_app
from gridmap.auth.service import create_user
from gridmap.db.cluster import LocalCluster
from gridmap.db.models import Role, ServiceRequest
from gridmap.db.session import session_scope
from gridmap.ingest.admin import load_reference
from gridmap.ingest.service import import_files
from gridmap.partition.service import partition_db
from gridmap.settings import RequestSettings, Settings
from tests.bombs import png_bomb
from tests.conftest import NANJING_OSM, make_database

pytestmark = pytest.mark.db
NOW = datetime(2026, 5, 4, 2, 0, tzinfo=UTC)
COMMUNITY = "320102003001"  # 香铺营社区, 新街口街道 (NBS)


@pytest.fixture(scope="module")
def world(cluster: LocalCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    url = make_database(cluster, "reporting_test")
    engine = create_engine(url)
    settings = Settings(
        home=tmp_path_factory.mktemp("home"),
        database_url=url,
        secret_key="test-secret-key-that-is-long-enough-for-hs256",
        requests=RequestSettings(public_rate="50/minute", public_read_rate="40/minute"),
    )
    with session_scope(engine) as session:
        load_reference(session=session)
        import_files(session=session, settings=settings, paths=[NANJING_OSM])
        partition_db(session=session, params=settings.partition, publish=True, code_prefix=COMMUNITY)
        codes = list(session.scalars(text("SELECT code FROM grids ORDER BY code")).all())
        create_user(
            session=session,
            username="worker1",
            password="secret",
            role=Role.grid_worker,
            grids=codes[:1],
            weak_password=True,
        )
        spots = {c: p for c, p in session.execute(text("SELECT code, ST_AsText(ST_PointOnSurface(geom)) FROM grids"))}
        compound = session.scalar(
            text("SELECT name FROM compounds WHERE name LIKE '%小区' OR name LIKE '%苑' ORDER BY length(name) LIMIT 1")
        )
        outside = session.execute(
            text("SELECT ST_XMax(ST_Extent(geom)) + 0.02, ST_YMax(ST_Extent(geom)) FROM grids")
        ).one()
    points = {c: tuple(float(v) for v in wkt[6:-1].split()) for c, wkt in spots.items()}
    app = create_app(settings, engine=engine, clock=lambda: NOW)
    with TestClient(app) as client:
        yield {
            "client": client,
            "engine": engine,
            "codes": codes,
            "points": points,
            "compound": compound,
            "outside": (float(outside[0]), float(outside[1])),
        }
    engine.dispose()


def _auth(client: TestClient, user: str = "worker1") -> dict[str, str]:
    token = client.post("/api/auth/token", data={"username": user, "password": "secret"}).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


def test_suggest_finds_a_compound_by_part_of_its_name(world: dict[str, Any]) -> None:
    client, name = world["client"], world["compound"]
    assert name, "the 新街口 extract has named 小区"
    typed = name[: max(2, len(name) - 2)]
    found = client.get("/api/geocode/suggest", params={"q": typed}, headers=_auth(client)).json()
    assert found[0]["label"].startswith(typed) and len(found) <= 8
    compound = next(s for s in found if s["label"] == name)
    assert compound["kind"] == "compound" and compound["kind_zh"] == "小区" and compound["building_id"] is None
    assert 118 < compound["lon"] < 119 and 31 < compound["lat"] < 33


def test_suggest_offers_buildings_and_house_numbers_and_needs_a_query(world: dict[str, Any]) -> None:
    client = world["client"]
    with world["engine"].connect() as conn:
        street, number = conn.execute(
            text(
                "SELECT addr_street, addr_housenumber FROM buildings WHERE addr_street IS NOT NULL "
                "AND addr_housenumber ~ '^[0-9]+$' ORDER BY id LIMIT 1"
            )
        ).one()
    found = client.get("/api/geocode/suggest", params={"q": f"{street}{number}"}, headers=_auth(client)).json()
    assert any(s["label"] == f"{street}{number}号" and s["kind"] == "address" for s in found)
    assert all(s["building_id"] for s in found if s["kind"] != "compound")
    assert client.get("/api/geocode/suggest", params={"q": ""}, headers=_auth(client)).status_code == 422
    assert client.get("/api/geocode/suggest", params={"q": "香"}).status_code == 401  # staff route needs a login
    assert client.get("/public/api/geocode/suggest", params={"q": street}).status_code == 200


def test_where_names_the_grid_or_the_nearest_one(world: dict[str, Any]) -> None:
    client, code = world["client"], world["codes"][0]
    lon, lat = world["points"][code]
    inside = client.get("/api/geocode/where", params={"lon": lon, "lat": lat}, headers=_auth(client)).json()
    assert inside["status"] == "inside" and inside["grid_code"] == code
    assert inside["grid_name"] == f"新街口街道 香铺营社区 第{int(code[12:])}网格"
    far = client.get("/public/api/geocode/where", params=dict(zip(("lon", "lat"), world["outside"], strict=True)))
    answer = far.json()
    assert answer["status"] == "outside_coverage" and answer["distance_m"] > 1000
    assert answer["grid_code"] in world["codes"]


def _form(lon: float, lat: float) -> dict[str, str]:
    return {
        "service_code": "noise",
        "lat": str(lat),
        "long": str(lon),
        "description": "夜里施工噪声",
        "phone": "13912345678",
        "first_name": "王",
        "address_string": "某小区3栋2单元501室",
    }


def _public_report(client: TestClient, lon: float, lat: float, key: str) -> dict[str, Any]:
    made = client.post("/open311/v2/requests.json", data=_form(lon, lat), headers={"Idempotency-Key": key})
    assert made.status_code == 201, made.text
    return dict(made.json()[0])


def test_open311_read_shows_public_requests_only_and_rounds_the_point(world: dict[str, Any]) -> None:
    client, code = world["client"], world["codes"][2]
    lon, lat = world["points"][code]
    staff = client.post(
        "/api/requests",
        json={"category": "garbage", "lon": lon, "lat": lat, "reporter_phone": "13800005678"},
        headers=_auth(client, "worker1"),
    )
    assert staff.status_code in (200, 201)  # stored (the grid need not be worker1's for a report)
    assert client.get(f"/open311/v2/requests/{staff.json()['id']}.json").status_code == 404
    made = _public_report(client, lon + 0.00012, lat + 0.00034, "privacy-1")
    public = client.get(f"/open311/v2/requests/{made['service_request_id']}.json").json()[0]
    assert public["lat"] == round(lat + 0.00034, 3) and public["long"] == round(lon + 0.00012, 3)
    assert public["address"] is None and "1391234" not in str(public) and "王" not in str(public)
    assert client.get("/open311/v2/requests/999999.json").status_code == 404
    assert client.get(f"/open311/v2/requests/{10**20}.json").status_code == 422  # not a request number: no 500
    assert client.get(f"/public/api/requests/{10**20}", params={"token": "x"}).status_code == 422


def test_open311_answer_links_the_track_page_without_personal_data(world: dict[str, Any]) -> None:
    client, code = world["client"], world["codes"][0]  # worker1's grid
    lon, lat = world["points"][code]
    made = _public_report(client, lon, lat, "track-1")
    link = urlparse(made["track_url"])
    token = parse_qs(link.fragment)["token"][0]  # in the fragment: no request line, log or Referer carries it
    rid = int(made["service_request_id"])
    assert (link.path, link.query, token) == (f"/public/requests/{rid}", "", made["rating_token"])
    assert client.get(link.path).status_code == 200  # the page, no login
    wrong = client.get(f"/public/api/requests/{rid}", headers={"X-Request-Token": "wrong"})
    assert wrong.status_code == 404
    assert client.get(f"/public/api/requests/{rid}", params={"token": "令牌"}).status_code == 404  # was a 500
    missing = client.get(f"/public/api/requests/{rid}")
    assert (missing.status_code, missing.json()["detail"].startswith("缺少事件链接的令牌")) == (422, True)
    older = client.get(f"/public/api/requests/{rid}", params={"token": token})  # links made before: ?token=
    assert older.status_code == 200
    worker = _auth(client, "worker1")
    assert client.post(f"/api/requests/{rid}/actions", json={"action": "take"}, headers=worker).status_code == 200
    view = client.get(f"/public/api/requests/{rid}", headers={"X-Request-Token": token}).json()
    assert view["trail"][0] == {
        "at": NOW.isoformat(),
        "action": "report",
        "action_zh": "上报",
        "role_zh": "居民",
        "status": "reported",
        "department": None,
    }
    assert "worker1" not in str(view) and "13912345678" not in str(view) and "王" not in str(view)
    assert [(e["role_zh"], e["action_zh"]) for e in view["trail"][1:]] == [("网格员", "点单")]
    assert view["status_zh"] == "网格员已接单,正在处理" and view["can_rate"] is False


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


def test_resident_adds_a_photo_with_the_link_and_rates_once_verified(world: dict[str, Any]) -> None:
    client, code = world["client"], world["codes"][4]
    lon, lat = world["points"][code]
    made = _public_report(client, lon, lat, "photo-1")
    rid, token = int(made["service_request_id"]), made["rating_token"]
    files = {"photo": ("p.png", _png(), "image/png")}
    assert client.post(f"/public/api/requests/{rid}/photos", params={"token": "x"}, files=files).status_code == 404
    added = client.post(f"/public/api/requests/{rid}/photos", params={"token": token}, files=files)
    assert added.status_code == 201 and added.json() == {"id": rid, "photos": 1}
    with world["engine"].begin() as conn:
        conn.execute(update(ServiceRequest).where(ServiceRequest.id == rid).values(status="verified"))
    assert client.get(f"/public/api/requests/{rid}", params={"token": token}).json()["can_rate"] is True
    rated = client.post(f"/open311/v2/requests/{rid}/rating.json", data={"token": token, "stars": "4", "comment": "好"})
    assert rated.json()[0]["status"] == "closed"
    with world["engine"].connect() as conn:
        row = conn.execute(select(ServiceRequest.rating, ServiceRequest.rating_comment).where(ServiceRequest.id == rid))
        assert tuple(row.one()) == (4, "好")
    late = client.post(f"/public/api/requests/{rid}/photos", params={"token": token}, files=files)
    assert late.status_code == 409


def test_the_database_keeps_only_the_digest_of_the_residents_link(world: dict[str, Any]) -> None:
    client, code = world["client"], world["codes"][3]
    lon, lat = world["points"][code]
    made = _public_report(client, lon, lat, "digest-1")
    rid, token = int(made["service_request_id"]), made["rating_token"]
    with world["engine"].connect() as conn:
        row, stored = conn.execute(
            text("SELECT row_to_json(r)::text, r.rating_token FROM requests r WHERE r.id = :id"), {"id": rid}
        ).one()
    assert (token in row, stored) == (False, hashlib.sha256(token.encode()).hexdigest())  # before: the token itself
    assert client.get(f"/public/api/requests/{rid}", params={"token": token}).status_code == 200
    assert client.get(f"/public/api/requests/{rid}", params={"token": stored}).status_code == 404  # a copy opens none


def test_a_retry_with_the_same_key_is_answered_the_same_working_link(world: dict[str, Any]) -> None:
    client, code = world["client"], world["codes"][3]
    lon, lat = world["points"][code]
    first = _public_report(client, lon + 0.0002, lat, "retry-link-1")  # its answer lost on the way, say
    key = {"Idempotency-Key": "retry-link-1"}
    again = client.post("/open311/v2/requests.json", data=_form(lon + 0.0002, lat), headers=key)
    rid, token = first["service_request_id"], first["rating_token"]
    seen = client.get(f"/public/api/requests/{rid}", params={"token": token})
    assert (again.status_code, again.json()[0], seen.status_code) == (200, first, 200)


def test_a_wrong_link_rates_nothing_and_answers_404(world: dict[str, Any]) -> None:
    client, code = world["client"], world["codes"][1]
    lon, lat = world["points"][code]
    made = _public_report(client, lon, lat, "wrong-link-1")
    rid = int(made["service_request_id"])
    with world["engine"].begin() as conn:
        conn.execute(update(ServiceRequest).where(ServiceRequest.id == rid).values(status="verified"))
        stored = conn.scalar(select(ServiceRequest.rating_token).where(ServiceRequest.id == rid))
    url = f"/open311/v2/requests/{rid}/rating.json"
    answers = [
        client.post(url, data={"token": wrong, "stars": "5"}).status_code for wrong in ("wrong", "令牌", str(stored))
    ]
    surrogate = b'{"token": "\\ud800", "stars": 5}'  # a lone surrogate: text JSON can carry, UTF-8 cannot
    answers.append(client.post(url, content=surrogate, headers={"Content-Type": "application/json"}).status_code)
    missing = client.post("/open311/v2/requests/999999/rating.json", data={"token": "x", "stars": "5"})
    answers.append(missing.status_code)
    with world["engine"].connect() as conn:
        rating = conn.scalar(select(ServiceRequest.rating).where(ServiceRequest.id == rid))
    assert (answers, rating) == ([404] * 5, None)  # before: 403 for a request that exists, 404 for one that does not


def test_backdrop_needs_a_small_bbox(world: dict[str, Any]) -> None:
    client = world["client"]
    lon, lat = world["points"][world["codes"][0]]
    box = f"{lon - 0.003},{lat - 0.003},{lon + 0.003},{lat + 0.003}"
    layers = client.get("/public/api/backdrop", params={"bbox": box, "zoom": 17}).json()
    kinds = {f["properties"]["layer"] for f in layers["features"]}
    assert kinds == {"building", "street"}
    assert client.get("/public/api/backdrop").status_code == 422
    assert client.get("/public/api/backdrop", params={"bbox": "118,32,119,33"}).status_code == 422
    assert client.get("/public/api/backdrop", params={"bbox": "1..2,3,4,5"}).status_code == 422
    grids = client.get("/public/api/grids").json()["features"]
    assert {f["properties"]["grid_code"] for f in grids} == set(world["codes"])


def test_public_reads_are_rate_limited(world: dict[str, Any]) -> None:
    client = world["client"]
    codes = [client.get("/public/api/geocode/suggest", params={"q": "路"}).status_code for _ in range(45)]
    assert codes[-1] == 429 and 200 in codes


def test_a_residents_pixel_bomb_is_refused_with_the_limit(world: dict[str, Any]) -> None:
    """The 13,000 × 13,000 PNG of the probe (164 KB here) was stored after taking the server to 1.8 GB."""
    client, code = world["client"], world["codes"][5]
    lon, lat = world["points"][code]
    made = _public_report(client, lon, lat, "bomb-1")
    rid, token = int(made["service_request_id"]), made["rating_token"]
    files = {"photo": ("p.png", png_bomb(13_000, 13_000), "image/png")}
    answer = client.post(f"/public/api/requests/{rid}/photos", params={"token": token}, files=files)
    assert (answer.status_code, "13000×13000" in answer.json()["detail"]) == (413, True), answer.text


def test_migration_0017_hashes_a_plain_link_token_and_the_link_still_works(
    cluster: LocalCluster, tmp_path: Path
) -> None:
    from alembic import command
    from alembic.config import Config

    from gridmap.db.session import MIGRATIONS
    from gridmap.requests.categories import ensure_categories

    cluster.ensure_database("link_token_migration_test")
    url = f"postgresql+psycopg2://postgres@127.0.0.1:{cluster.port}/link_token_migration_test"
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url)
    command.upgrade(cfg, "0016")
    engine = create_engine(url)
    with session_scope(engine) as session:
        ensure_categories(session=session)
    plain = "Zk3v9Q-old-link-token_made-before"  # as secrets.token_urlsafe(24) made them, stored as written
    with engine.begin() as conn:
        rid = conn.scalar(
            text(
                "INSERT INTO requests (category, status, channel, rating_token, created_at, geom) VALUES "
                "('noise', 'reported', 'open311', :token, now(), ST_SetSRID(ST_MakePoint(118.78, 32.04), 4326)) "
                "RETURNING id"
            ),
            {"token": plain},
        )
    command.upgrade(cfg, "head")
    with engine.connect() as conn:
        stored = conn.scalar(text("SELECT rating_token FROM requests WHERE id = :id"), {"id": rid})
    settings = Settings(home=tmp_path, database_url=url, secret_key="test-secret-key-that-is-long-enough-for-hs256")
    with TestClient(create_app(settings, engine=engine)) as client:
        seen = client.get(f"/public/api/requests/{rid}", params={"token": plain})
    with pytest.raises(IntegrityError), engine.begin() as conn:  # a plain token can no longer be written
        conn.execute(text("UPDATE requests SET rating_token = :token WHERE id = :id"), {"token": plain, "id": rid})
    engine.dispose()
    assert (stored, seen.status_code) == (hashlib.sha256(plain.encode()).hexdigest(), 200)


def test_a_copy_of_the_database_does_not_open_a_residents_link_by_replaying_its_key(world: dict[str, Any]) -> None:
    client, code = world["client"], world["codes"][2]
    lon, lat = world["points"][code]
    made = _public_report(client, lon + 0.0004, lat, "3f0c9a6e-6a51-4d7e-9d55-replay-from-a-backup")
    rid = int(made["service_request_id"])
    with world["engine"].connect() as conn:  # only what a backup holds: no token, no server secret
        row = conn.execute(
            text(
                "SELECT idempotency_key, rating_token, category, description, reporter_name, reporter_phone, address, "
                "ST_X(geom) AS lon, ST_Y(geom) AS lat FROM requests WHERE id = :id"
            ),
            {"id": rid},
        ).one()
    body = {
        "service_code": row.category,
        "lat": str(row.lat),
        "long": str(row.lon),
        "description": row.description,
        "phone": row.reporter_phone,
        "first_name": row.reporter_name,
        "address_string": row.address,
    }
    replayed = client.post("/open311/v2/requests.json", data=body, headers={"Idempotency-Key": row.idempotency_key})
    answer = replayed.json()[0]  # before: 200, the resident's request and its token (the key was kept as sent)
    token = answer["rating_token"]
    opened = token is not None and hashlib.sha256(token.encode()).hexdigest() == row.rating_token
    assert (row.idempotency_key.startswith("open311:"), answer["service_request_id"] != str(rid), opened) == (
        True,
        True,
        False,
    )
