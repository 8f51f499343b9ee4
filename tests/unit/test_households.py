import geopandas as gpd
import pytest
from shapely.geometry import box

from gridmap.partition.households import estimate_households, parse_count
from gridmap.settings import HouseholdSettings

# ~0.0009° × 0.0009° near 32°N is about 85 m × 100 m: big enough to make the arithmetic visible.
COMPOUND = box(118.7800, 32.0400, 118.7830, 32.0430)


def _buildings(**columns: list[object]) -> gpd.GeoDataFrame:
    n = len(next(iter(columns.values())))
    geoms = [box(118.7801 + i * 0.0003, 32.0401, 118.7803 + i * 0.0003, 32.0403) for i in range(n)]
    base: dict[str, list[object]] = {
        "building": ["yes"] * n,
        "building_levels": [None] * n,
        "building_flats": [None] * n,
        "households_input": [None] * n,
    }
    base.update(columns)
    return gpd.GeoDataFrame(base, geometry=geoms, crs=4326)


def test_parse_count() -> None:
    assert parse_count("6") == 6
    assert parse_count("6;7") == 6
    assert parse_count("5.6") == 6
    assert parse_count(None) is None
    assert parse_count("many") is None
    assert parse_count("9999") is None


def test_estimate_uses_footprint_levels_and_dwelling_size() -> None:
    frame = _buildings(building=["residential", "residential"], building_levels=["10", None])
    out = estimate_households(frame, gpd.GeoDataFrame(geometry=[], crs=4326), HouseholdSettings())
    area = out["footprint_m2"].iloc[0]
    assert 350 < area < 500
    assert out["households"].iloc[0] == round(area * 10 / 90)
    assert out["households"].iloc[1] == round(out["footprint_m2"].iloc[1] * 6 / 90)  # default levels
    assert set(out["households_source"]) == {"estimated"}


def test_generic_building_is_residential_only_inside_a_compound() -> None:
    frame = _buildings(building=["yes", "yes"])
    frame.loc[1, "geometry"] = box(118.7900, 32.0500, 118.7902, 32.0502)
    compounds = gpd.GeoDataFrame(geometry=[COMPOUND], crs=4326)
    out = estimate_households(frame, compounds, HouseholdSettings())
    assert out["is_residential"].tolist() == [True, False]
    assert out["households"].iloc[1] == 0


def test_surveyed_beats_osm_beats_estimate() -> None:
    frame = _buildings(
        building=["apartments"] * 3, building_flats=[None, "48", "48"], households_input=[None, None, 120]
    )
    out = estimate_households(frame, gpd.GeoDataFrame(geometry=[], crs=4326), HouseholdSettings())
    assert out["households_source"].tolist() == ["estimated", "osm", "surveyed"]
    assert out["households"].tolist()[1:] == [48, 120]


@pytest.mark.parametrize("dwelling", [60.0, 120.0])
def test_dwelling_size_is_configurable(dwelling: float) -> None:
    frame = _buildings(building=["residential"], building_levels=["6"])
    out = estimate_households(frame, gpd.GeoDataFrame(geometry=[], crs=4326), HouseholdSettings(dwelling_m2=dwelling))
    assert out["households"].iloc[0] == round(out["footprint_m2"].iloc[0] * 6 / dwelling)


def test_house_holds_one_household() -> None:
    frame = _buildings(building=["house"])
    out = estimate_households(frame, gpd.GeoDataFrame(geometry=[], crs=4326), HouseholdSettings())
    assert out["households"].iloc[0] == 1
