"""Point → grid throughput on real grid shapes: GridIndex (cell table and exact) vs geopandas.sjoin vs PostGIS.

Grids: the 新街口 plan made by gridmap (street-following polygons), tiled to ~10,000 grids; 1,000,000 uniform
random points over them (some fall outside). Every method is timed from raw lon/lat arrays to grid codes, and
all must agree on every point inside a grid (a point on a shared edge may go to either neighbour in
sjoin/PostGIS; GridIndex and gridmap's SQL take the smallest code).

    .venv/bin/python -m benchmarks.geocode.point_grid      # writes benchmarks/geocode/point_grid.md
"""

from __future__ import annotations

import io
import math
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from sqlalchemy import create_engine

from gridmap.partition.filemode import plan_input_from_files
from gridmap.partition.pipeline import partition
from gridmap.settings import Settings
from gridmap.spatial.geocode.grids import GridIndex

HERE = Path(__file__).resolve().parent
NANJING = HERE.parents[1] / "data" / "boundaries" / "osm" / "nanjing_xinjiekou_2021-06.osm"


def tiled_grids(target: int = 10_000) -> gpd.GeoDataFrame:
    """The Nanjing plan repeated on a lattice until ``target`` grids."""
    settings = Settings()
    data, _ = plan_input_from_files([NANJING], households_field=None, crs=None, model=settings.households)
    base = partition(data, settings.partition, with_metrics=False).grids[["grid_code", "geometry"]]
    x0, y0, x1, y1 = base.total_bounds
    tiles = math.ceil(target / len(base))
    cols = math.ceil(math.sqrt(tiles))
    parts = []
    for t in range(tiles):
        dx, dy = (t % cols) * (x1 - x0), -(t // cols) * (y1 - y0)
        moved = base.copy()
        moved["geometry"] = shapely.transform(base.geometry.to_numpy(), lambda c, dx=dx, dy=dy: c + [dx, dy])
        moved["grid_code"] = [f"{t:06d}{i:09d}" for i in range(len(base))]
        parts.append(moved)
    return gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), geometry="geometry", crs=4326)


def postgis_codes(grids: gpd.GeoDataFrame, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, float] | None:
    """Codes from a PostGIS join (the embedded cluster, if it runs); the time covers loading the points."""
    engine = create_engine(Settings().effective_database_url())
    try:
        conn = engine.raw_connection()
    except Exception:  # no server: the row says so
        return None
    try:
        cur = conn.cursor()
        cur.execute("CREATE TEMP TABLE bench_grids (code text, geom geometry(Polygon, 4326))")
        buf = io.StringIO(
            "".join(f"{c}\t{w}\n" for c, w in zip(grids["grid_code"], grids.geometry.to_wkt(), strict=True))
        )
        cur.copy_expert("COPY bench_grids FROM STDIN", buf)
        cur.execute("UPDATE bench_grids SET geom = ST_SetSRID(geom, 4326)")
        cur.execute("CREATE INDEX ON bench_grids USING gist (geom)")
        cur.execute("ANALYZE bench_grids")
        started = time.perf_counter()
        cur.execute("CREATE TEMP TABLE bench_points (i int, lon float8, lat float8)")
        buf = io.StringIO(
            "".join(f"{i}\t{x:.9f}\t{y:.9f}\n" for i, (x, y) in enumerate(zip(lon.tolist(), lat.tolist(), strict=True)))
        )
        cur.copy_expert("COPY bench_points FROM STDIN", buf)
        # The fast shape of a bulk join: points indexed, each grid polygon tested once against its candidates.
        cur.execute("ALTER TABLE bench_points ADD COLUMN geom geometry(Point, 4326)")
        cur.execute("UPDATE bench_points SET geom = ST_SetSRID(ST_MakePoint(lon, lat), 4326)")
        cur.execute("CREATE INDEX ON bench_points USING gist (geom)")
        cur.execute(
            "SELECT DISTINCT ON (p.i) p.i, g.code FROM bench_grids g JOIN bench_points p ON ST_Covers(g.geom, p.geom) "
            "ORDER BY p.i, g.code"
        )
        rows = cur.fetchall()
        seconds = time.perf_counter() - started
        codes = np.full(len(lon), None, dtype=object)
        for i, code in rows:
            codes[i] = code
        return codes, seconds
    finally:
        conn.rollback()
        conn.close()
        engine.dispose()


def run(n: int = 1_000_000) -> list[str]:
    """The Markdown table."""
    grids = tiled_grids()
    x0, y0, x1, y1 = grids.total_bounds
    rng = np.random.default_rng(1)
    lon, lat = rng.uniform(x0, x1, n), rng.uniform(y0, y1, n)
    rows: list[tuple[str, float, str]] = []

    index = GridIndex(grids)
    started = time.perf_counter()
    first = time.perf_counter()
    fast = index.locate_index(lon, lat)  # builds the cell table on this first large batch
    with_build = time.perf_counter() - first
    started = time.perf_counter()
    fast = index.locate_index(lon, lat)
    ours = time.perf_counter() - started
    rows.append(("GridIndex, cell table (built)", ours, f"first batch incl. building the table: {with_build:.2f} s"))

    exact_index = GridIndex(grids, table_from=10**12)
    started = time.perf_counter()
    exact = exact_index.locate_index(lon, lat)
    rows.append(("GridIndex, exact STRtree", time.perf_counter() - started, ""))

    _ = grids.sindex
    started = time.perf_counter()
    pts = gpd.GeoDataFrame(geometry=gpd.points_from_xy(lon, lat), crs=4326)
    joined = gpd.sjoin(pts, grids, predicate="within", how="left")
    theirs = time.perf_counter() - started
    rows.append(("geopandas.sjoin (within)", theirs, ""))

    codes = index._codes  # noqa: SLF001 - codes in index order
    ours_codes = np.where(fast >= 0, codes[np.maximum(fast, 0)], None)
    assert (fast == exact).all(), "cell table and exact path disagree"
    sj = joined[~joined.index.duplicated()]["grid_code"].to_numpy()
    agree = np.mean([(a == b) or (a is None and pd.isna(b)) for a, b in zip(ours_codes, sj, strict=True)])

    pg = postgis_codes(grids, lon, lat)
    if pg is not None:
        rows.append(("PostGIS ST_Covers join (COPY + query)", pg[1], ""))
        pg_agree = float(np.mean(pg[0] == ours_codes))
    lines = [
        f"{len(grids):,} grids (新街口 plan tiled), {n:,} random points, "
        f"{(fast >= 0).mean():.1%} inside a grid. Agreement with sjoin: {agree:.4%}"
        + (f", with PostGIS: {pg_agree:.4%}" if pg is not None else ", PostGIS: not running (gridmap db start)"),
        "",
        "| method | seconds | points/s | × sjoin | note |",
        "|---|---|---|---|---|",
    ]
    lines += [f"| {name} | {s:.2f} | {n / s:,.0f} | {theirs / s:.1f}× | {note} |" for name, s, note in rows]
    return lines


def main() -> None:
    lines = [
        "# Point → grid",
        "",
        *run(),
        "",
        "Reproduce: `.venv/bin/gridmap db start && .venv/bin/python -m benchmarks.geocode.point_grid`",
    ]
    (HERE / "point_grid.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))  # noqa: T201


if __name__ == "__main__":
    main()
