"""Two neighbouring 社区 partitioned as separate fan-out jobs: their grids meet along the shared boundary.

Each job fits its grids to its own 社区 in EPSG:4326 (``shapes.fitted_wgs84``); the review question was whether
the two fits still agree where the 社区 meet: no overlap, no gap, every point near the shared edge in one grid.
The 社区 here are the 新街口 extract's hull cut by a bent line (not a meridian), so the shared edge has vertices
that neither job's grids had before the fit.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
from shapely.geometry import LineString
from shapely.ops import split
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from gridmap.partition.fanout import JobPlan, combine
from gridmap.partition.filemode import plan_input_from_files
from gridmap.partition.pipeline import PlanInput, partition
from gridmap.partition.tiling import Tiling, measure_polygons
from gridmap.settings import HouseholdSettings, PartitionSettings
from tests.conftest import PARTITION_INPUTS

pytestmark = pytest.mark.db
DUST_M2 = 1e-4  # as in test_tiling: what floating point leaves between two outlines that coincide


def _two_jobs(engine: Engine) -> tuple[Tiling, Tiling]:
    """The 新街口 hull cut in two 社区 by a bent line, one fan-out job each: tiling of all grids, and near the cut."""
    data, _ = plan_input_from_files(
        [PARTITION_INPUTS / "nanjing_xinjiekou_2021-06.gpkg"],
        households_field="households",
        crs=None,
        model=HouseholdSettings(),
    )
    buildings = data.buildings.to_crs(4326)
    hull = shapely.convex_hull(shapely.union_all(buildings.geometry.to_numpy())).buffer(0.002)
    x, (_, y0, _, y1) = float(np.median(buildings.geometry.representative_point().x)), hull.bounds
    cut = LineString([(x - 0.002, y0 - 0.01), (x + 0.0013, (y0 + y1) / 2 + 0.0007), (x - 0.0005, y1 + 0.01)])
    west, east = sorted(split(hull, cut).geoms, key=lambda p: p.centroid.x)
    communities = gpd.GeoDataFrame({"code": ["320102003001", "320102003002"]}, geometry=[west, east], crs=4326)
    inside_west = buildings.geometry.representative_point().within(west).to_numpy()
    buildings = buildings.assign(community=np.where(inside_west, "320102003001", "320102003002"))
    params = PartitionSettings()
    jobs = list(JobPlan(PlanInput(buildings, data.streets, communities), params.code_prefix, 1).jobs())
    assert len(jobs) == 2
    results = [partition(job.data, params, code_prefix=params.code_prefix) for job in jobs]
    grids = list(combine(results, params, 0.0).grids.geometry)  # stacked as partition_city stacks them
    band = cut.buffer(0.0001).intersection(hull)  # about 10 m either side of the shared boundary
    with Session(engine) as session:
        tiling = measure_polygons(session, [bytes(g.wkb) for g in grids], bytes(hull.wkb))
        near = measure_polygons(session, [bytes(g.wkb) for g in grids], bytes(band.wkb))
    return tiling, near


def test_grids_of_two_neighbouring_jobs_cover_both_without_strays(engine: Engine) -> None:
    tiling, near = _two_jobs(engine)
    # overlap as stored (straight lon/lat edges): before r18 it was read on the spheroid, 0.029 m² for this dust
    dust = [tiling.overlap_m2, tiling.uncovered_m2, tiling.outside_m2]
    assert (tiling.stray_points, near.stray_points, all(d is not None and d < DUST_M2 for d in dust)) == (0, 0, True), (
        tiling
    )


def test_grids_of_two_neighbouring_jobs_share_their_edge_exactly(engine: Engine) -> None:
    tiling, _ = _two_jobs(engine)
    assert (tiling.overlapping_pairs, tiling.overlap_m2) == (0, 0), tiling
