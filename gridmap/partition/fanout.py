"""City-wide runs: one partition per 社区, fanned out over dask.distributed.

Grids nest in one 社区, so communities are independent problems: each is
partitioned on a worker and the results are stacked. Without a scheduler
address a LocalCluster with one single-threaded process per core is started.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridmap.partition.metrics import summarise
from gridmap.partition.pipeline import PlanInput, PlanResult, partition
from gridmap.settings import PartitionSettings

Progress = Callable[[int, int], None]
UNKNOWN = "unknown"


@dataclass
class CommunityJob:
    """One 社区's share of the input."""

    code: str
    data: PlanInput


def split_by_community(data: PlanInput, default_prefix: str, chunk_buildings: int = 2000) -> list[CommunityJob]:
    """Jobs of whole 社区, each about ``chunk_buildings`` buildings, neighbours together.

    Grids never cross a 社区 boundary (it cuts faces and adjacency like a barrier), so
    several communities can share one run, which spreads the fixed cost of a run.
    Buildings outside every community form jobs of their own with ``default_prefix``.
    """
    if "community" not in data.buildings.columns or data.communities is None or data.communities.empty:
        return [CommunityJob(default_prefix, data)]
    codes = data.buildings["community"].astype("string").fillna(UNKNOWN)
    polygons = data.communities.set_index("code")
    known = codes.isin(polygons.index)
    jobs: list[CommunityJob] = []
    if (~known).any():
        jobs.append(CommunityJob(default_prefix, PlanInput(buildings=data.buildings[~known], streets=data.streets)))
    counts = codes[known].value_counts()
    centres = polygons.loc[counts.index].geometry.representative_point()
    # Sweep communities in rows so a chunk holds neighbours (its streets come from one bounding box).
    bounds = polygons.geometry.bounds  # degrees are fine here: the band only groups neighbours
    band = float((bounds["maxy"] - bounds["miny"]).median()) * 4 or 1.0
    order = sorted(counts.index, key=lambda c: (int(-centres[c].y // band), centres[c].x))
    rows = codes.groupby(codes).indices  # code -> row positions, computed once
    chunk: list[str] = []
    size = 0
    for code in order:
        chunk.append(code)
        size += int(counts[code])
        if size >= chunk_buildings:
            jobs.append(_job(data, rows, polygons, chunk))
            chunk, size = [], 0
    if chunk:
        jobs.append(_job(data, rows, polygons, chunk))
    return jobs


def _job(data: PlanInput, rows: dict[str, np.ndarray], polygons: gpd.GeoDataFrame, chunk: list[str]) -> CommunityJob:
    area = polygons.loc[chunk].reset_index()
    streets = data.streets
    if not streets.empty:  # the streets touching these communities, not all in their bounding box
        pad = 1e-5 if area.crs is None or area.crs.is_geographic else 1.0  # about a metre either way
        _, hits = streets.sindex.query(shapely.buffer(area.geometry.to_numpy(), pad), predicate="intersects")
        streets = streets.iloc[np.unique(hits)]
    buildings = data.buildings.iloc[np.sort(np.concatenate([rows[c] for c in chunk]))]
    return CommunityJob(chunk[0], PlanInput(buildings=buildings, streets=streets, communities=area))


def _slim(job: CommunityJob) -> CommunityJob:
    """Only the columns a partition reads: what travels to a worker is pickled, sent and unpickled."""
    data = job.data
    keep = [c for c in ("households", "compound", "geometry") if c in data.buildings.columns]
    streets = data.streets[[c for c in ("street_class", "geometry") if c in data.streets.columns]]
    slim = PlanInput(buildings=data.buildings[keep], streets=streets, communities=data.communities)
    return CommunityJob(job.code, slim)


def _run(job: CommunityJob, params: PartitionSettings, default_prefix: str, with_metrics: bool) -> PlanResult:
    return partition(job.data, params, code_prefix=default_prefix, with_metrics=with_metrics)


def _run_batch(
    jobs: list[CommunityJob], params: PartitionSettings, default_prefix: str, with_metrics: bool
) -> list[PlanResult]:
    # Batches keep the scheduler's per-task overhead small next to a ~10 ms 社区. Only the buildings'
    # grid codes and households travel back: their geometry is the caller's already.
    results = [_run(job, params, default_prefix, with_metrics) for job in jobs]
    for result in results:
        result.buildings = gpd.GeoDataFrame(result.buildings[["households", "grid_code"]])
    return results


def combine(results: list[PlanResult], params: PartitionSettings, runtime_s: float) -> PlanResult:
    """Stack per-community results and summarise them as one plan."""
    buildings = gpd.GeoDataFrame(pd.concat([r.buildings for r in results]))
    grids = gpd.GeoDataFrame(pd.concat([r.grids for r in results], ignore_index=True), crs=4326)
    metrics = summarise(
        grids,
        int(buildings["households"].sum()),
        len(buildings),
        params,
        [v for r in results for v in r.metrics.violations],
        [x for r in results for x in r.metrics.infeasible],
    )
    metrics.runtime_s = round(runtime_s, 3)
    metrics.community_runtimes_s = [r.metrics.runtime_s for r in results]
    return PlanResult(buildings=buildings, grids=grids, metrics=metrics)


def partition_city(
    data: PlanInput,
    params: PartitionSettings,
    *,
    scheduler: str | None = None,
    default_prefix: str | None = None,
    progress: Progress | None = None,
    with_metrics: bool = True,
    chunk_buildings: int = 2000,
) -> PlanResult:
    """Partition every community of ``data`` in parallel and combine the plans."""
    import time

    from dask.distributed import Client, LocalCluster, as_completed

    started = time.perf_counter()
    prefix = default_prefix or params.code_prefix
    jobs = split_by_community(data, prefix, chunk_buildings)
    if len(jobs) == 1:
        return _run(jobs[0], params, prefix, with_metrics)
    cluster = (
        None
        if scheduler
        else LocalCluster(n_workers=os.cpu_count() or 1, threads_per_worker=1, processes=True, dashboard_address=None)
    )
    client = Client(scheduler or cluster)
    try:
        # Small batches (a few seconds each) so no worker is left with a long tail at the end.
        size = max(1, math.ceil(len(jobs) / (len(client.scheduler_info()["workers"]) * 64)))
        slim = [_slim(job) for job in jobs]
        batches = [slim[i : i + size] for i in range(0, len(slim), size)]
        futures = client.map(
            _run_batch, batches, params=params, default_prefix=prefix, with_metrics=with_metrics, pure=False
        )
        results: list[PlanResult] = []
        for future in as_completed(futures):
            results.extend(future.result())
            if progress:
                progress(len(results), len(jobs))
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    return combine(results, params, time.perf_counter() - started)
