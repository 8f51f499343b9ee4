"""Vector tiles at city scale: tile time and size per zoom, beside today's GeoJSON layers, over HTTP.

A city of ``--buildings`` buildings (default 1,000,000) in its own database ``gridmap_tiles``: the 新街口 data
imported and partitioned (published plan, simulated requests), then its buildings, grids (with their
assignments), streets and compounds copied side by side in SQL, as ``benchmarks/partition/scale.py`` tiles the
same data. A uvicorn server on 127.0.0.1 answers; each tile is fetched once (no HTTP cache: "cold"), by a
planner (whole city in scope). Viewports of 1280×800 at each zoom compare one GeoJSON call per layer with the
256-px tiles that cover the same viewport (fetched 6 at a time, as a browser does).

    .venv/bin/gridmap db start && .venv/bin/python -m benchmarks.maps.tiles --buildings 1000000
    # writes benchmarks/maps/tiles.md
"""

from __future__ import annotations

import argparse
import math
import os
import random
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import httpx
import numpy as np
import psycopg2
import uvicorn
from sqlalchemy import create_engine, text

from gridmap.api.main import create_app
from gridmap.auth.service import ensure_user
from gridmap.db.models import Role
from gridmap.db.session import embedded_cluster, migrate, session_scope
from gridmap.ingest.service import import_files
from gridmap.partition.service import partition_db
from gridmap.requests.simulate import simulate_requests
from gridmap.settings import Settings

HERE = Path(__file__).resolve().parent
NANJING = HERE.parents[1] / "data" / "boundaries" / "osm" / "nanjing_xinjiekou_2021-06.osm"
DB = "gridmap_tiles"
SECRET = "tiles-benchmark-secret-key-0123456789abc"
ZOOMS = (10, 11, 12, 13, 14, 15, 16, 17)
SAMPLE = 40  # tiles per zoom (all of them where the city has fewer)

COPY = """
CREATE TEMP TABLE copies AS
  SELECT t, (t % :cols) * :dx AS ox, -(t / :cols) * :dy AS oy FROM generate_series(1, :n) t;
INSERT INTO buildings (source_id, name, addr_street, addr_housenumber, building_type, levels, footprint_m2,
                       is_residential, households, households_source, geom)
  SELECT 'tile-' || t || '-' || b.id, b.name, b.addr_street, b.addr_housenumber, b.building_type, b.levels,
         b.footprint_m2, b.is_residential, b.households, b.households_source, ST_Translate(b.geom, ox, oy)
  FROM buildings b CROSS JOIN copies WHERE b.source_id NOT LIKE 'tile-%';
INSERT INTO grids (plan_id, code, households, n_buildings, locked, community_code, metrics, geom)
  SELECT g.plan_id, lpad(t::text, 12, '0') || right(g.code, 3), g.households, g.n_buildings, g.locked,
         g.community_code, g.metrics, ST_Translate(g.geom, ox, oy)
  FROM grids g JOIN grid_plans p ON p.id = g.plan_id AND p.status = 'published' CROSS JOIN copies;
INSERT INTO grid_assignments (plan_id, building_id, grid_id)
  SELECT a.plan_id, nb.id, ng.id
  FROM grid_assignments a JOIN grid_plans p ON p.id = a.plan_id AND p.status = 'published'
  JOIN grids og ON og.id = a.grid_id CROSS JOIN copies
  JOIN buildings nb ON nb.source_id = 'tile-' || t || '-' || a.building_id
  JOIN grids ng ON ng.plan_id = a.plan_id AND ng.code = lpad(t::text, 12, '0') || right(og.code, 3);
INSERT INTO streets (source_id, name, street_class, is_barrier, geom)
  SELECT 'tile-' || t || '-' || s.id, s.name, s.street_class, s.is_barrier, ST_Translate(s.geom, ox, oy)
  FROM streets s CROSS JOIN copies WHERE s.source_id NOT LIKE 'tile-%';
INSERT INTO compounds (source_id, name, community_code, geom)
  SELECT 'tile-' || t || '-' || c.id, c.name, c.community_code, ST_Translate(c.geom, ox, oy)
  FROM compounds c CROSS JOIN copies WHERE c.source_id NOT LIKE 'tile-%';
"""


