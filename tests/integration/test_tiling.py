"""Grids as stored (EPSG:4326) tile the study area exactly: no overlap, no gap, no point in two grids or in none.

Checked in PostGIS on the real 新街口 and 望京 extracts. Before the grids were fitted in EPSG:4326 their outer edge,
made straight in metres, left strips of millimetres against the study area's edge (straight in lon/lat): 17 and 7
of 20,000 points near the edges lay in no grid or in two.
"""

from __future__ import annotations

import geopandas as gpd
import pytest
import shapely
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from gridmap.partition.filemode import plan_input_from_files
from gridmap.partition.pipeline import finish, prepare, solve
from gridmap.partition.tiling import measure_polygons
from gridmap.settings import HouseholdSettings, PartitionSettings
from tests.conftest import PARTITION_INPUTS

pytestmark = pytest.mark.db
DUST_M2 = 1e-4  # what floating point leaves between two outlines that coincide: far below a square millimetre


@pytest.mark.parametrize("name", ["nanjing_xinjiekou_2021-06", "beijing_wangjing_2020-09"])
def test_stored_grids_cover_the_study_area_exactly(name: str, engine: Engine) -> None:
    data, _ = plan_input_from_files(
        [PARTITION_INPUTS / f"{name}.gpkg"], households_field="households", crs=None, model=HouseholdSettings()
    )
    params = PartitionSettings()
    prep = prepare(data, params)
    result = finish(prep, solve(prep, params), params)
    area = gpd.GeoSeries([prep.area], crs=prep.crs).to_crs(4326).iloc[0]
    grids = result.grids.geometry.to_numpy()
    assert shapely.is_valid(grids).all()
    with Session(engine) as session:
        tiling = measure_polygons(session, [bytes(g.wkb) for g in grids], bytes(area.wkb))
    assert tiling.sampled_points == 20_000
    assert tiling.stray_points == 0, tiling
    assert tiling.overlapping_pairs == 0 and tiling.overlap_m2 == 0, tiling
    assert tiling.uncovered_m2 is not None and tiling.uncovered_m2 < DUST_M2, tiling
    assert tiling.outside_m2 is not None and tiling.outside_m2 < DUST_M2, tiling
