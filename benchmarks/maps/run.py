"""Map benchmarks: coverage page size and first render in headless Chromium; layer requests on 100 k buildings.

Side by side: gridmap's coverage page vs ``GeoDataFrame.explore()`` (geopandas' folium export) of the same
grids and buildings. Layer requests: the planner's GeoJSON calls over a synthetic city of ~100,000 buildings
(新街口 tiled) at the zooms planners work at, in process (FastAPI TestClient), median of 5.

    .venv/bin/gridmap db start && .venv/bin/python -m benchmarks.maps.run      # writes benchmarks/maps/results.md
"""

from __future__ import annotations

import statistics
import threading
import time
from pathlib import Path

import numpy as np
import uvicorn
from fastapi.testclient import TestClient
from playwright.sync_api import sync_playwright
from sqlalchemy import create_engine, text

from benchmarks.requests.load import prepare
from gridmap.api.main import create_app
from gridmap.auth.service import ensure_user
from gridmap.db.models import Role
from gridmap.db.session import session_scope
from gridmap.maps import data
from gridmap.maps.assets import render_offline
from gridmap.maps.coverage import coverage_map
from gridmap.partition.service import published_plan
from gridmap.settings import Settings

HERE = Path(__file__).resolve().parent
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
SECRET = "maps-benchmark-secret-key-0123456789abc"


def page_sizes(url: str) -> list[str]:
    engine = create_engine(url)
    with session_scope(engine) as session:
        plan = published_plan(session=session)
        assert plan is not None
        grids, homes = data.plan_grids(session, plan.id), data.plan_buildings(session, plan.id)
        started = time.perf_counter()
        html = render_offline(
            coverage_map(
                grids,
                homes,
                study_area=data.coverage_area(session, 30),
                compounds=data.compounds(session),
                streets=data.streets(session),
                target=300,
                band=(240, 360),
            )
        )
        ours = time.perf_counter() - started
        started = time.perf_counter()
        m = grids.explore(column="households", tiles=None)
        homes.explore(m=m, column="grid_code", legend=False)
        naive = m.get_root().render()
        theirs = time.perf_counter() - started
    engine.dispose()
    return [
        "| page | HTML size | build s | loads from other hosts |",
        "|---|---|---|---|",
        f"| gridmap /maps/coverage (grids, buildings, streets, compounds, gaps) | {len(html.encode()) / 1e6:.2f} MB | "
        f"{ours:.2f} | 0 |",
        f"| GeoDataFrame.explore() of grids + buildings only | {len(naive.encode()) / 1e6:.2f} MB | {theirs:.2f} | "
        f"{naive.count('https://')} URLs (CDN) |",
    ]


def first_render(url: str) -> list[str]:
    settings = Settings(database_url=url, secret_key=SECRET)
    engine = create_engine(url)
    with session_scope(engine) as session:
        ensure_user(session=session, username="bench-leader", password="bench", role=Role.leader, weak_password=True)
    app = create_app(settings, engine=engine)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=18790, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    times = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.goto("http://127.0.0.1:18790/login")
        page.fill("input[name=username]", "bench-leader")
        page.fill("input[name=password]", "bench")
        page.click("button[type=submit]")
        page.wait_for_load_state("networkidle")
        for _ in range(5):
            started = time.perf_counter()
            page.goto("http://127.0.0.1:18790/maps/coverage")
            page.wait_for_function(
                "() => { const m = Object.values(window).find(v => v instanceof L.Map); if (!m) return false;"
                " let n = 0; m.eachLayer(l => { if (l.feature) n++; }); return n > 500; }"
            )
            times.append(time.perf_counter() - started)
        browser.close()
    server.should_exit = True
    thread.join(timeout=10)
    engine.dispose()
    return [
        "",
        "| first render in headless Chromium (request → >500 features drawn) | median s | max s |",
        "|---|---|---|",
        f"| /maps/coverage, 新街口 | {statistics.median(times):.2f} | {max(times):.2f} |",
    ]


