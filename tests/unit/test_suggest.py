"""Address suggestions on tiny hand-made buildings and 小区 (EPSG:4326)."""

from __future__ import annotations

import geopandas as gpd
import shapely

from gridmap.spatial.geocode.suggest import Suggester


def _suggester() -> Suggester:
    box = [shapely.box(118.0 + i * 0.001, 32.0, 118.0005 + i * 0.001, 32.0005) for i in range(4)]
    buildings = gpd.GeoDataFrame(
        {
            "building_id": [1, 2, 3, 4],
            "name": ["香铺营3号楼", "香铺营12栋", None, "德基广场"],
            "addr_street": [None, None, "中山路", "中山路"],
            "addr_housenumber": [None, None, "18", "18号"],
            "compound_name": ["香铺营小区", "香铺营小区", None, None],
        },
        geometry=box,
        crs=4326,
    )
    outline = shapely.box(118.0, 32.0, 118.002, 32.001)
    compounds = gpd.GeoDataFrame({"name": ["香铺营小区"]}, geometry=[outline], crs=4326)
    return Suggester(buildings, compounds)


def test_prefix_matches_come_first_and_the_compound_before_its_buildings() -> None:
    labels = [(s.kind, s.label) for s in _suggester().suggest("香铺营")]
    # 小区 first, then buildings by the length of their label (the shorter, the less typing left)
    assert labels == [("compound", "香铺营小区"), ("building", "香铺营小区12栋"), ("building", "香铺营小区3号楼")]


def test_normal_form_and_admin_prefix_are_ignored() -> None:
    found = _suggester().suggest("南京市玄武区中山路１８")  # full-width digits, admin names in front
    assert [(s.label, s.building_id) for s in found] == [("中山路18号", "3")]  # one label: the first building
    # 栋 and 号楼 compare equal; a label is shown as written
    assert [s.label for s in _suggester().suggest("12号楼")] == ["香铺营小区12栋"]


def test_nothing_typed_or_nothing_found_is_empty() -> None:
    assert _suggester().suggest("   ") == [] and _suggester().suggest("不存在") == []
    assert len(_suggester().suggest("香", limit=2)) == 2
