import geopandas as gpd
import numpy as np
import pytest
import shapely
from shapely.geometry import Point, box

from gridmap.errors import CRSError
from gridmap.spatial.crs import CoordSys, from_wgs84_lonlat, parse_crs, to_wgs84, to_wgs84_lonlat
from tests.conftest import DATA, NANJING_OSM


def _metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    series = gpd.GeoSeries([Point(a), Point(b)], crs=4326).to_crs(32650)
    return float(series.iloc[0].distance(series.iloc[1]))


@pytest.mark.parametrize("system", [CoordSys.gcj02, CoordSys.bd09])
def test_chinese_offsets_round_trip_within_a_metre(system: CoordSys) -> None:
    wgs = (118.7800, 32.0450)
    shifted = from_wgs84_lonlat(*wgs, system)
    assert _metres(wgs, shifted) > 300  # the offset is real: hundreds of metres
    assert _metres(wgs, to_wgs84_lonlat(*shifted, system)) < 1.0


def test_projected_frame_is_converted_to_lonlat() -> None:
    frame = gpd.GeoDataFrame(geometry=[box(668000, 3546000, 668100, 3546100)], crs=32650)
    out = to_wgs84(frame)
    assert out.crs.to_epsg() == 4326
    minx, miny, _, _ = out.total_bounds
    assert 118 < minx < 119.5 and 31.5 < miny < 32.5


def test_cgcs2000_is_accepted() -> None:
    frame = gpd.GeoDataFrame(geometry=[Point(118.78, 32.04)], crs=4490)
    out = to_wgs84(frame)
    assert _metres((118.78, 32.04), (out.geometry.x.iloc[0], out.geometry.y.iloc[0])) < 1.0


def test_missing_crs_is_a_clear_error() -> None:
    frame = gpd.GeoDataFrame(geometry=[Point(1, 1)])
    with pytest.raises(CRSError, match="--crs"):
        to_wgs84(frame)


def test_metres_declared_as_degrees_is_refused() -> None:
    frame = gpd.GeoDataFrame(geometry=[Point(668000, 3546000)], crs=4326)
    with pytest.raises(CRSError, match="not longitude/latitude"):
        to_wgs84(frame)


def test_unknown_crs_name_is_refused() -> None:
    with pytest.raises(CRSError, match="unknown CRS"):
        parse_crs("EPSG:999999")


def test_gcj02_district_boundaries_land_on_osm_borders() -> None:
    """The AMap (GCJ-02) district borders, converted, lie on the OSM admin_level=6 ways; raw they do not."""
    import pyogrio

    from gridmap.spatial.io import OSM_CONFIG

    pyogrio.set_gdal_config_options({"OSM_CONFIG_FILE": str(OSM_CONFIG)})
    lines = pyogrio.read_dataframe(NANJING_OSM, layer="lines")
    borders = lines[lines["admin_level"] == "6"]
    assert len(borders) >= 10
    crs = borders.estimate_utm_crs()
    vertices = gpd.GeoSeries(shapely.points(shapely.get_coordinates(borders.geometry.values)), crs=4326).to_crs(crs)
    raw = gpd.GeoDataFrame(
        pd_concat(
            [
                gpd.read_file(DATA / "cn_ref" / "district_boundaries_gcj02" / f"{c}.geojson")
                for c in ("320102", "320104", "320106")
            ]
        ),
        crs=4326,
    )
    converted = to_wgs84(raw, CoordSys.gcj02)
    near_raw = vertices.distance(shapely.union_all(raw.to_crs(crs).boundary.values))
    near_converted = vertices.distance(shapely.union_all(converted.to_crs(crs).boundary.values))
    assert np.median(near_converted) < 15
    assert np.median(near_raw) > 150


def pd_concat(frames: list[gpd.GeoDataFrame]) -> gpd.GeoDataFrame:
    import pandas as pd

    return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=4326)
