"""Durability and operations: an embedded cluster that holds data (fsync, passwords), the database going down
under a stream of reports, backup and restore, retention of the audit trail, Ctrl-C on the server.

These tests run a durable cluster of their own (not the throwaway test cluster): it is killed and restarted.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg2
import pytest
import uvicorn
from sqlalchemy import Engine, create_engine, func, select, text
from sqlalchemy.orm import Session

from gridmap.api.main import create_app
from gridmap.auth.service import create_user
from gridmap.db.cluster import LocalCluster
from gridmap.db.models import RequestEvent, Role, ServiceRequest
from gridmap.db.session import migrate, session_scope
from gridmap.ingest.service import import_files
from gridmap.partition.service import partition_db
from gridmap.requests.retention import FINISHED, purge_request_events
from gridmap.requests.simulate import simulate_requests
from gridmap.settings import NotifySettings, Settings
from tests.conftest import NANJING_OSM

pytestmark = pytest.mark.db
GRIDMAP = [sys.executable, "-m", "gridmap.cli"]
SIMULATED_END = datetime(2025, 1, 1, tzinfo=UTC)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def durable() -> Iterator[dict[str, Any]]:
    """A durable embedded cluster in ``home/pg`` (as ``gridmap`` makes it) with the 新街口 data and old requests."""
    root = _reachable_dir()
    home = root / "home"
    cluster = LocalCluster(data_dir=home / "pg", port=_free_port())
    cluster.start()
    cluster.ensure_database("gridmap")
    url = cluster.url("gridmap")
    migrate(url)
    engine = create_engine(url, pool_pre_ping=True)  # the tests' own checks, across the restarts below
    settings = Settings(
        home=home,
        db_port=cluster.port,
        secret_key="durability-test-secret-key-long-enough",
        notify=NotifySettings(enabled=False),
    )
    with session_scope(engine) as session:
        import_files(session=session, settings=settings, paths=[NANJING_OSM])
        partition_db(session=session, params=settings.partition, publish=True, code_prefix="320102003000")
        codes = list(session.scalars(text("SELECT code FROM grids ORDER BY code")).all())
        create_user(
            session=session,
            username="worker",
            password="secret",
            role=Role.grid_worker,
            grids=codes,
            weak_password=True,
        )
        simulate_requests(session, days=20, end=SIMULATED_END, settings=settings.requests, per_day=20, seed=3)
        spots = session.execute(
            text("SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) p FROM grids) g ORDER BY 1")
        ).all()
    yield {"cluster": cluster, "home": home, "url": url, "engine": engine, "settings": settings, "spots": spots}
    engine.dispose()
    cluster.destroy()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def scratch() -> Iterator[Path]:
    root = _reachable_dir()
    yield root
    shutil.rmtree(root, ignore_errors=True)


def _reachable_dir() -> Path:
    """A temporary folder the postgres OS user (when we are root) can reach (pytest's are private to us)."""
    root = Path(tempfile.mkdtemp(prefix="gridmap-durable-"))
    root.chmod(0o755)
    return root


def _env(durable: dict[str, Any], **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "GRIDMAP_HOME": str(durable["home"]),
        "GRIDMAP_DB_PORT": str(durable["cluster"].port),
        "GRIDMAP_DATABASE_URL": "",
        "COLUMNS": "300",
        **extra,
    }


def _gridmap(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*GRIDMAP, *args], capture_output=True, text=True, env=env, timeout=300)


# --- the embedded cluster: passwords, fsync ---------------------------------------------------------------------


def test_a_tcp_connection_without_the_password_is_refused(durable: dict[str, Any]) -> None:
    with pytest.raises(psycopg2.OperationalError, match="password"):
        psycopg2.connect(host="127.0.0.1", port=durable["cluster"].port, user="postgres", dbname="gridmap")


def test_a_wrong_password_is_refused_for_replication_too(durable: dict[str, Any]) -> None:
    with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
        psycopg2.connect(
            host="127.0.0.1", port=durable["cluster"].port, user="postgres", password="guess", replication="true"
        )


