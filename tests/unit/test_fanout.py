"""City-wide runs: 社区 nesting and codes when partitions fan out over dask."""

from pathlib import Path

import geopandas as gpd
import shapely

from gridmap.partition.fanout import partition_city, split_by_community
from gridmap.partition.filemode import plan_input_from_files
from gridmap.partition.pipeline import PlanInput
from gridmap.settings import HouseholdSettings, PartitionSettings
from tests.conftest import PARTITION_INPUTS

WEST, EAST = "320102003001", "320102003002"


def _two_communities() -> PlanInput:
    data, _ = plan_input_from_files(
        [PARTITION_INPUTS / "nanjing_xinjiekou_2021-06.gpkg"],
        households_field="households",
        crs=None,
        model=HouseholdSettings(),
    )
    minx, miny, maxx, maxy = data.buildings.total_bounds
    cut = (minx + maxx) / 2
    pad = 0.01
    west = shapely.box(minx - pad, miny - pad, cut, maxy + pad)
    east = shapely.box(cut, miny - pad, maxx + pad, maxy + pad)
    communities = gpd.GeoDataFrame({"code": [WEST, EAST], "name": ["西", "东"]}, geometry=[west, east], crs=4326)
    x = data.buildings.geometry.representative_point().x
    data.buildings["community"] = [WEST if v < cut else EAST for v in x]
    return PlanInput(buildings=data.buildings, streets=data.streets, communities=communities)


def test_split_keeps_each_community_whole() -> None:
    data = _two_communities()
    jobs = split_by_community(data, "000000000000", chunk_buildings=1)
    assert sorted(j.code for j in jobs) == [WEST, EAST]
    assert sum(len(j.data.buildings) for j in jobs) == len(data.buildings)


def test_city_run_nests_grids_in_communities(tmp_path: Path) -> None:
    data = _two_communities()
    seen: list[tuple[int, int]] = []
    result = partition_city(
        data,
        PartitionSettings(),
        default_prefix="000000000000",
        chunk_buildings=1,
        progress=lambda d, t: seen.append((d, t)),
    )
    assert seen[-1] == (2, 2)  # two jobs ran on the dask workers
    grids = result.grids
    assert set(grids["grid_code"].str[:12]) == {WEST, EAST}
    for code, community in zip(grids["grid_code"], grids["community_code"], strict=True):
        assert code.startswith(community)
    side = dict(zip(data.buildings.index.astype(str), data.buildings["community"], strict=True))
    for building, code in result.buildings["grid_code"].items():
        assert code.startswith(side[str(building)])
    assert result.buildings["grid_code"].notna().all()
    assert len(result.buildings) == len(data.buildings)
