"""The whole partition on the real 新街口 and 望京 GeoPackages (no database)."""

import re
from pathlib import Path

import pyogrio
import pytest

from gridmap.partition.filemode import partition_file
from gridmap.settings import HouseholdSettings, PartitionSettings
from tests.conftest import NANJING_OSM, PARTITION_INPUTS

INPUTS = PARTITION_INPUTS


@pytest.mark.parametrize("name", ["nanjing_xinjiekou_2021-06", "beijing_wangjing_2020-09"])
def test_file_mode_on_real_inputs(name: str, tmp_path: Path) -> None:
    src = INPUTS / f"{name}.gpkg"
    out = tmp_path / "out.gpkg"
    result, _ = partition_file(
        [src], out, params=PartitionSettings(), model=HouseholdSettings(), households_field="households"
    )
    metrics = result.metrics
    hard = [v for v in metrics.violations if v.rule != "size"]
    assert hard == []
    buildings = pyogrio.read_dataframe(out, layer="buildings")
    grids = pyogrio.read_dataframe(out, layer="grids")
    source = pyogrio.read_dataframe(src, layer="buildings")
    # Every input building is in exactly one grid, with its id kept.
    assert sorted(buildings["building_id"].astype(str)) == sorted(source["building_id"].astype(str))
    assert buildings["grid_code"].notna().all()
    assert set(buildings["grid_code"]) == set(grids["grid_code"])
    assert (grids.geometry.geom_type == "Polygon").all()
    assert grids["grid_code"].str.fullmatch(r"\d{15}").all()
    # Households are the input's, summed independently of the solver.
    by_grid = (
        source.merge(buildings[["building_id", "grid_code"]], on="building_id").groupby("grid_code")["households"].sum()
    )
    assert (grids.set_index("grid_code")["households"] == by_grid.reindex(grids["grid_code"]).to_numpy()).all()
    if name.startswith("nanjing"):
        assert metrics.in_band_share >= 0.85
        assert metrics.grids >= 60
    # Grids out of band are either forced by the rules (and say why) or counted against the solver.
    out_of_band = set(grids.loc[~grids["households"].between(240, 360), "grid_code"])
    size_violations = {v.grid for v in metrics.violations if v.rule == "size"}
    assert out_of_band == set(metrics.size_infeasible_grids) | size_violations
    assert not set(metrics.size_infeasible_grids) & size_violations
    judged = len(grids) - len(metrics.size_infeasible_grids)
    assert metrics.in_band_share_feasible == round(1 - len(size_violations) / judged, 4)


def test_osm_file_mode_uses_household_model(tmp_path: Path) -> None:
    out = tmp_path / "nj.gpkg"
    result, _ = partition_file([NANJING_OSM], out, params=PartitionSettings(), model=HouseholdSettings())
    assert result.metrics.buildings == 518
    assert set(result.buildings["households_source"]) == {"estimated"}


def test_an_area_no_plan_can_fill_is_reported_with_the_proof() -> None:
    """Buildings of 200, 300 and 250 households in a row between main roads: 750 households fit only three grids
    of 240-360, one building each, and the first is too small. The exhaustive search proves that no plan does
    better, so that grid is listed as forced by the rules, with the reason, instead of counted against the solver."""
    import geopandas as gpd
    from shapely.geometry import LineString, box

    from gridmap.partition.pipeline import PlanInput, partition

    x0, y0, step = 118.78, 32.04, 0.0006  # about 57 m between buildings
    buildings = gpd.GeoDataFrame(
        {"households": [200, 300, 250]},
        geometry=[box(x0 + i * step, y0, x0 + i * step + 0.0003, y0 + 0.0003) for i in range(3)],
        crs=4326,
    )
    roads = [LineString([(x0 - 0.002, y), (x0 + 0.004, y)]) for y in (y0 - 0.0008, y0 + 0.0011)]
    roads += [LineString([(x, y0 - 0.002), (x, y0 + 0.003)]) for x in (x0 - 0.0008, x0 + 0.0023)]
    streets = gpd.GeoDataFrame({"street_class": ["primary"] * 4, "name": list("ABCD")}, geometry=roads, crs=4326)
    metrics = partition(PlanInput(buildings=buildings, streets=streets), PartitionSettings()).metrics
    assert [v for v in metrics.violations if v.rule == "size"] == []
    assert metrics.grids == 3 and len(metrics.size_infeasible_grids) == 1
    assert any("exhaustive search" in note for note in metrics.infeasible)
    (note,) = [n for n in metrics.notes if n.grid in metrics.size_infeasible_grids]
    assert "穷举" in note.zh and " / " not in note.zh and "exhaustive search" in note.en
    assert not re.search(r"[\u4e00-\u9fff]", note.en)  # the English text is English only
    assert metrics.infeasible == [str(n) for n in metrics.notes] and str(note) == f"{note.grid}: {note.zh} / {note.en}"
    assert metrics.as_dict()["notes"] == [{"grid": n.grid, "zh": n.zh, "en": n.en} for n in metrics.notes]
