"""Test fixtures: a throwaway PostGIS cluster of the tests' own, never the demo's."""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session

from gridmap.db.cluster import LocalCluster
from gridmap.db.session import migrate
from gridmap.requests.link_tokens import new_token, token_digest
from gridmap.settings import Settings

DATA = Path(__file__).resolve().parents[1] / "data" / "boundaries"
PARTITION_INPUTS = DATA / "partition_inputs"  # the two extracts in the partition file layout (see its README)
NANJING_OSM = DATA / "osm" / "nanjing_xinjiekou_2021-06.osm"
WANGJING_OSM = DATA / "osm" / "beijing_wangjing_2020-09.osm"
_skipped: list[str] = []


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def cluster() -> Iterator[LocalCluster]:
    """A throwaway PostgreSQL cluster in a temporary directory (fsync off, trust), removed afterwards."""
    root = Path(tempfile.mkdtemp(prefix="gridmap-test-"))
    root.chmod(0o755)  # the postgres OS user (when we are root) must reach its data directory
    url = os.environ.get("GRIDMAP_TEST_DATABASE_URL")
    if url:
        pytest.fail("GRIDMAP_TEST_DATABASE_URL is not supported: tests always run their own cluster")
    c = LocalCluster(data_dir=root / "pg", port=_free_port(), throwaway=True)
    c.start()
    yield c
    c.destroy()
    shutil.rmtree(root, ignore_errors=True)


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """``app`` served by uvicorn on a free port of 127.0.0.1 in a thread, for real HTTP clients; yields its URL."""
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def make_database(cluster: LocalCluster, name: str) -> str:
    """Create database ``name`` with PostGIS, migrate it, return its URL."""
    cluster.ensure_database(name)
    url = f"postgresql+psycopg2://postgres@127.0.0.1:{cluster.port}/{name}"
    migrate(url)
    return url


def resident_link(engine: Engine, request_id: int) -> str:
    """A new link token for a request, as a resident holds it (the database keeps only its digest).

    For requests the tests report as staff, whose token was answered to no one.
    """
    token = new_token()
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE requests SET rating_token = :digest WHERE id = :id"),
            {"digest": token_digest(token), "id": request_id},
        )
    return token


@pytest.fixture(scope="session")
def db_url(cluster: LocalCluster) -> str:
    """URL of the migrated test database."""
    return make_database(cluster, "gridmap_test")


@pytest.fixture(scope="session")
def engine(db_url: str) -> Iterator[Engine]:
    """Engine on the test database."""
    eng = create_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session whose work is rolled back after the test (commits become savepoints)."""
    connection = engine.connect()
    outer = connection.begin()
    s = Session(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
    yield s
    s.close()
    outer.rollback()
    connection.close()


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    """Settings pointing at the test database, with a state directory of the test's own."""
    return Settings(
        home=tmp_path / "home", database_url=db_url, secret_key="test-secret-key-that-is-long-enough-for-hs256"
    )


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Remember skipped tests: a skipped test fails the run (an expected failure, reported as skipped, does not)."""
    if report.skipped and not hasattr(report, "wasxfail"):
        _skipped.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run when anything was skipped."""
    if _skipped and exitstatus == 0:
        session.exitstatus = 1
        print(f"\n{len(_skipped)} test(s) skipped; skipped tests fail the run: {', '.join(_skipped)}")  # noqa: T201
