"""Intake and action latency with and without notifications, and the scan's cost at 10,000 open requests.

A throwaway PostgreSQL cluster (temporary directory, free port) gets the 新街口 data and a published plan; the app
runs under uvicorn in this process; one client sends reports (points inside the grids, no duplicates) one after
another, then escalates each (an action that notifies the 社区). Run it once on the tree before notifications and
once on this one, side by side (the gridmap package imported is whichever PYTHONPATH names first):

    PYTHONPATH=/path/to/old/tree .venv/bin/python benchmarks/notify/timing.py
    PYTHONPATH=. .venv/bin/python benchmarks/notify/timing.py --scan
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import socket
import statistics
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import uvicorn
from sqlalchemy import create_engine, text

import gridmap
from gridmap.api.main import create_app
from gridmap.auth.service import create_user
from gridmap.db.cluster import LocalCluster
from gridmap.db.models import Role
from gridmap.db.session import migrate, session_scope
from gridmap.ingest.service import import_files
from gridmap.partition.service import partition_db
from gridmap.settings import RequestSettings, Settings

NANJING = Path(__file__).resolve().parents[2] / "data" / "boundaries" / "osm" / "nanjing_xinjiekou_2021-06.osm"
CATEGORIES = ["garbage", "noise", "pets", "stairwell_clutter", "broken_facility", "facade_falling"]


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ms(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[int(0.95 * (len(ordered) - 1))]
    p50, mean = statistics.median(ordered) * 1000, statistics.mean(ordered) * 1000
    return f"p50 {p50:.2f} ms, p95 {p95 * 1000:.2f} ms, mean {mean:.2f} ms"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=500, help="reports (and escalations) timed, after 50 not timed")
    parser.add_argument("--scan", action="store_true", help="also time the notification scan at 10,000 open requests")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="gridmap-notify-bench-"))
    root.chmod(0o755)
    cluster = LocalCluster(data_dir=root / "pg", port=_port(), throwaway=True)
    cluster.start()
    try:
        cluster.ensure_database("bench")
        url = f"postgresql+psycopg2://postgres@127.0.0.1:{cluster.port}/bench"
        migrate(url)
        engine = create_engine(url, pool_size=10, max_overflow=0)
        settings = Settings(
            home=root / "home",
            database_url=url,
            secret_key="benchmark-secret-key-long-enough-for-hs256",
            requests=RequestSettings(duplicate_radius_m=0),
        )
        with session_scope(engine) as session:
            import_files(session=session, settings=settings, paths=[NANJING])
            partition_db(session=session, params=settings.partition, publish=True)
            codes = list(session.scalars(text("SELECT code FROM grids ORDER BY code")))
            create_user(session=session, username="worker", password="secret", role=Role.grid_worker, grids=codes)
            create_user(session=session, username="community", password="secret", role=Role.community)
            inside = "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) p FROM grids) g"
            spots = session.execute(text(inside))
            points = [(float(x), float(y)) for x, y in spots]
        app = create_app(settings, engine=engine)
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=_port(), log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        base = f"http://127.0.0.1:{server.config.port}"
        notified = importlib.util.find_spec("gridmap.notify") is not None
        print(f"gridmap from {Path(gridmap.__file__).parent}; notifications: {'yes' if notified else 'no'}")  # noqa: T201
        with httpx.Client(base_url=base, timeout=30) as http:
            token = http.post("/api/auth/token", data={"username": "worker", "password": "secret"}).json()
            headers = {"Authorization": f"Bearer {token['access_token']}"}
            made, intake, actions = [], [], []
            for i in range(args.n + 50):
                lon, lat = points[i % len(points)]
                body = {"category": CATEGORIES[i % len(CATEGORIES)], "lon": lon + i * 1e-6, "lat": lat}
                started = time.perf_counter()
                response = http.post("/api/requests", json=body, headers=headers)
                took = time.perf_counter() - started
                assert response.status_code == 201, response.text
                made.append(response.json()["id"])
                if i >= 50:
                    intake.append(took)
            for i, rid in enumerate(made):
                started = time.perf_counter()
                response = http.post(f"/api/requests/{rid}/actions", json={"action": "escalate"}, headers=headers)
                took = time.perf_counter() - started
                assert response.status_code == 200, response.text
                if i >= 50:
                    actions.append(took)
        print(f"intake   POST /api/requests ({args.n}): {_ms(intake)}")  # noqa: T201
        print(f"escalate POST .../actions   ({args.n}): {_ms(actions)}")  # noqa: T201
        server.should_exit = True
        thread.join(timeout=10)
        if notified:
            _time_hook(engine, made[-1], args.n)
        if args.scan and notified:
            _time_scan(engine, settings, codes)
        engine.dispose()
    finally:
        cluster.destroy()
        shutil.rmtree(root, ignore_errors=True)


def _time_hook(engine: object, rid: int, n: int) -> None:
    """The hook alone, as ``apply_action`` calls it after an escalation (recipients, event, inbox, outbox)."""
    from gridmap.db.models import RequestEvent, ServiceRequest
    from gridmap.notify.service import on_transition

    samples = []
    with session_scope(engine) as session:  # type: ignore[arg-type]
        req = session.get_one(ServiceRequest, rid)
        for i in range(n):
            event = RequestEvent(
                id=-1 - i, request_id=rid, at=datetime.now(UTC), action="escalate", to_status="escalated", actor="x"
            )
            started = time.perf_counter()
            on_transition(session, req, event)
            samples.append(time.perf_counter() - started)
        session.rollback()
    print(f"hook     on_transition alone ({n}): {_ms(samples)}")  # noqa: T201


def _time_scan(engine: object, settings: Settings, codes: list[str]) -> None:
    from gridmap.notify.scan import scan

    with session_scope(engine) as session:  # type: ignore[arg-type]
        session.execute(
            text(
                "INSERT INTO requests (category, status, grid_code, channel, simulated, photos, report_count, "
                "reopen_count, created_at, updated_at, geom) "
                "SELECT 'garbage', 'reported', (:codes)[1 + i % cardinality(:codes)], 'staff', false, '[]', 1, 0, "
                "now() - (i % 2880) * interval '1 minute', now(), ST_SetSRID(ST_MakePoint(118.78, 32.04), 4326) "
                "FROM generate_series(1, 10000) i"
            ),
            {"codes": codes},
        )
        session.execute(text("ANALYZE requests"))
    passes = []
    while True:
        started = time.perf_counter()
        with session_scope(engine) as session:  # type: ignore[arg-type]
            result = scan(session, now=datetime.now(UTC), settings=settings)
        passes.append((time.perf_counter() - started, result.reports, result.stages))
        if not result.reports and not result.stages:
            break
    told = sum(p[1] + p[2] for p in passes)
    catch_up = sum(p[0] for p in passes[:-1])
    print(f"scan at 10,000 open requests: catching up {told} events took {catch_up:.1f} s in {len(passes) - 1} passes")  # noqa: T201
    for _ in range(3):
        started = time.perf_counter()
        with session_scope(engine) as session:  # type: ignore[arg-type]
            scan(session, now=datetime.now(UTC), settings=settings)
        print(f"  a steady pass (nothing new): {(time.perf_counter() - started) * 1000:.1f} ms")  # noqa: T201


if __name__ == "__main__":
    main()