def build_city(settings: Settings, n_buildings: int) -> tuple[str, float]:
    """A fresh database with the 新街口 plan copied until ``n_buildings`` buildings; returns its URL, seconds."""
    started = time.perf_counter()
    cluster = embedded_cluster(settings)
    cluster.start()
    admin = psycopg2.connect(host="127.0.0.1", port=settings.db_port, user="postgres", dbname="postgres")
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {DB}")
    admin.close()
    cluster.ensure_database(DB)
    url = cluster.url(DB)  # the embedded cluster's superuser signs in with its password
    migrate(url)
    engine = create_engine(url)
    with session_scope(engine) as session:
        import_files(session=session, settings=settings.model_copy(update={"database_url": url}), paths=[NANJING])
        partition_db(session=session, params=settings.partition, publish=True, code_prefix="320102003000")
        simulate_requests(session, days=30, per_day=100, end=datetime.now(UTC), settings=settings.requests)
        ensure_user(session=session, username="bench-planner", password="bench", role=Role.planner, weak_password=True)
    with engine.begin() as conn:
        base = conn.execute(text("SELECT count(*) FROM buildings")).scalar_one()
        x0, y0, x1, y1 = conn.execute(
            text("SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT ST_Extent(geom) e FROM grids) q")
        ).one()
        copies = max(math.ceil(n_buildings / base) - 1, 0)
        cols = math.ceil(math.sqrt(copies + 1))
        params = {"n": copies, "cols": cols, "dx": (x1 - x0) * 1.02, "dy": (y1 - y0) * 1.02}
        for statement in filter(str.strip, COPY.split(";")):
            conn.execute(text(statement), params)
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE"))
    engine.dispose()
    return url, time.perf_counter() - started


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    """The WebMercatorQuad tile holding a point."""
    n = 2**z
    y = (1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n
    return int((lon + 180) / 360 * n), int(y)


def lonlat(x: float, y: float, z: int) -> tuple[float, float]:
    """The north-west corner of tile ``x``, ``y`` (fractions allowed)."""
    n = 2**z
    return x / n * 360 - 180, math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * y / n))))


