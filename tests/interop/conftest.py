"""A live gridmap server (新街口 data, published plan, simulated requests) for clients nobody here wrote."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

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

NOW = datetime(2026, 6, 30, 4, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def live(cluster: LocalCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    url = make_database(cluster, "interop_test")
    engine = create_engine(url)
    settings = Settings(
        home=tmp_path_factory.mktemp("home"), database_url=url, secret_key="interop-test-secret-key-long-enough-x"
    )
    with session_scope(engine) as session:
        import_files(session=session, settings=settings, paths=[NANJING_OSM])
        partition_db(session=session, params=settings.partition, publish=True, code_prefix="320102003000")
        codes = list(session.scalars(text("SELECT code FROM grids ORDER BY code")).all())
        create_user(session=session, username="leader", password="secret", role=Role.leader, weak_password=True)
        create_user(
            session=session,
            username="worker",
            password="secret",
            role=Role.grid_worker,
            grids=codes[3:5],
            weak_password=True,
        )
        create_user(session=session, username="dept", password="secret", role=Role.department, weak_password=True)
        simulate_requests(session, days=14, end=NOW, settings=settings.requests, per_day=30, seed=1)
    with serving(create_app(settings, engine=engine, clock=lambda: NOW)) as base:
        tokens = {
            name: httpx.post(f"{base}/api/auth/token", data={"username": name, "password": "secret"}).json()[
                "access_token"
            ]
            for name in ("leader", "worker", "dept")
        }
        yield {"base": base, "engine": engine, "worker_grids": codes[3:5], "grids": codes, "tokens": tokens}
    engine.dispose()
