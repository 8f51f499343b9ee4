"""Open311 GeoReport v2 as a client nobody here wrote sees it (PyPI ``georeport``), in JSON and XML, on a live server.

Public requests only: staff reports and simulated requests never show, nor do reporter data or typed addresses.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from georeport import GeoReport
from sqlalchemy import create_engine, text

from gridmap.api.main import create_app
from gridmap.db.cluster import LocalCluster
from gridmap.db.session import session_scope
from gridmap.ingest.service import import_files
from gridmap.partition.service import partition_db
from gridmap.requests.simulate import simulate_requests
from gridmap.settings import Settings
from tests.conftest import NANJING_OSM, make_database, serving

NOW = datetime(2026, 6, 30, 4, 0, tzinfo=UTC)
HOSTILE = "楼道堆物 <script>alert(1)</script> & 纸箱"


@pytest.fixture(scope="module")
def live(cluster: LocalCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    url = make_database(cluster, "open311")
    engine = create_engine(url)
    settings = Settings(
        home=tmp_path_factory.mktemp("o311"), database_url=url, secret_key="open311-test-secret-key-long-enough"
    )
    with session_scope(engine) as session:
        import_files(session=session, settings=settings, paths=[NANJING_OSM])
        partition_db(session=session, params=settings.partition, publish=True, code_prefix="320102003000")
        simulate_requests(session, days=7, end=NOW, settings=settings.requests, per_day=20, seed=5)
    with engine.connect() as conn:
        points = conn.execute(
            text("SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) p FROM grids ORDER BY code) g LIMIT 3")
        ).all()
    clock = {"now": NOW}
    with serving(create_app(settings, engine=engine, clock=lambda: clock["now"])) as base:
        root = f"{base}/open311/v2"
        made = []
        reports = [("garbage", "垃圾桶满了"), ("garbage", HOSTILE), ("illegal_parking", "车辆乱停堵住消防通道")]
        for (lon, lat), (code, description) in zip(points, reports, strict=True):
            form = {"service_code": code, "lat": lat, "long": lon, "description": description, "phone": "13812345678"}
            answer = requests.post(f"{root}/requests.json", data=form, timeout=30)
            assert answer.status_code == 201, answer.text
            made.append(answer.json()[0]["service_request_id"])
        yield {"root": root, "engine": engine, "made": made, "clock": clock}
    engine.dispose()


def _public_ids(live: dict[str, Any]) -> set[str]:
    with live["engine"].connect() as conn:
        rows = conn.execute(text("SELECT id FROM requests WHERE channel = 'open311'")).scalars()
        return {str(i) for i in rows}


def test_services_and_definitions_through_the_client(live: dict[str, Any]) -> None:
    client = GeoReport(live["root"])
    services = client.get_service_list()
    with live["engine"].connect() as conn:
        active = set(conn.execute(text("SELECT code FROM request_categories WHERE active")).scalars())
    assert {s["service_code"] for s in services} == active
    assert client.get_service_definition("garbage") == {"service_code": "garbage", "attributes": []}
    xml = GeoReport(live["root"], output_format="xml").get_service_list()
    assert {s["service_code"] for s in xml} == active
    missing = requests.get(f"{live['root']}/services/no-such-thing.json", timeout=30)
    assert missing.status_code == 404 and missing.json()[0]["code"] == 404


def test_search_by_ids_codes_and_status(live: dict[str, Any]) -> None:
    client = GeoReport(live["root"])
    made = live["made"]
    found = client.get_service_requests(service_request_id=",".join(made))
    assert sorted(r["service_request_id"] for r in found) == sorted(made)
    for row in found:  # what the public sees: the street, not the door, and nobody's phone
        assert row["address"] is None and "13812345678" not in str(row)
        assert round(row["lat"], 3) == row["lat"] and round(row["long"], 3) == row["long"]
    garbage = client.get_service_requests(service_code="garbage", status="open")
    assert {r["service_request_id"] for r in garbage} == set(made[:2])
    assert client.get_service_requests(status="closed") == []
    assert client.get_service_request(made[2])["service_code"] == "illegal_parking"


def test_the_default_window_lists_public_requests_only(live: dict[str, Any]) -> None:
    listed = GeoReport(live["root"]).get_service_requests()
    assert {r["service_request_id"] for r in listed} == _public_ids(live)  # no staff or simulated request
    with live["engine"].connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM requests WHERE channel <> 'open311'")).scalar_one() > 0


def test_a_period_outside_the_window_or_longer_than_90_days(live: dict[str, Any]) -> None:
    client = GeoReport(live["root"])
    assert client.get_service_requests(start_date="2025-01-01T00:00:00Z", end_date="2025-02-01T00:00:00Z") == []
    since = (NOW - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert len(client.get_service_requests(start_date=since)) == len(_public_ids(live))
    long = requests.get(
        f"{live['root']}/requests.json", params={"start_date": "2026-01-01", "end_date": "2026-06-01"}, timeout=30
    )
    assert long.status_code == 400 and "90" in long.json()[0]["description"]
    wrong = requests.get(f"{live['root']}/requests.json", params={"status": "pending"}, timeout=30)
    assert wrong.status_code == 400 and "closed, open" in wrong.json()[0]["description"]
    bad_id = requests.get(f"{live['root']}/requests.json", params={"service_request_id": "1,x"}, timeout=30)
    assert bad_id.status_code == 400


def test_pages_link_to_the_next(live: dict[str, Any]) -> None:
    first = requests.get(f"{live['root']}/requests.json", params={"page_size": 2}, timeout=30)
    assert len(first.json()) == 2 and first.headers["X-Total-Count"] == str(len(_public_ids(live)))
    rest = requests.get(first.links["next"]["url"], timeout=30).json()
    seen = [r["service_request_id"] for r in first.json() + rest]
    assert sorted(seen) == sorted(_public_ids(live)) and "next" not in requests.get(first.links["next"]["url"]).links


def test_xml_answers_parse_and_escape_what_residents_typed(live: dict[str, Any]) -> None:
    client = GeoReport(live["root"], output_format="xml")
    found = client.get_service_requests(service_request_id=",".join(live["made"][:2]))
    assert {r["description"] for r in found} == {"垃圾桶满了", HOSTILE}
    raw = requests.get(f"{live['root']}/requests/{live['made'][1]}.xml", timeout=30)
    assert raw.headers["content-type"].startswith("text/xml") and b"<script>" not in raw.content
    assert ET.fromstring(raw.content).find("request/description").text == HOSTILE  # type: ignore[union-attr]
    error = ET.fromstring(requests.get(f"{live['root']}/requests/999999.xml", timeout=30).content)
    assert error.tag == "errors" and error.find("error/code").text == "404"  # type: ignore[union-attr]


def test_discovery_names_the_endpoint_and_formats(live: dict[str, Any]) -> None:
    body = requests.get(f"{live['root']}/discovery.json", timeout=30).json()
    endpoint = body["endpoints"][0]
    assert endpoint["url"] == live["root"] and endpoint["formats"] == ["application/json", "text/xml"]
    xml = ET.fromstring(requests.get(f"{live['root']}/discovery.xml", timeout=30).content)
    assert [f.text for f in xml.iter("format")] == ["application/json", "text/xml"]
