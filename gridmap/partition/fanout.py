"""City-wide runs: one partition per 社区, fanned out over dask.distributed.

Grids nest in one 社区, so communities are independent problems: each is
partitioned on a worker and the results are stacked. Without a scheduler
address a LocalCluster with one single-threaded process per core is started.
"""

from __future__ import annotations

import math
import os
import pickle
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridmap.partition.metrics import summarise
from gridmap.partition.pipeline import PlanInput, PlanResult, partition
from gridmap.partition.shapes import stitched_jobs
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
    return list(JobPlan(data, default_prefix, chunk_buildings).jobs())


class JobPlan:
    """Which 社区 go together in one job, decided up front; each job's data is cut out only when asked for."""

    def __init__(self, data: PlanInput, default_prefix: str, chunk_buildings: int) -> None:
        self.data, self.default_prefix = data, default_prefix
        self.chunks: list[list[str]] = []
        self.outside = np.empty(0, dtype=np.int64)
        if "community" not in data.buildings.columns or data.communities is None or data.communities.empty:
            return
        codes = data.buildings["community"].astype("string").fillna(UNKNOWN)
        self.polygons = data.communities.set_index("code")
        known = codes.isin(self.polygons.index).to_numpy()
        self.outside = np.flatnonzero(~known)
        counts = codes[known].value_counts()
        centres = shapely.get_coordinates(self.polygons.loc[counts.index].geometry.representative_point().to_numpy())
        # Sweep communities in rows so a chunk holds neighbours (its streets come from a small area).
        bounds = self.polygons.geometry.bounds  # degrees are fine here: the band only groups neighbours
        band = float((bounds["maxy"] - bounds["miny"]).median()) * 4 or 1.0
        order = np.lexsort((centres[:, 0], np.floor(-centres[:, 1] / band)))
        self.rows = codes.groupby(codes).indices  # code -> row positions, computed once
        chunk: list[str] = []
        size = 0
        for code, n in zip(counts.index[order], counts.to_numpy()[order], strict=True):
            chunk.append(str(code))
            size += int(n)
            if size >= chunk_buildings:
                self.chunks.append(chunk)
                chunk, size = [], 0
        if chunk:
            self.chunks.append(chunk)

    def __len__(self) -> int:
        if not self.chunks:
            return 1
        return len(self.chunks) + (1 if len(self.outside) else 0)

    def jobs(self) -> Iterator[CommunityJob]:
        """The jobs, each built when the caller gets to it."""
        if not self.chunks:
            yield CommunityJob(self.default_prefix, self.data)
            return
        if len(self.outside):
            rest = PlanInput(buildings=self.data.buildings.iloc[self.outside], streets=self.data.streets)
            yield CommunityJob(self.default_prefix, rest)
        for chunk in self.chunks:
            yield self._job(chunk)

    def _job(self, chunk: list[str]) -> CommunityJob:
        area = self.polygons.loc[chunk].reset_index()
        streets = self.data.streets
        if not streets.empty:
            # Streets in some community's bounding box (not in the whole chunk's): a bounding-box test is
            # all the main process does, the exact one is the job's own (``pipeline._streets_near``).
            _, hits = streets.sindex.query(area.geometry.to_numpy())
            streets = streets.iloc[np.unique(hits)]
        buildings = self.data.buildings.iloc[np.sort(np.concatenate([self.rows[c] for c in chunk]))]
        return CommunityJob(chunk[0], PlanInput(buildings=buildings, streets=streets, communities=area))


def slim(data: PlanInput) -> PlanInput:
    """Only what a city-wide partition reads: what travels to a worker is pickled, sent and unpickled.

    A partition places each building by its representative point (its cell's seed), and a
    city-wide run returns grid codes, not footprints: so buildings travel as those points.
    """
    kept = ("households", "compound", "compound_name", "community")
    buildings = data.buildings[[c for c in kept if c in data.buildings]]
    buildings = gpd.GeoDataFrame(buildings, geometry=data.buildings.geometry.representative_point())
    streets = data.streets[[c for c in ("street_class", "geometry") if c in data.streets.columns]]
    return PlanInput(buildings=buildings, streets=streets, communities=data.communities, locked=data.locked)


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


def _run_packed(packed: bytes, params: PartitionSettings, default_prefix: str, with_metrics: bool) -> list[PlanResult]:
    jobs: list[CommunityJob] = pickle.loads(packed)
    return _run_batch(jobs, params, default_prefix, with_metrics)


def combine(results: list[PlanResult], params: PartitionSettings, runtime_s: float) -> PlanResult:
    """Stack per-community results, their grids sharing edges where jobs meet, and summarise them as one plan."""
    buildings = gpd.GeoDataFrame(pd.concat([r.buildings for r in results]))
    grids = gpd.GeoDataFrame(pd.concat([r.grids for r in results], ignore_index=True), crs=4326)
    job = np.repeat(np.arange(len(results)), [len(r.grids) for r in results])
    grids = grids.set_geometry(
        gpd.GeoSeries(stitched_jobs(grids.geometry.to_numpy(), job), index=grids.index, crs=4326)
    )
    metrics = summarise(
        grids,
        int(buildings["households"].sum()),
        len(buildings),
        params,
        [v for r in results for v in r.metrics.violations],
        [n for r in results for n in r.metrics.notes],
        [x for r in results for x in r.metrics.size_infeasible_grids],
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
    """Partition every community of ``data`` in parallel and combine the plans.

    Jobs are cut out and sent batch by batch, so workers start on the first while the rest are prepared.
    """
    import time

    from dask.distributed import Client, Future, LocalCluster, as_completed

    started = time.perf_counter()
    prefix = default_prefix or params.code_prefix
    plan = JobPlan(data, prefix, chunk_buildings)
    if len(plan) == 1:
        return _run(next(plan.jobs()), params, prefix, with_metrics)
    plan.data = slim(data)
    cluster = (
        None
        if scheduler
        else LocalCluster(n_workers=os.cpu_count() or 1, threads_per_worker=1, processes=True, dashboard_address=None)
    )
    client = Client(scheduler or cluster)
    try:
        # Small batches (a few seconds each) so no worker is left with a long tail at the end.
        size = max(1, math.ceil(len(plan) / (len(client.scheduler_info()["workers"]) * 64)))
        pending = as_completed()
        results: list[PlanResult] = []

        def collect(futures: Iterable[Future[list[PlanResult]]]) -> None:
            for future in futures:
                results.extend(future.result())
                if progress:
                    progress(len(results), len(plan))

        def send(batch: list[CommunityJob]) -> None:
            # Sent as bytes: the scheduler (in this process) unpickles and re-pickles a task's arguments,
            # which for GeoDataFrames means decoding and encoding every geometry twice more.
            packed = pickle.dumps(batch, protocol=pickle.HIGHEST_PROTOCOL)
            pending.add(client.submit(_run_packed, packed, params, prefix, with_metrics, pure=False))

        batch: list[CommunityJob] = []
        for job in plan.jobs():
            batch.append(job)
            if len(batch) == size:
                send(batch)
                batch = []
                collect(pending.next_batch(block=False))  # progress moves while the rest is still being sent
        if batch:
            send(batch)
        collect(pending)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    return combine(results, params, time.perf_counter() - started)
