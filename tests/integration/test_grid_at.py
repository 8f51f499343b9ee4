"""The hit test of the city coverage page: which grid of the published plan holds a point, and what it reads."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from gridmap.api.main import create_app
from gridmap.auth.service import create_user
from gridmap.db.cluster import LocalCluster
from gridmap.db.models import Role
from gridmap.db.session import session_scope
from gridmap.ingest.service import import_files
from gridmap.maps import data
from gridmap.partition.service import partition_db
from gridmap.settings import Settings
from tests.conftest import NANJING_OSM, make_database

pytestmark = pytest.mark.db
AT = "/api/plans/published/grids/at"
CHINESE = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def world(cluster: LocalCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    url = make_database(cluster, "grid_at_test")
    engine = create_engine(url)
    settings = Settings(
        home=tmp_path_factory.mktemp("home"), database_url=url, secret_key="grid-at-test-secret-key-long-enough"
    )
    with session_scope(engine) as session:
        import_files(session=session, settings=settings, paths=[NANJING_OSM])
        partition_db(session=session, params=settings.partition, publish=True, code_prefix="320102003000")
        grids = (
            session.execute(
                text(
                    "SELECT g.code, g.households, g.n_buildings, ST_X(p) AS lon, ST_Y(p) AS lat FROM grids g "
                    "JOIN grid_plans pl ON pl.id = g.plan_id AND pl.status = 'published', "
                    "LATERAL ST_PointOnSurface(g.geom) p ORDER BY g.code"
                )
            )
            .mappings()
            .all()
        )
        for name, role in (("leader", Role.leader), ("planner", Role.planner)):
            create_user(session=session, username=name, password="secret", role=role, weak_password=True)
        create_user(
            session=session,
            username="worker",
            password="secret",
            role=Role.grid_worker,
            grids=[grids[0]["code"]],
            weak_password=True,
        )
    with TestClient(create_app(settings, engine=engine)) as client:
        tokens = {
            who: client.post("/api/auth/token", data={"username": who, "password": "secret"}).json()["access_token"]
            for who in ("leader", "worker")
        }
        yield {"client": client, "grids": [dict(g) for g in grids], "tokens": tokens, "engine": engine}
    engine.dispose()


def _get(world: dict[str, Any], who: str = "leader", **params: Any) -> Any:
    return world["client"].get(AT, params=params, headers={"Authorization": f"Bearer {world['tokens'][who]}"})


def test_a_point_inside_a_grid_answers_that_grid(world: dict[str, Any]) -> None:
    grid = world["grids"][3]
    body = _get(world, lon=grid["lon"], lat=grid["lat"]).json()
    assert body == {
        "code": grid["code"],
        "name": f"第{int(grid['code'][12:])}网格",
        "community_code": "320102003000",
        "community": body["community"],
        "households": grid["households"],
        "n_buildings": grid["n_buildings"],
        "staffed": False,
    }


def test_a_staffed_grid_says_so_without_naming_the_worker(world: dict[str, Any]) -> None:
    grid = world["grids"][0]
    body = _get(world, lon=grid["lon"], lat=grid["lat"]).json()
    assert body["staffed"] is True and "worker" not in str(body)


def test_a_point_outside_every_grid_is_404_in_chinese(world: dict[str, Any]) -> None:
    answer = _get(world, lon=0.0, lat=0.0)
    assert answer.status_code == 404 and answer.json()["error"] == "NotFound"
    assert CHINESE.search(answer.json()["detail"])


@pytest.mark.parametrize(
    "params",
    [
        {"lon": 200, "lat": 32},
        {"lon": 118.78, "lat": -91},
        {"lon": "east", "lat": 32},
        {"lon": "nan", "lat": 32},
        {"lat": 32},
    ],
)
def test_bad_coordinates_are_422(world: dict[str, Any], params: dict[str, Any]) -> None:
    answer = _get(world, **params)
    assert answer.status_code == 422 and answer.json()["problems"]


def test_a_grid_worker_may_not_ask(world: dict[str, Any]) -> None:
    grid = world["grids"][0]
    assert _get(world, "worker", lon=grid["lon"], lat=grid["lat"]).status_code == 403


def test_a_city_draws_some_unassigned_buildings_and_counts_all(world: dict[str, Any]) -> None:
    with session_scope(world["engine"]) as session:
        plan = session.scalar(text("SELECT id FROM grid_plans WHERE status = 'published'"))
        _, before = data.unassigned_sample(session, plan, 10_000)
        session.execute(
            text(
                "INSERT INTO buildings (source_id, footprint_m2, is_residential, households, households_source, geom) "
                "SELECT 'test:loose-' || i, 100, true, 10, 'estimated', "
                "ST_Multi(ST_Buffer(ST_SetSRID(ST_MakePoint(118.70 + i * 0.001, 32.10), 4326), 0.0002)) "
                "FROM generate_series(1, 3) i"
            )
        )
        drawn, total = data.unassigned_sample(session, plan, before + 2)
        session.rollback()
    assert (len(drawn), total) == (before + 2, before + 3)


def test_the_city_page_asks_for_the_unassigned_buildings_counted_and_capped(world: dict[str, Any]) -> None:
    with world["engine"].begin() as conn:
        conn.execute(
            text(
                "INSERT INTO buildings (source_id, footprint_m2, is_residential, households, households_source, geom) "
                "SELECT 'test:api-loose-' || i, 100, true, 10, 'estimated', "
                "ST_Multi(ST_Buffer(ST_SetSRID(ST_MakePoint(118.70 + i * 0.001, 32.12), 4326), 0.0002)) "
                "FROM generate_series(1, 3) i"
            )
        )
    headers = {"Authorization": f"Bearer {world['tokens']['leader']}"}
    every = world["client"].get("/api/plans/published/unassigned", headers=headers).json()
    two = world["client"].get("/api/plans/published/unassigned?limit=2", headers=headers).json()
    assert every["total"] == two["total"] == len(every["features"]) >= 3 and len(two["features"]) == 2
    assert world["client"].get("/api/plans/published/unassigned?limit=-1", headers=headers).status_code == 422
