"""Busy maps do not hold up ``/healthz``, intake or each other's neighbours: each kind of work has its own threads.

50 people on the map pages took every thread of the pool that synchronous routes share and held ``/healthz`` up
to 11 s. Here the threads are taken by holding their tokens, which is what a long map render does to them.
"""

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import anyio
import anyio.to_thread
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine

from gridmap.api import threads
from gridmap.api.main import create_app
from gridmap.auth.service import create_user
from gridmap.db.cluster import LocalCluster
from gridmap.db.models import Role
from gridmap.db.session import session_scope
from gridmap.settings import Settings
from tests.conftest import make_database

pytestmark = pytest.mark.db
ANSWER_SECONDS = 10.0  # a request waiting for a thread would wait for as long as the threads are held


@pytest.fixture(scope="module")
def client(cluster: LocalCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    url = make_database(cluster, "responsive_test")
    engine = create_engine(url)
    with session_scope(engine) as session:
        create_user(session=session, username="leader", password="secret", role=Role.leader, weak_password=True)
    settings = Settings(
        home=tmp_path_factory.mktemp("home"), database_url=url, secret_key="test-secret-key-that-is-long-enough-ok"
    )
    with TestClient(create_app(settings, engine=engine)) as c:
        yield c
    engine.dispose()


def _leader(client: TestClient) -> dict[str, str]:
    token = client.post("/api/auth/token", data={"username": "leader", "password": "secret"}).json()
    return {"Authorization": f"Bearer {token['access_token']}"}


def _status_while_held(client: TestClient, limiter: anyio.CapacityLimiter, path: str, **kw: Any) -> int:
    """The status of GET ``path`` while every token of ``limiter`` is held by someone else.

    The path is asked once before, as a signed-in user's browser did: the session is then in the server's cache.
    """
    assert client.get(path, **kw).status_code == 200
    holders = [object() for _ in range(int(limiter.total_tokens))]

    async def hold() -> None:
        for holder in holders:
            await limiter.acquire_on_behalf_of(holder)

    async def release() -> None:
        for holder in holders:
            limiter.release_on_behalf_of(holder)

    assert client.portal is not None
    pool = ThreadPoolExecutor(1)
    client.portal.call(hold)
    try:
        answer = pool.submit(client.get, path, **kw)
        return int(answer.result(timeout=ANSWER_SECONDS).status_code)
    finally:
        client.portal.call(release)  # before waiting for the request: it may be waiting for these very threads
        pool.shutdown()


def _shared(client: TestClient) -> anyio.CapacityLimiter:
    assert client.portal is not None
    return client.portal.call(anyio.to_thread.current_default_thread_limiter)


def test_healthz_answers_while_every_shared_thread_is_busy(client: TestClient) -> None:
    assert _status_while_held(client, _shared(client), "/healthz") == 200


def test_map_layers_answer_while_every_shared_thread_is_busy(client: TestClient) -> None:
    assert _status_while_held(client, _shared(client), "/api/grids", headers=_leader(client)) == 200


def test_other_routes_answer_while_every_map_thread_is_busy(client: TestClient) -> None:
    assert _status_while_held(client, threads.MAPS, "/api/stats", headers=_leader(client)) == 200