def synthetic_city(url: str, copies: int = 80) -> int:
    """Tile the 新街口 buildings into a separate area (~100 k buildings); returns the count."""
    engine = create_engine(url)
    with engine.begin() as conn:
        have = conn.execute(text("SELECT count(*) FROM buildings WHERE source_id LIKE 'tile-%'")).scalar_one()
        if not have:
            conn.execute(
                text(
                    "INSERT INTO buildings (source_id, name, addr_street, addr_housenumber, building_type, levels, "
                    "footprint_m2, is_residential, households, households_source, geom) "
                    "SELECT 'tile-' || t || '-' || b.id, b.name, b.addr_street, b.addr_housenumber, b.building_type, "
                    "b.levels, b.footprint_m2, b.is_residential, b.households, b.households_source, "
                    "ST_Translate(b.geom, 0.03 * (t % 9), -0.025 * (t / 9)) "
                    "FROM buildings b CROSS JOIN generate_series(1, :n) t WHERE b.source_id NOT LIKE 'tile-%'"
                ),
                {"n": copies},
            )
            conn.execute(text("ANALYZE buildings"))
        total = conn.execute(text("SELECT count(*) FROM buildings")).scalar_one()
    engine.dispose()
    return int(total)


def layer_requests(url: str) -> list[str]:
    """On a copy of the load database (made once), so the page measurements above stay on 新街口 alone."""
    admin = create_engine(url.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if not conn.execute(text("SELECT 1 FROM pg_database WHERE datname = 'gridmap_maps100k'")).first():
            conn.execute(text("CREATE DATABASE gridmap_maps100k TEMPLATE gridmap_load"))
    admin.dispose()
    url = url.rsplit("/", 1)[0] + "/gridmap_maps100k"
    total = synthetic_city(url)
    settings = Settings(database_url=url, secret_key=SECRET)
    engine = create_engine(url)
    with session_scope(engine) as session:
        ensure_user(session=session, username="bench-planner", password="bench", role=Role.planner, weak_password=True)
        plan = published_plan(session=session)
        assert plan is not None
        extent = "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT ST_Extent(geom) e FROM {}) q"
        city = session.execute(text(extent.format("buildings"))).one()
        plan_area = session.execute(text(extent.format("grids"))).one()
    rows = []
    with TestClient(create_app(settings, engine=engine)) as client:
        token = client.post("/api/auth/token", data={"username": "bench-planner", "password": "bench"}).json()
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        layers = [
            (17, "buildings"),
            (16, "buildings"),
            (15, "buildings"),
            (14, "buildings"),
            (14, "grids"),
            (12, "grids"),
        ]
        for zoom, layer in layers:
            x0, y0, x1, y1 = city if layer == "buildings" else plan_area
            cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
            half_w = 1280 / 2 * 360 / 256 / 2**zoom
            half_h = 800 / 2 * 360 / 256 / 2**zoom * 0.85
            bbox = f"{cx - half_w},{cy - half_h},{cx + half_w},{cy + half_h}"
            times, size, n = [], 0, 0
            for _ in range(5):
                started = time.perf_counter()
                r = client.get(f"/api/plans/{plan.id}/{layer}", params={"bbox": bbox, "zoom": zoom}, headers=headers)
                times.append(time.perf_counter() - started)
                size, n = len(r.content), len(r.json()["features"])
            rows.append(f"| {layer} | {zoom} | {n:,} | {size / 1e6:.2f} MB | {np.median(times) * 1000:.0f} |")
    engine.dispose()
    return [
        "",
        f"Layer requests, {total:,} buildings in the database (1280×800 viewport at each zoom):",
        "",
        "| layer | zoom | features | body | median ms |",
        "|---|---|---|---|---|",
        *rows,
    ]


def main() -> None:
    url, _ = prepare()
    lines = [
        "# Maps benchmark",
        "",
        *page_sizes(url),
        *first_render(url),
        *layer_requests(url),
        "",
        "Reproduce: `.venv/bin/gridmap db start && .venv/bin/python -m benchmarks.maps.run`",
        "",
    ]
    (HERE / "results.md").write_text("\n".join(lines))
    print("\n".join(lines))  # noqa: T201


if __name__ == "__main__":
    main()
