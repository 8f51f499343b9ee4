"""No input makes a 5xx: hand-made bad input, then schemathesis over the whole OpenAPI document.

Schemathesis runs as an admin and anonymously, bounded here (``GRIDMAP_FUZZ_EXAMPLES`` cases per operation,
default 12) so that ``make test`` stays quick;
``benchmarks/security/fuzz.py`` runs the same at length for every role.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from sqlalchemy import Engine, create_engine, text

from benchmarks.security.fuzz import fuzz
from gridmap.api.main import create_app
from gridmap.auth.service import create_user
from gridmap.db.cluster import LocalCluster
from gridmap.db.models import Role
from gridmap.db.session import session_scope
from gridmap.ingest.service import import_files
from gridmap.partition.service import partition_db
from gridmap.requests.simulate import simulate_requests
from gridmap.settings import Settings
from tests.conftest import NANJING_OSM, make_database, serving

pytestmark = pytest.mark.db
EXAMPLES = int(os.environ.get("GRIDMAP_FUZZ_EXAMPLES", "12"))
NOW = datetime(2026, 6, 30, 4, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def fuzz_server(cluster: LocalCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    url = make_database(cluster, "fuzz")
    engine = create_engine(url)
    home: Path = tmp_path_factory.mktemp("fuzz-home")
    config = Settings(home=home, database_url=url, secret_key="fuzz-test-secret-key-long-enough-for-hs256")
    with session_scope(engine) as session:
        import_files(session=session, settings=config, paths=[NANJING_OSM])
        partition_db(session=session, params=config.partition, publish=True, code_prefix="320102003000")
        create_user(session=session, username="fuzz-admin", password="Xuanwu-Fuzz-2026", role=Role.admin)
        simulate_requests(session, days=7, end=NOW, settings=config.requests, per_day=20, seed=3)
    with serving(create_app(config, engine=engine)) as base:
        yield _world(base, engine)
    engine.dispose()


def _world(base: str, engine: Engine) -> dict[str, Any]:
    token = requests.post(
        f"{base}/api/auth/token", data={"username": "fuzz-admin", "password": "Xuanwu-Fuzz-2026"}, timeout=30
    ).json()["access_token"]
    with engine.connect() as conn:
        lon, lat = conn.execute(
            text("SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) p FROM grids) g")
        ).first()
        building = conn.execute(text("SELECT min(id) FROM buildings")).scalar_one()
    return {
        "base": base,
        "admin": {"Authorization": f"Bearer {token}"},
        "engine": engine,
        "point": (lon, lat),
        "building": building,
    }


def _count(engine: Engine, table: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


def _refused(response: requests.Response, status: int, needle: str) -> None:
    """A 4xx in the one error shape whose message says ``needle``."""
    assert response.status_code == status, (response.status_code, response.text[:300])
    body = response.json()
    assert isinstance(body["detail"], str) and isinstance(body["error"], str)
    assert needle in body["detail"], body["detail"]


def test_nul_in_a_report_is_refused_and_nothing_is_stored(fuzz_server: dict[str, Any]) -> None:
    lon, lat = fuzz_server["point"]
    before = _count(fuzz_server["engine"], "requests")
    body = {"category": "garbage", "lon": lon, "lat": lat, "description": "垃圾\u0000满了"}
    response = requests.post(f"{fuzz_server['base']}/api/requests", json=body, headers=fuzz_server["admin"])
    _refused(response, 422, "NUL")
    body = {"category": "garbage", "address": "洪武北路\u000040号"}
    response = requests.post(f"{fuzz_server['base']}/api/requests", json=body, headers=fuzz_server["admin"])
    _refused(response, 422, "地址无法定位")  # no such address: refused before anything is written
    assert _count(fuzz_server["engine"], "requests") == before


def test_nul_in_a_building_head_is_refused(fuzz_server: dict[str, Any]) -> None:
    url = f"{fuzz_server['base']}/api/buildings/{fuzz_server['building']}/head"
    _refused(requests.put(url, json={"name": "张\u0000三"}, headers=fuzz_server["admin"]), 422, "NUL")


@pytest.mark.parametrize(
    "path", ["/api/requests?category=a%00b", "/api/grids?bbox=1%002", "/open311/v2/requests/1.json?x=%00"]
)
def test_nul_in_the_query_string_is_refused(fuzz_server: dict[str, Any], path: str) -> None:
    _refused(requests.get(fuzz_server["base"] + path, headers=fuzz_server["admin"]), 422, "NUL")


def test_nul_in_an_open311_report_stores_nothing(fuzz_server: dict[str, Any]) -> None:
    lon, lat = fuzz_server["point"]
    before = _count(fuzz_server["engine"], "requests")
    form = {"service_code": "garbage", "lat": str(lat), "long": str(lon), "description": "a\x00b"}
    response = requests.post(f"{fuzz_server['base']}/open311/v2/requests.json", data=form)
    assert 400 <= response.status_code < 500, response.text
    assert _count(fuzz_server["engine"], "requests") == before


def test_nul_in_a_user_name_is_a_failed_sign_in(fuzz_server: dict[str, Any]) -> None:
    response = requests.post(f"{fuzz_server['base']}/api/auth/token", data={"username": "a\x00", "password": "x"})
    assert response.status_code == 401


@pytest.mark.parametrize(
    "path",
    [
        "/api/kpis?until=0001-01-01",
        "/api/kpis?since=9999-12-31T23:59:59&until=9999-12-31T23:59:59",
        "/api/kpis?until=2026-01-01T00:00:00%2B21:04",
        "/maps/hotspots?until=0001-01-01",
        "/maps/lanes?until=0001-01-01",
        "/maps/lanes?since=0001-01-01T00:00:00",
    ],
)
def test_extreme_dates_are_refused(fuzz_server: dict[str, Any], path: str) -> None:
    response = requests.get(fuzz_server["base"] + path, headers=fuzz_server["admin"])
    _refused(response, 422, "until" if "until" in path else "since")


@pytest.mark.parametrize("value", [[1, 2], {"a": 1}, True, "1e400"])
def test_open311_wants_numbers_where_it_says_so(fuzz_server: dict[str, Any], value: Any) -> None:
    body = {"service_code": "garbage", "lat": value, "long": 118.78}
    response = requests.post(f"{fuzz_server['base']}/open311/v2/requests.json", json=body)
    assert 400 <= response.status_code < 500, response.text
    assert response.json()[0]["description"]


def test_open311_rating_wants_a_number(fuzz_server: dict[str, Any]) -> None:
    response = requests.post(f"{fuzz_server['base']}/open311/v2/requests/1/rating.json", json={"stars": [5]})
    assert response.status_code == 422 and "stars" in response.json()[0]["description"]


def test_a_deeply_nested_open311_body_is_a_400(fuzz_server: dict[str, Any]) -> None:
    body = "[" * 30000 + "]" * 30000
    response = requests.post(
        f"{fuzz_server['base']}/open311/v2/requests.json", data=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400


@pytest.mark.parametrize(
    ("bbox", "needle"),
    [("1..2,3,4,5", "bbox"), (".,1,2,3", "bbox"), ("118,32,117,33", "-180"), ("100,-95,101,30", "-90")],
)
def test_the_bbox_is_parsed_strictly(fuzz_server: dict[str, Any], bbox: str, needle: str) -> None:
    for path in ("/api/grids", "/api/streets"):
        response = requests.get(f"{fuzz_server['base']}{path}", params={"bbox": bbox}, headers=fuzz_server["admin"])
        _refused(response, 422, needle)


def test_numbers_beyond_the_database_are_refused(fuzz_server: dict[str, Any]) -> None:
    response = requests.get(
        f"{fuzz_server['base']}/api/requests?offset=10279462488015190016", headers=fuzz_server["admin"]
    )
    _refused(response, 422, "offset")  # the list's offset is bounded before PostgreSQL sees it


def _schema(fuzz_server: dict[str, Any]) -> Any:
    return schemathesis.openapi.from_url(fuzz_server["base"] + "/api/openapi.json", headers=fuzz_server["admin"])


def test_no_input_makes_a_5xx_for_an_admin(fuzz_server: dict[str, Any]) -> None:
    # Not the operation that would end the admin's own session (it is fuzzed anonymously).
    schema = _schema(fuzz_server).exclude(path="/api/auth/logout")
    report = fuzz(schema, fuzz_server["base"], fuzz_server["admin"], EXAMPLES)
    assert report.cases > 100 and not report.server_errors and not report.off_shape, report


def test_no_input_makes_a_5xx_anonymously(fuzz_server: dict[str, Any]) -> None:
    report = fuzz(_schema(fuzz_server), fuzz_server["base"], {}, EXAMPLES)
    assert report.cases > 100 and not report.server_errors and not report.off_shape, report