def test_the_password_file_is_readable_by_its_owner_only(durable: dict[str, Any]) -> None:
    assert durable["cluster"].password_file.stat().st_mode & 0o777 == 0o600


def test_a_cluster_that_holds_data_runs_with_fsync(durable: dict[str, Any]) -> None:
    with durable["engine"].connect() as conn:
        assert conn.execute(text("SHOW fsync")).scalar_one() == "on"


def test_a_cluster_made_with_trust_gets_a_password_when_started(scratch: Path) -> None:
    port = _free_port()
    old = LocalCluster(data_dir=scratch / "pg", port=port, throwaway=True)  # as gridmap made them before
    old.start()
    old.stop()
    cluster = LocalCluster(data_dir=scratch / "pg", port=port)
    try:
        cluster.start()
        with pytest.raises(psycopg2.OperationalError, match="password"):
            psycopg2.connect(host="127.0.0.1", port=port, user="postgres", dbname="postgres")
    finally:
        cluster.destroy()


# --- the database going down ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def live(durable: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """A server on the durable cluster, and a grid worker's token."""
    settings = durable["settings"]
    port = _free_port()
    app = create_app(settings)  # the app's own engine and pools, as `gridmap serve` runs it
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    for _ in range(200):
        if srv.started:
            break
        time.sleep(0.1)
    base = f"http://127.0.0.1:{port}"
    token = httpx.post(f"{base}/api/auth/token", data={"username": "worker", "password": "secret"}).json()
    yield {"base": base, "headers": {"Authorization": f"Bearer {token['access_token']}"}}
    srv.should_exit = True
    thread.join(timeout=15)


def _kill(cluster: LocalCluster) -> None:
    """Stop the postmaster the hard way: no shutdown checkpoint, clients cut off (crash recovery on start)."""
    subprocess.run(cluster._cmd("pg_ctl", "-D", str(cluster.data_dir), "-m", "immediate", "-w", "stop"), check=True)


def _wait_healthy(base: str, seconds: float = 60) -> float:
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return time.monotonic() - start
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError("the server did not recover")


def test_while_the_database_is_down_the_api_answers_503_with_retry_after(
    durable: dict[str, Any], live: dict[str, Any]
) -> None:
    _kill(durable["cluster"])
    try:
        x, y = durable["spots"][0]
        answers = [
            httpx.get(f"{live['base']}/healthz", timeout=10),
            httpx.post(
                f"{live['base']}/api/requests",
                json={"category": "garbage", "lon": x, "lat": y, "description": "数据库停了"},
                headers={**live["headers"], "Idempotency-Key": "down-1"},
                timeout=10,
            ),
            httpx.get(f"{live['base']}/api/requests", headers=live["headers"], timeout=10),
        ]
    finally:
        durable["cluster"].start()
    seen = [
        (a.status_code, a.headers.get("retry-after"), a.json()["error"], "数据库" in a.json()["detail"])
        for a in answers
    ]
    assert seen == [(503, "5", "DatabaseUnavailable", True)] * 3