def serve(url: str) -> tuple[uvicorn.Server, int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    app = create_app(Settings(database_url=url, secret_key=SECRET))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    for _ in range(600):
        if server.started:
            return server, port
        time.sleep(0.05)
    raise SystemExit("the benchmark server did not start")


def timed(client: httpx.Client, path: str) -> tuple[float, int, int]:
    started = time.perf_counter()
    r = client.get(path)
    return time.perf_counter() - started, len(r.content), r.status_code


def reference_server(url: str) -> tuple[subprocess.Popen[bytes], str]:
    """tipg (the OGC API server gridmap mounts for /ogc) on its own, serving grids and buildings as tiles.

    Fair settings: every feature of a tile (no feature cap), the same 64-unit buffer and 4096 extent, the same
    database; responses uncompressed as gridmap's (the client asks for ``identity``).
    """
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    env = {
        **os.environ,
        "DATABASE_URL": url.replace("postgresql+psycopg2://", "postgresql://"),
        "TIPG_DB_SCHEMAS": '["public"]',
        "TIPG_DB_TABLES": '["public.grids","public.buildings"]',
        "TIPG_DB_FUNCTIONS": "[]",
        "TIPG_MAX_FEATURES_PER_TILE": "10000000",
        "TIPG_TILE_BUFFER": "64",
        "TIPG_CATALOG_TTL": "0",
    }
    command = [sys.executable, "-m", "uvicorn", "tipg.main:app", "--port", str(port), "--log-level", "warning"]
    proc = subprocess.Popen(command, env=env)
    base = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(base + "/healthz").status_code == 200:
                return proc, base
        except httpx.TransportError:
            time.sleep(0.1)
    proc.terminate()
    raise SystemExit("tipg did not start")


REFERENCE = {
    "grids": "/collections/public.grids/tiles/WebMercatorQuad/{z}/{x}/{y}?properties=code,households,n_buildings",
    "buildings": "/collections/public.buildings/tiles/WebMercatorQuad/{z}/{x}/{y}?properties=id,name,households",
}


def percentiles(got: list[tuple[float, int, int]]) -> tuple[float, float, float, float, float]:
    """p50, p95, max of the times (ms); p50 and max of the sizes (KB)."""
    ms = np.array([t for t, _, _ in got]) * 1000
    kb = np.array([size for _, size, _ in got]) / 1024
    return np.percentile(ms, 50), np.percentile(ms, 95), ms.max(), np.percentile(kb, 50), kb.max()


def tile_rows(
    client: httpx.Client, reference: httpx.Client | None, extent: tuple[float, float, float, float], rng: random.Random
) -> tuple[list[str], list[str]]:
    """Per zoom: gridmap's plan tiles, then tipg's grids and buildings tiles of the same tiles (same zoom, in turn)."""
    x0, y0, x1, y1 = extent
    rows, peers = [], []
    for z in ZOOMS:
        (ax, ay), (bx, by) = tile_of(x0, y1, z), tile_of(x1, y0, z)
        every = [(x, y) for x in range(ax, bx + 1) for y in range(ay, by + 1)]
        chosen = every if len(every) <= SAMPLE else rng.sample(every, SAMPLE)
        got = [timed(client, f"/tiles/plan/{z}/{x}/{y}.pbf") for x, y in chosen]
        assert all(status == 200 for _, _, status in got), got
        p50, p95, top, kb50, kbmax = percentiles(got)
        rows.append(
            f"| {z} | {len(chosen)} of {len(every):,} | {p50:.0f} | {p95:.0f} | {top:.0f} | {kb50:.0f} | {kbmax:.0f} |"
        )
        print(rows[-1], flush=True)
        if reference is None:
            continue
        cells = [f"| {z} | {p50:.0f} / {p95:.0f} (all layers)"]
        for layer, template in REFERENCE.items():
            if layer == "buildings" and z < 14:
                cells.append("–")
                continue
            ref = [timed(reference, template.format(z=z, x=x, y=y)) for x, y in chosen]
            assert all(status in (200, 204) for _, _, status in ref), ref
            r50, r95, _, rkb50, rkbmax = percentiles(ref)
            cells.append(f"{r50:.0f} / {r95:.0f} ({rkb50:.0f} / {rkbmax:.0f} KB)")
        peers.append(" | ".join(cells) + " |")
        print(peers[-1], flush=True)
    return rows, peers


def viewport_rows(client: httpx.Client, extent: tuple[float, float, float, float], plan_id: int) -> list[str]:
    """One 1280×800 view at the middle of the city per zoom: GeoJSON calls vs. the tiles that cover it."""
    x0, y0, x1, y1 = extent
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    rows = []
    for z in (12, 14, 16):
        fx, fy = ((cx + 180) / 360 * 2**z, (1 - math.asinh(math.tan(math.radians(cy))) / math.pi) / 2 * 2**z)
        wx, wy = 1280 / 256 / 2, 800 / 256 / 2
        (lon0, lat1), (lon1, lat0) = lonlat(fx - wx, fy - wy, z), lonlat(fx + wx, fy + wy, z)
        bbox = f"{lon0},{lat0},{lon1},{lat1}"
        layers = ["grids"] + (["buildings"] if z >= 14 else [])
        started = time.perf_counter()
        geo = [timed(client, f"/api/plans/{plan_id}/{layer}?bbox={bbox}&zoom={z}") for layer in layers]
        geo_wall = time.perf_counter() - started
        tiles = [(x, y) for x in range(int(fx - wx), int(fx + wx) + 1) for y in range(int(fy - wy), int(fy + wy) + 1)]
        started = time.perf_counter()
        with ThreadPoolExecutor(6) as pool:
            paths = [f"/tiles/plan/{z}/{x}/{y}.pbf" for x, y in tiles]
            got = list(pool.map(lambda path: timed(client, path), paths))
        tile_wall = time.perf_counter() - started
        rows.append(
            f"| {z} | GeoJSON {' + '.join(layers)} | {len(geo)} | {sum(s for _, s, _ in geo) / 1e6:.2f} MB | "
            f"{geo_wall * 1000:.0f} |"
        )
        rows.append(
            f"| {z} | vector tiles (all layers) | {len(got)} | {sum(s for _, s, _ in got) / 1e6:.2f} MB | "
            f"{tile_wall * 1000:.0f} |"
        )
        print(rows[-2], rows[-1], sep="\n", flush=True)
    return rows


RENDERED = """() => {
  if (document.readyState !== "complete") return false;
  const layers = [window.gridmapBuildingTiles, window.gridmapPlanTiles].filter(Boolean);
  return layers.every(l => !l._map || l._noTilesToLoad());
}"""


LAYERS = "() => [window.gridmapBuildingTiles, window.gridmapPlanTiles].filter(Boolean).length"
RENDERS = 5  # page loads timed, each in a fresh browser (nothing cached)
TILES_DONE = """() => Math.max(0, ...performance.getEntriesByType('resource')
  .filter(r => r.name.includes('/tiles/')).map(r => r.responseEnd))"""


def first_render(port: int) -> tuple[float, float, float, float, int]:
    """The coverage page in Debian's chromium at city zoom (the page fits the whole plan), signed in as the planner.

    Returns the ms from navigation to drawn (page loaded and every vector-tile layer's visible tiles drawn), the
    ms until the HTML response ended, the ms until the last tile arrived, how many tile layers the page has, and
    the page's bytes.
    """
    from playwright.sync_api import sync_playwright

    base = f"http://127.0.0.1:{port}"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium")
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.goto(f"{base}/login")
        page.fill("input[name=username]", "bench-planner")
        page.fill("input[name=password]", "bench")
        page.click("button[type=submit]")
        page.wait_for_load_state("networkidle")
        response = page.goto(f"{base}/maps/coverage", wait_until="commit", timeout=600_000)
        assert response is not None and response.status == 200, response and response.status
        page.wait_for_function(RENDERED, timeout=600_000)
        drawn = float(page.evaluate("() => performance.now()"))
        html = float(page.evaluate("() => performance.getEntriesByType('navigation')[0].responseEnd"))
        tiles = float(page.evaluate(TILES_DONE))
        layers = float(page.evaluate(LAYERS))
        size = len(response.body())
        browser.close()
    return drawn, html, tiles, layers, size


def render_line(port: int) -> tuple[str, list[tuple[float, float, float, float, int]]]:
    """The first render ``RENDERS`` times: the sentence for the page (median, range, where the time went)."""
    runs = [first_render(port) for _ in range(RENDERS)]
    for drawn, html, tiles, _, _ in runs:
        print(f"coverage page: drawn after {drawn:.0f} ms (HTML {html:.0f} ms, last tile {tiles:.0f} ms)", flush=True)
    drawn, html, tiles = (np.median([r[i] for r in runs]) for i in range(3))
    layers, size = int(runs[0][3]), runs[0][4]
    line = (
        "First render of the coverage page at city zoom (the page fits the whole plan) in Debian's chromium, "
        f"1280×800, signed in as the planner, {RENDERS} loads each in a fresh browser: **{drawn:.0f} ms** (median; "
        f"{min(r[0] for r in runs):.0f}–{max(r[0] for r in runs):.0f}) from navigation until the page is loaded and "
        f"its vector-tile layer{'s' if layers > 1 else ''} ({layers}) drew every visible tile (goal < 1.5 s). "
        f"Medians: the HTML ({size / 1e6:.2f} MB) ended at {html:.0f} ms, the last tile arrived at {tiles:.0f} ms, "
        f"drawn {drawn - tiles:.0f} ms later."
    )
    return line, runs


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--buildings", type=int, default=1_000_000, help="buildings in the synthetic city")
    parser.add_argument("--reuse", action="store_true", help=f"time the city already in {DB} (not built again)")
    parser.add_argument("--url", help="time the city already in this database (SQLAlchemy URL), not built again")
    parser.add_argument("--no-reference", action="store_true", help="do not time tipg's tiles beside gridmap's")
    args = parser.parse_args()
    settings = Settings()
    if args.url:
        url, built = args.url, float("nan")
    elif args.reuse:
        embedded_cluster(settings).start()
        url, built = embedded_cluster(settings).url(DB), float("nan")
    else:
        url, built = build_city(settings, args.buildings)
    engine = create_engine(url)
    with engine.connect() as conn:
        n = conn.execute(text("SELECT count(*) FROM buildings")).scalar_one()
        grids = conn.execute(text("SELECT count(*) FROM grids")).scalar_one()
        plan_id = conn.execute(text("SELECT id FROM grid_plans WHERE status = 'published'")).scalar_one()
        extent = conn.execute(
            text("SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT ST_Extent(geom) e FROM grids) q")
        ).one()
    engine.dispose()
    print(f"{n:,} buildings, {grids:,} grids, built in {built:.0f} s", flush=True)
    load_before = os.getloadavg()[0]
    server, port = serve(url)
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120) as client:
        token = client.post("/api/auth/token", data={"username": "bench-planner", "password": "bench"}).json()
        client.headers["Authorization"] = f"Bearer {token['access_token']}"
        # the plan's tile shapes are made once per version, on its first tile (or TileJSON): before the timing
        assert client.get("/tiles/plan.json").status_code == 200
        with create_engine(url).connect() as conn:
            shapes = conn.execute(text("SELECT seconds FROM tile_builds")).scalar_one()
        proc, ref_base = (None, "") if args.no_reference else reference_server(url)
        with httpx.Client(base_url=ref_base, timeout=120, headers={"Accept-Encoding": "identity"}) as reference:
            tiles, peers = tile_rows(client, None if proc is None else reference, tuple(extent), random.Random(1))
        if proc is not None:
            proc.terminate()
            proc.wait()
        views = viewport_rows(client, tuple(extent), plan_id)
    render, _ = render_line(port)
    server.should_exit = True
    load = f"load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after (2 cores)"
    made = f"made from 新街口 in {built:.0f} s" if built == built else "made by an earlier run"
    lines = [
        "# Vector tiles at city scale",
        "",
        f"{n:,} buildings ({grids:,} grids) in `{url.rsplit('/', 1)[-1]}`, {made}; one planner, tiles fetched "
        f"once each over HTTP from a uvicorn server on this 2-core machine, shared: {load}. Goals: p95 < 50 ms, "
        "tile < 500 KB. Buildings are in the tiles from zoom 14, grids from 12 (boundaries below); grids, streets and "
        "boundaries simplified below 14, only main roads below 12. Tiles are cut from shapes made once per published "
        f"plan version (EPSG:3857, simplified per zoom band; made in {shapes:.1f} s on the first request of the "
        "version, before the timing) and the buildings' EPSG:3857 column.",
        "",
        "| zoom | tiles timed (of the city's) | p50 ms | p95 ms | max ms | p50 KB | max KB |",
        "|---|---|---|---|---|---|---|",
        *tiles,
        "",
        "The same tiles from a reference tile server, [tipg](https://pypi.org/project/tipg/) on its own (uvicorn, "
        "the same database; no feature cap, 64-unit buffer, uncompressed), which serves one collection per tile "
        "straight from the tables (transformed per request, not simplified): p50 / p95 ms (p50 / max KB). gridmap "
        "beside it for all its layers in one tile; tipg's buildings carry no grid code (a join it does not make).",
        "",
        "| zoom | gridmap plan tile | tipg grids | tipg buildings |",
        "|---|---|---|---|",
        *peers,
        "",
        "A 1280×800 view at the middle of the city: today's GeoJSON layer calls (one after another, as the planner "
        "page makes them) beside the 256-px tiles covering the same view (6 at a time, as a browser fetches them):",
        "",
        "| zoom | what | requests | bytes | wall ms |",
        "|---|---|---|---|---|",
        *views,
        "",
        render,
        "",
        "Reproduce: `.venv/bin/gridmap db start && "
        f".venv/bin/python -m benchmarks.maps.tiles --buildings {args.buildings}` (once; then `--reuse`, or "
        "`--url postgresql+psycopg2://...` for a city in another cluster)",
        "",
    ]
    (HERE / "tiles.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
