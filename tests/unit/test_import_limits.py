"""Hostile import files: zip bombs and giant features are refused with what is wrong, before anything is read in."""

import os
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import Polygon, box

from gridmap.errors import InvalidInput
from gridmap.settings import ImportSettings
from gridmap.spatial.io import read_sources
from tests.bombs import zip_bomb


def test_a_zip_bomb_is_refused_for_its_ratio_not_its_crs(tmp_path: Path) -> None:
    """A 20 KB zip of a 20 MB .dbf (1,000:1): the message blamed the missing CRS before."""
    archive = zip_bomb(tmp_path / "buildings.zip", "buildings.dbf", 20 << 20)
    with pytest.raises(InvalidInput, match=r"buildings\.dbf 压缩比 1,0\d\d:1.*超过上限 500:1"):
        read_sources([archive])


def test_a_zip_over_the_uncompressed_limit_is_refused_before_it_is_unpacked(tmp_path: Path) -> None:
    archive = tmp_path / "buildings.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("buildings.shp", os.urandom(3 << 20))  # incompressible: ratio 1
    with pytest.raises(InvalidInput, match=r"解压后共 3.1 MB,超过上限 2.1 MB"):
        read_sources([archive], limits=ImportSettings(max_unzipped_bytes=2 << 20))


def _geojson(tmp_path: Path, shapes: list[object], names: list[str]) -> Path:
    path = tmp_path / "buildings.geojson"
    frame = gpd.GeoDataFrame({"building_id": [f"b{i}" for i in range(len(names))], "name": names}, geometry=shapes)
    frame.set_crs(4326).to_file(path, driver="GeoJSON")
    return path


def test_a_feature_over_the_vertex_cap_is_named_with_the_limit(tmp_path: Path) -> None:
    turns = np.linspace(0, 2 * np.pi, 160_000, endpoint=False)
    giant = Polygon(np.c_[118.78 + 0.001 * np.cos(turns), 32.04 + 0.001 * np.sin(turns)])  # 160,001 vertices
    path = _geojson(tmp_path, [box(118.77, 32.03, 118.7701, 32.0301), giant], ["门卫室", "巨型楼"])
    with pytest.raises(InvalidInput, match=r"要素 buildings:b1\(巨型楼\) 有 160,001 个顶点,超过每个要素 100,000 个"):
        read_sources([path])


def test_a_file_over_the_vertex_cap_is_refused(tmp_path: Path) -> None:
    shapes = [box(118.77 + i * 1e-4, 32.03, 118.77005 + i * 1e-4, 32.03005) for i in range(300)]
    path = _geojson(tmp_path, shapes, [f"{i}号楼" for i in range(300)])
    with pytest.raises(InvalidInput, match=r"共 1,500 个顶点,超过每个文件 1,000 个的上限"):
        read_sources([path], limits=ImportSettings(max_vertices_per_file=1_000))