def _report(base: str, headers: dict[str, str], body: dict[str, Any], key: str, log: list[str]) -> tuple[int, int]:
    """Send one report until it is answered 200/201, retrying on 503 and lost connections; (status, id)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            answer = httpx.post(
                f"{base}/api/requests", json=body, headers={**headers, "Idempotency-Key": key}, timeout=10
            )
        except httpx.HTTPError as exc:
            log.append(type(exc).__name__)
        else:
            if answer.status_code in (200, 201):
                return answer.status_code, int(answer.json()["id"])
            assert answer.status_code == 503, answer.text  # anything else is not a retry matter
            log.append("503")
        time.sleep(0.2)
    raise AssertionError(f"report {key} was never stored")


def test_killing_the_postmaster_under_a_stream_of_reports_loses_and_duplicates_nothing(
    durable: dict[str, Any], live: dict[str, Any]
) -> None:
    count, spots, cluster = 240, durable["spots"], durable["cluster"]
    bodies = [
        (
            f"kill-{i}",
            {"category": "noise", "lon": spots[i % len(spots)][0], "lat": spots[i % len(spots)][1]}
            | {"description": f"kill-{i}"},
        )
        for i in range(count)
    ]
    retries: list[str] = []
    sent: list[int] = []

    def killer() -> None:
        while len(sent) < count // 4:
            time.sleep(0.01)
        _kill(cluster)
        time.sleep(3)
        cluster.start()

    def one(item: tuple[str, dict[str, Any]]) -> tuple[int, int]:
        result = _report(live["base"], live["headers"], item[1], item[0], retries)
        sent.append(1)
        return result

    chaos = threading.Thread(target=killer)
    chaos.start()
    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(one, bodies))
    chaos.join()
    # Every answer lost after all: each report sent once more with its key is answered with the stored one.
    again = [_report(live["base"], live["headers"], body, key, retries) for key, body in bodies]
    with durable["engine"].connect() as conn:
        stored = dict(
            conn.execute(
                text(
                    "SELECT description, count(*) FROM requests WHERE description LIKE 'kill-%' GROUP BY description"
                )
            ).all()
        )
    print(f"sent {count}, stored {len(stored)}, retried {len(retries)} times: {sorted(set(retries))}")  # noqa: T201
    assert (
        len(stored),
        sum(stored.values()),
        [a[1] for a in again] == [a[1] for a in answers],
        {a[0] for a in again},
        "503" in retries,
    ) == (count, count, True, {200}, True)


# --- backup and restore -----------------------------------------------------------------------------------------


def _counts(url: str) -> dict[str, int]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return {
                t: int(conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one())
                for t in ("buildings", "grids", "requests", "request_events", "users")
            }
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def dump(durable: dict[str, Any]) -> Path:
    path = durable["home"].parent / "backups" / "gridmap.dump"
    done = _gridmap(["db", "backup", str(path)], _env(durable))
    assert done.returncode == 0, done.stderr
    return path


def test_a_backup_restores_into_an_empty_database_with_the_same_counts(durable: dict[str, Any], dump: Path) -> None:
    done = _gridmap(["db", "restore", str(dump)], _env(durable, GRIDMAP_DB_NAME="restored"))
    assert done.returncode == 0, done.stderr
    assert _counts(durable["cluster"].url("restored")) == _counts(durable["url"])


def test_a_backup_file_is_readable_by_its_owner_only(dump: Path) -> None:
    assert dump.stat().st_mode & 0o777 == 0o600


def test_restoring_over_a_database_that_holds_data_needs_force(durable: dict[str, Any], dump: Path) -> None:
    done = _gridmap(["db", "restore", str(dump)], _env(durable))
    assert (done.returncode, "--force" in done.stderr) == (2, True)


def test_a_forced_restore_saves_the_content_before_and_restores_the_backup(
    durable: dict[str, Any], dump: Path
) -> None:
    env = _env(durable, GRIDMAP_DB_NAME="forced")
    assert _gridmap(["db", "start"], env).returncode == 0  # a database holding the (empty) schema
    done = _gridmap(["db", "restore", str(dump), "--force"], env)
    assert done.returncode == 0, done.stderr
    saved = list((durable["home"] / "backups").glob("before-restore-*.dump"))
    assert (len(saved), _counts(durable["cluster"].url("forced"))) == (1, _counts(durable["url"]))


def test_a_file_that_is_not_a_backup_is_refused_before_anything_is_touched(
    durable: dict[str, Any], tmp_path: Path
) -> None:
    bad = tmp_path / "not-a-dump.dump"
    bad.write_text("SELECT 1;")
    done = _gridmap(["db", "restore", str(bad), "--force"], _env(durable))
    assert (done.returncode, "is not a backup" in done.stderr, _counts(durable["url"])["buildings"] > 0) == (
        2,
        True,
        True,
    )


# --- retention of the audit trail -------------------------------------------------------------------------------


@pytest.fixture
def rolled_back(durable: dict[str, Any]) -> Iterator[Session]:
    engine: Engine = durable["engine"]
    connection = engine.connect()
    outer = connection.begin()
    session = Session(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
    yield session
    session.close()
    outer.rollback()
    connection.close()


def _trails(session: Session, younger_than: datetime) -> dict[int, int]:
    """Events per request whose last event is at or after ``younger_than``."""
    rows = session.execute(
        select(RequestEvent.request_id, func.count())
        .group_by(RequestEvent.request_id)
        .having(func.max(RequestEvent.at) >= younger_than)
    ).all()
    return {int(r): int(n) for r, n in rows}


def test_the_audit_trail_is_kept_for_the_retention_period(rolled_back: Session) -> None:
    now = SIMULATED_END - timedelta(days=10) + timedelta(days=180)  # half the simulated trails are older
    young = _trails(rolled_back, now - timedelta(days=180))
    purge_request_events(session=rolled_back, days=180, now=now)
    assert _trails(rolled_back, now - timedelta(days=180)) == young


def test_purging_the_audit_trail_removes_only_whole_trails_of_finished_requests(rolled_back: Session) -> None:
    cutoff = SIMULATED_END - timedelta(days=5)
    deleted = purge_request_events(session=rolled_back, days=180, now=cutoff + timedelta(days=180))
    last = func.max(RequestEvent.at)
    left = rolled_back.execute(
        select(ServiceRequest.status, last).join(RequestEvent).group_by(ServiceRequest.id, ServiceRequest.status)
    ).all()
    assert deleted > 0
    assert [(s, at) for s, at in left if s in FINISHED and at < cutoff] == []


def test_a_retention_below_180_days_is_refused(rolled_back: Session) -> None:
    with pytest.raises(ValueError, match="180"):
        purge_request_events(session=rolled_back, days=179, now=datetime.now(UTC))


# --- Ctrl-C -----------------------------------------------------------------------------------------------------


def _serve_then_interrupt(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    port = _free_port()
    proc = subprocess.Popen(
        [*GRIDMAP, "serve", "--port", str(port)],
        env={**env, "GRIDMAP_NOTIFY__ENABLED": "false"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        _wait_healthy(f"http://127.0.0.1:{port}", seconds=180)
    finally:
        os.killpg(proc.pid, signal.SIGINT)  # as Ctrl-C in a terminal: to the whole process group
    out, _ = proc.communicate(timeout=60)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, "")


def test_ctrl_c_stops_the_postgresql_the_server_started(scratch: Path) -> None:
    home, port = scratch / "home", _free_port()
    env = {**os.environ, "GRIDMAP_HOME": str(home), "GRIDMAP_DB_PORT": str(port), "GRIDMAP_DATABASE_URL": ""}
    done = _serve_then_interrupt({**env, "COLUMNS": "300"})
    cluster = LocalCluster(data_dir=home / "pg", port=port)
    running = cluster.running()
    cluster.destroy()
    assert (done.returncode, "stopped the embedded PostgreSQL" in done.stdout, running) == (0, True, False)


def test_ctrl_c_says_how_to_stop_a_postgresql_it_did_not_start(durable: dict[str, Any]) -> None:
    done = _serve_then_interrupt(_env(durable))
    assert (done.returncode, "gridmap db stop" in done.stdout, durable["cluster"].running()) == (0, True, True)


def test_ctrl_c_while_the_demo_prepares_stops_the_postgresql_it_started(scratch: Path) -> None:
    home, port = scratch / "home", _free_port()
    env = {**os.environ, "GRIDMAP_HOME": str(home), "GRIDMAP_DB_PORT": str(port), "GRIDMAP_DATABASE_URL": ""}
    proc = subprocess.Popen(
        [*GRIDMAP, "demo"],
        env={**env, "COLUMNS": "300", "GRIDMAP_PORT": str(_free_port())},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    cluster = LocalCluster(data_dir=home / "pg", port=port)
    try:
        deadline = time.monotonic() + 120
        while not cluster.running() and time.monotonic() < deadline:
            time.sleep(0.5)
        time.sleep(2)  # migrating or importing by now
    finally:
        os.killpg(proc.pid, signal.SIGINT)
    out, _ = proc.communicate(timeout=120)
    running = cluster.running()
    cluster.destroy()
    assert (proc.returncode, "stopped the embedded PostgreSQL" in out, running) == (130, True, False)
