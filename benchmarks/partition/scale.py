"""Scale benchmark: a synthetic city made by tiling the real 新街口 blocks, partitioned per 社区 on dask.

Run:  .venv/bin/python -m benchmarks.partition.scale --buildings 100000 1000000
Each tile is the real Nanjing input shifted east/south; its 社区 are the faces its main roads cut it into.
Writes benchmarks/partition/scale.md with wall time, per-社区 times and plan quality.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridmap.partition.adjacency import street_blocks, study_area
from gridmap.partition.fanout import partition_city
from gridmap.partition.filemode import plan_input_from_files
from gridmap.partition.pipeline import PlanInput, barrier_lines, partition
from gridmap.settings import HouseholdSettings, PartitionSettings

HERE = Path(__file__).resolve().parent
NANJING = HERE.parents[1] / "data" / "boundaries" / "partition_inputs" / "nanjing_xinjiekou_2021-06.gpkg"


def base_tile(params: PartitionSettings) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Nanjing buildings (with 社区 index), streets and 社区 polygons, in EPSG:4326."""
    data, _ = plan_input_from_files([NANJING], households_field="households", crs=None, model=HouseholdSettings())
    crs = data.buildings.estimate_utm_crs()
    buildings = data.buildings.to_crs(crs)
    streets = data.streets.to_crs(crs)
    area = study_area(buildings.geometry.to_numpy(), params.study_buffer_m)
    faces = street_blocks(area, barrier_lines(streets, params).to_numpy())
    faces = gpd.GeoDataFrame(geometry=list(faces), crs=crs)
    hit = gpd.sjoin(gpd.GeoDataFrame(geometry=buildings.representative_point(), crs=crs), faces, predicate="within")
    buildings["face"] = hit["index_right"].reindex(buildings.index).fillna(-1).astype(int)
    used = sorted(set(buildings["face"]) - {-1})
    faces = faces.loc[used]
    return buildings.to_crs(4326), streets.to_crs(4326), faces.to_crs(4326)


def synthetic_city(n_buildings: int, params: PartitionSettings) -> PlanInput:
    """Tile the base until ``n_buildings`` residential buildings."""
    buildings, streets, faces = base_tile(params)
    tiles = math.ceil(n_buildings / len(buildings))
    cols = math.ceil(math.sqrt(tiles))
    minx, miny, maxx, maxy = buildings.total_bounds
    dx, dy = (maxx - minx) * 1.05, (maxy - miny) * 1.05
    parts_b, parts_s, parts_c = [], [], []
    for t in range(tiles):
        ox, oy = (t % cols) * dx, -(t // cols) * dy
        b = buildings.copy()
        b["geometry"] = shapely.transform(b.geometry.to_numpy(), lambda c, ox=ox, oy=oy: c + (ox, oy))
        b["community"] = [f"{t:09d}{f:03d}" for f in b["face"]]
        b["compound"] = [f"{t}-{c}" if c not in ("-1", "") else "" for c in b["compound"]]
        b.index = [f"{t}-{i}" for i in b.index]
        s = streets.copy()
        s["geometry"] = shapely.transform(s.geometry.to_numpy(), lambda c, ox=ox, oy=oy: c + (ox, oy))
        c = faces.copy()
        c["geometry"] = shapely.transform(c.geometry.to_numpy(), lambda g, ox=ox, oy=oy: g + (ox, oy))
        c["code"] = [f"{t:09d}{f:03d}" for f in c.index]
        parts_b.append(b)
        parts_s.append(s)
        parts_c.append(c)
    return PlanInput(
        buildings=gpd.GeoDataFrame(pd.concat(parts_b), crs=4326).iloc[:n_buildings],
        streets=gpd.GeoDataFrame(pd.concat(parts_s, ignore_index=True), crs=4326),
        communities=gpd.GeoDataFrame(pd.concat(parts_c, ignore_index=True), crs=4326),
    )


def per_community_times(city: PlanInput, params: PartitionSettings, sample: int = 200) -> np.ndarray:
    """Seconds of a whole single-社区 run (what a planner's re-partition costs), on a sample."""
    assert city.communities is not None
    codes = city.communities["code"].to_numpy()[:sample]
    times = []
    for code in codes:
        members = city.buildings[city.buildings["community"] == code]
        if members.empty:
            continue
        area = city.communities[city.communities["code"] == code]
        streets = city.streets.iloc[city.streets.sindex.query(area.geometry.iloc[0], predicate="intersects")]
        started = time.perf_counter()
        partition(PlanInput(buildings=members, streets=streets, communities=area), params, with_metrics=False)
        times.append(time.perf_counter() - started)
    return np.asarray(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--buildings", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--repeat", type=int, default=1, help="city-wide runs per size (this machine's speed varies)")
    args = parser.parse_args()
    params = PartitionSettings()
    rows = []
    for n in args.buildings:
        t0 = time.perf_counter()
        city = synthetic_city(n, params)
        built = time.perf_counter() - t0
        walls = []
        for _ in range(args.repeat):
            t1 = time.perf_counter()
            result = partition_city(city, params, with_metrics=False)
            walls.append(time.perf_counter() - t1)
        m = result.metrics
        times = per_community_times(city, params)
        row = (
            f"| {len(city.buildings):,} | {city.communities.shape[0]:,} | {m.grids:,} | {m.in_band_share:.1%} | "
            f"{np.median(walls):.1f} | {min(walls):.1f}–{max(walls):.1f} ({len(walls)}) | "
            f"{np.percentile(times, 50) * 1000:.0f} | {np.percentile(times, 95) * 1000:.0f} | {built:.1f} |"
        )
        print(row, flush=True)
        rows.append(row)
    header = (
        "| buildings | 社区 | grids | in [240,360] | city-wide wall s, median (2 workers) | range (runs) | "
        "per-社区 p50 ms | per-社区 p95 ms | synthetic city built in s |\n|---|---|---|---|---|---|---|---|---|"
    )
    note = (
        "Wall times on this 2-core VM vary by up to ±30 % from minute to minute (the synthetic city's build "
        "time, the same work each run, is a gauge of the moment's speed); hence several runs."
    )
    text = "# Partition at city scale\n\n" + note + "\n\n" + header + "\n" + "\n".join(rows) + "\n"
    (HERE / "scale.md").write_text(text)


if __name__ == "__main__":
    main()
