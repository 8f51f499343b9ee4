"""The GeoJSON layers answer in bounded pages, and a giant feature (imported before the caps) is sent simplified."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import shapely
import shapely.geometry
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from gridmap.api.main import create_app
from gridmap.auth.service import create_user
from gridmap.db.cluster import LocalCluster
from gridmap.db.models import Role
from gridmap.db.session import session_scope
from gridmap.ingest.service import import_files
from gridmap.maps import data
from gridmap.partition.service import partition_db
from gridmap.settings import LimitSettings, Settings
from tests.conftest import NANJING_OSM, make_database

pytestmark = pytest.mark.db
GIANT = 400_000  # vertices of the building planted below (the probe's had 10 million)


@pytest.fixture(scope="module")
def world(cluster: LocalCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    url = make_database(cluster, "layers_test")
    engine = create_engine(url)
    settings = Settings(
        home=tmp_path_factory.mktemp("home"),
        database_url=url,
        secret_key="layers-test-secret-key-long-enough-x",
        limits=LimitSettings(layer_vertices=2_000),
    )
    with session_scope(engine) as session:
        import_files(session=session, settings=settings, paths=[NANJING_OSM])
        partition_db(session=session, params=settings.partition, publish=True)
        create_user(session=session, username="leader", password="secret", role=Role.leader, weak_password=True)
        plan = session.scalar(text("SELECT id FROM grid_plans WHERE status = 'published'"))
        giant = session.scalar(
            text(
                "INSERT INTO buildings (source_id, name, footprint_m2, is_residential, households, households_source, "
                "geom) "
                "SELECT 'test:giant', '巨型楼', 7800, true, 1, 'estimated', ST_Multi(ST_Buffer("
                "(SELECT ST_PointOnSurface(geom) FROM buildings WHERE is_residential ORDER BY id LIMIT 1), 0.0005, "
                f"'quad_segs={GIANT // 4}')) RETURNING id"
            )
        )
    app = create_app(settings, engine=engine)
    with TestClient(app) as client:
        token = client.post("/api/auth/token", data={"username": "leader", "password": "secret"}).json()
        client.headers["Authorization"] = f"Bearer {token['access_token']}"
        yield {"client": client, "plan": plan, "giant": giant, "engine": engine}
    engine.dispose()


def _pages(client: TestClient, url: str) -> list[dict[str, Any]]:
    pages = [client.get(url).json()]
    while link := next((x["href"] for x in pages[-1].get("links", []) if x["rel"] == "next"), None):
        pages.append(client.get(link).json())
    return pages


def _vertices(geometry: dict[str, Any]) -> int:
    return int(shapely.get_num_coordinates(shapely.geometry.shape(geometry)))


LAYERS = ["/api/plans/{plan}/buildings", "/api/plans/{plan}/grids", "/api/streets", "/api/grids"]


@pytest.mark.parametrize("layer", LAYERS)
def test_the_pages_of_a_layer_add_up_to_all_of_it_once(world: dict[str, Any], layer: str) -> None:
    pages = _pages(world["client"], layer.format(plan=world["plan"]) + "?limit=100")
    ids = [json.dumps(f, sort_keys=True) for page in pages for f in page["features"]]
    assert (len(ids), len(set(ids))) == (pages[0]["numberMatched"], pages[0]["numberMatched"])


@pytest.mark.parametrize("layer", LAYERS)
def test_a_page_holds_at_most_its_vertex_budget_or_one_feature(world: dict[str, Any], layer: str) -> None:
    pages = _pages(world["client"], layer.format(plan=world["plan"]))
    overs = [sum(_vertices(f["geometry"]) for f in page["features"]) for page in pages if len(page["features"]) > 1]
    assert max(overs) <= 2_000, overs


def test_a_giant_building_comes_back_simplified_without_zoom(world: dict[str, Any]) -> None:
    """400,000 vertices were sent as they are (the probe's 10 million: 228 MB); now at most 10,000."""
    pages = _pages(world["client"], f"/api/plans/{world['plan']}/buildings")
    giant = next(f for page in pages for f in page["features"] if f["properties"]["building_id"] == world["giant"])
    assert _vertices(giant["geometry"]) <= 10_000


def test_the_maps_read_the_giant_building_fitted_from_the_database(world: dict[str, Any]) -> None:
    """The folium maps simplified it in Python after reading all of it (10 million vertices: 47 s and 4.2 GB)."""
    with world["engine"].connect() as conn, Session(bind=conn) as session:
        homes = data.plan_buildings(session, world["plan"])
    giant = homes.loc[homes["building_id"] == world["giant"], "geometry"].iloc[0]
    assert shapely.get_num_coordinates(giant) <= 10_000
