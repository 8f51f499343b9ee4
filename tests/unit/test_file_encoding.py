"""Chinese text in Shapefiles and GeoJSON: read right, or refused with what to do, never stored garbled."""

import zipfile
from pathlib import Path

import geopandas as gpd
import pyogrio
import pytest
from shapely.geometry import box

from gridmap.errors import InvalidInput
from gridmap.spatial.io import read_sources

NAMES = ["鼓楼小区1号楼", "新街口2号楼"]


def _buildings() -> gpd.GeoDataFrame:
    shapes = [box(118.78, 32.04, 118.7801, 32.0401), box(118.781, 32.041, 118.7811, 32.0411)]
    return gpd.GeoDataFrame({"name": NAMES, "building": ["apartments"] * 2}, geometry=shapes, crs=4326)


def _shapefile(tmp_path: Path, encoding: str, cpg: bool) -> Path:
    folder = tmp_path / "shp"
    folder.mkdir()
    pyogrio.write_dataframe(_buildings(), folder / "buildings.shp", encoding=encoding)
    if not cpg:
        (folder / "buildings.cpg").unlink()
    archive = tmp_path / "buildings.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for part in folder.iterdir():
            z.write(part, part.name)
    return archive


def _names(path: Path, encoding: str | None = None) -> list[str]:
    return sorted(read_sources([path], encoding=encoding).buildings["name"].tolist())


def test_a_gbk_shapefile_without_cpg_is_refused_with_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match=r"看来是 GBK.*--encoding gbk"):
        read_sources([_shapefile(tmp_path, "GBK", cpg=False)])


def test_a_gbk_shapefile_reads_right_with_the_encoding_given(tmp_path: Path) -> None:
    assert _names(_shapefile(tmp_path, "GBK", cpg=False), encoding="gbk") == sorted(NAMES)


def test_a_gbk_shapefile_with_cpg_reads_right(tmp_path: Path) -> None:
    assert _names(_shapefile(tmp_path, "GBK", cpg=True)) == sorted(NAMES)


def test_a_utf8_shapefile_without_cpg_reads_right(tmp_path: Path) -> None:
    assert _names(_shapefile(tmp_path, "UTF-8", cpg=False)) == sorted(NAMES)


def _geojson(tmp_path: Path, encoding: str) -> Path:
    utf8 = tmp_path / "utf8.geojson"
    _buildings().to_file(utf8, driver="GeoJSON")
    path = tmp_path / "buildings.geojson"
    path.write_bytes(utf8.read_text(encoding="utf-8").encode(encoding))
    return path


def test_a_gbk_geojson_is_refused_with_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match=r"not UTF-8 \(it looks like GBK\).*RFC 7946.*--encoding gbk"):
        read_sources([_geojson(tmp_path, "gbk")])


def test_a_gbk_geojson_reads_right_with_the_encoding_given(tmp_path: Path) -> None:
    assert _names(_geojson(tmp_path, "gbk"), encoding="gbk") == sorted(NAMES)


def test_a_wrong_or_unknown_encoding_is_refused(tmp_path: Path) -> None:
    path = _geojson(tmp_path, "gbk")
    with pytest.raises(InvalidInput, match="unknown encoding"):
        read_sources([path], encoding="klingon")
    with pytest.raises(InvalidInput, match="is not utf-8 text"):
        read_sources([path], encoding="utf-8")
