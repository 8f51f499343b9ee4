"""``/healthz`` and intake while 50 people load maps: open-loop probes against ``gridmap serve`` on loopback.

The database is prepared as for ``load.py`` (新街口, a published plan, a month of simulated requests). The server is
started as the README says (``gridmap serve --workers 2``), side by side with the map pages and layers bounded
as shipped (``GRIDMAP_MAP_THREADS``, 1 per process) and unbounded as before (40: anyio's shared pool size, so
maps may take every thread). 50 clients (a 领导 each) load the map pages and layers in a closed loop, one after
another without pause: the coverage, hot-spot and blocked-lane pages, the grids and buildings layers. Meanwhile
two open-loop probes, in the same process but independent of the map clients, send ``GET /healthz`` (10/s) and
point reports ``POST /api/requests`` (50/s) at a constant rate; their latency is counted from the scheduled send
time, so a queue in the server cannot hide (coordinated omission counted).

    .venv/bin/python -m benchmarks.requests.under_maps [--seconds 60 --clients 50]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import random
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
from sqlalchemy import create_engine, text

from benchmarks.requests.load import CATEGORIES, load_average, prepare, start_server
from gridmap.auth.service import ensure_user
from gridmap.db.models import Role
from gridmap.db.session import session_scope

HERE = Path(__file__).resolve().parent
CONFIGS = {"bounded (shipped)": "1", "unbounded (before)": "40"}
TIMEOUT = aiohttp.ClientTimeout(total=60)


def map_urls(url: str) -> list[str]:
    """The pages and layers a 领导 opens: three folium pages and two GeoJSON layers of the published plan."""
    engine = create_engine(url)
    with session_scope(engine) as session:
        ensure_user(session=session, username="leader", password="load-test", role=Role.leader, weak_password=True)
        plan = session.execute(text("SELECT id FROM grid_plans WHERE status = 'published'")).scalar_one()
    engine.dispose()
    return ["/maps/coverage", "/maps/hotspots", "/maps/lanes", "/api/grids", f"/api/plans/{plan}/buildings?zoom=16"]


async def token(http: aiohttp.ClientSession, base: str, username: str) -> dict[str, str]:
    async with http.post(f"{base}/api/auth/token", data={"username": username, "password": "load-test"}) as r:
        return {"Authorization": f"Bearer {(await r.json())['access_token']}"}


async def open_loop(rate: float, seconds: float, send: Any) -> list[float]:
    """Call ``send(i)`` at a constant rate; each latency is counted from its scheduled time (ms, inf if failed)."""
    latencies: list[float] = []

    async def one(i: int, due: float) -> None:
        ok = await send(i)
        latencies.append((time.perf_counter() - due) * 1000 if ok else float("inf"))

    start, tasks = time.perf_counter(), []
    for i in range(int(rate * seconds)):
        due = start + i / rate
        if (delay := due - time.perf_counter()) > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i, due)))
    await asyncio.gather(*tasks)
    return latencies


async def run(port: int, seconds: float, clients: int, urls: list[str], points: list[tuple[float, float]]) -> Any:
    base = f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0), timeout=TIMEOUT) as http:
        leader, reporter = await token(http, base, "leader"), await token(http, base, "load")
        stop = time.perf_counter() + seconds
        maps: list[float] = []
        map_errors = 0

        async def map_client(k: int) -> None:
            nonlocal map_errors
            i = k
            while time.perf_counter() < stop:
                began = time.perf_counter()
                try:
                    async with http.get(base + urls[i % len(urls)], headers=leader) as r:
                        await r.read()
                        map_errors += r.status != 200
                except (aiohttp.ClientError, TimeoutError):
                    map_errors += 1
                maps.append((time.perf_counter() - began) * 1000)
                i += 1

        async def health(_: int) -> bool:
            try:
                async with http.get(f"{base}/healthz", timeout=aiohttp.ClientTimeout(total=30)) as r:
                    await r.read()
                    return r.status == 200
            except (aiohttp.ClientError, TimeoutError):
                return False

        rng, tag = random.Random(3), uuid.uuid4().hex[:8]

        async def report(i: int) -> bool:
            lon, lat = points[rng.randrange(len(points))]
            body = {
                "category": CATEGORIES[i % len(CATEGORIES)],
                "description": f"maps {tag} #{i}",
                "lon": lon,
                "lat": lat,
            }
            try:
                async with http.post(
                    f"{base}/api/requests", json=body, headers=reporter | {"Idempotency-Key": f"maps-{tag}-{i}"}
                ) as r:
                    await r.read()
                    return r.status in (200, 201)
            except (aiohttp.ClientError, TimeoutError):
                return False

        loaders = [asyncio.create_task(map_client(k)) for k in range(clients)]
        await asyncio.sleep(min(5.0, seconds / 4))  # the map clients get going first
        probe_seconds = stop - time.perf_counter()
        healthz, intake = await asyncio.gather(
            open_loop(10, probe_seconds, health), open_loop(50, probe_seconds, report)
        )
        await asyncio.gather(*loaders)
    return healthz, intake, maps, map_errors


def stats(ms: list[float]) -> str:
    a = np.array(ms)
    failed = int(np.isinf(a).sum())
    ok = a[np.isfinite(a)]
    p50, p95, p99 = np.percentile(ok, [50, 95, 99]) if len(ok) else (np.nan,) * 3
    return f"{len(a)} | {failed} | {p50:.0f} | {p95:.0f} | {p99:.0f} | {ok.max() if len(ok) else np.nan:.0f}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    parser.add_argument("--out", type=Path, default=HERE / "under_maps.md")
    args = parser.parse_args()
    lines = [
        f"# `/healthz` and intake while {args.clients} clients load maps",
        "",
        f"`gridmap serve --workers {args.workers}` on loopback, {args.seconds:.0f} s. {args.clients} map clients "
        "(closed loop, no pause) cycle through `/maps/coverage`, `/maps/hotspots`, `/maps/lanes`, `/api/grids` and "
        "the plan's buildings layer; open-loop probes send `GET /healthz` at 10/s and point reports at 50/s, "
        "latency counted from each one's scheduled send time (failed = error or no answer within 30 s / 60 s). "
        "Map threads: `GRIDMAP_MAP_THREADS` per process (1 as shipped; 40 = anyio's shared pool, the bound before). "
        "Load: the machine's 1-minute load average before → after (other work on the machine shows there).",
        "",
        "| map threads | probe | sent | failed | p50 ms | p95 ms | p99 ms | max ms | load |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name in args.configs:
        url, points = prepare()
        urls = map_urls(url)
        gc.freeze()
        os.environ["GRIDMAP_MAP_THREADS"] = CONFIGS[name]
        before = load_average()
        port = 18750 + list(CONFIGS).index(name)
        server = start_server(url, ["--workers", str(args.workers)], port)
        try:
            healthz, intake, maps, map_errors = asyncio.run(run(port, args.seconds, args.clients, urls, points))
        finally:
            after = load_average()
            server.terminate()
            server.wait(timeout=30)
        load = f"{before} → {after}"
        label = f"{CONFIGS[name]} ({name.split()[0]})"
        rows = [
            f"| {label} | `GET /healthz` | {stats(healthz)} | {load} |",
            f"| {label} | `POST /api/requests` | {stats(intake)} | {load} |",
            f"| {label} | map pages and layers (closed loop; {map_errors} non-200) | {stats(maps)} | {load} |",
        ]
        lines += rows
        print("\n".join(rows), flush=True)
    lines += [
        "",
        "Goal (issue 15): `/healthz` and intake stay responsive under map load.",
        f"Reproduce: `.venv/bin/python -m benchmarks.requests.under_maps --seconds {args.seconds:.0f} "
        f"--clients {args.clients}`",
        "",
    ]
    args.out.write_text("\n".join(lines))


if __name__ == "__main__":
    main()
