import json
import zipfile
from pathlib import Path

import geopandas as gpd
import pytest
from shapely.geometry import Polygon, box
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gridmap.db.models import Building, Compound, HouseholdsSource, Landmark, Street
from gridmap.errors import CRSError, InvalidGeometry, InvalidInput
from gridmap.ingest.service import import_files
from gridmap.settings import Settings
from gridmap.spatial.crs import CoordSys, from_wgs84_lonlat
from tests.conftest import NANJING_OSM, WANGJING_OSM

pytestmark = pytest.mark.db


def _count(session: Session, model: type) -> int:
    return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_nanjing_osm_import_counts_and_household_model(session: Session, settings: Settings) -> None:
    result = import_files(session=session, settings=settings, paths=[NANJING_OSM])
    assert _count(session, Building) == result.buildings == 1277
    assert result.residential == 518
    assert _count(session, Street) >= 380
    assert _count(session, Compound) == 11
    # No building carries building:flats, so every count is an estimate and marked so.
    sources = set(session.scalars(select(Building.households_source).where(Building.is_residential)))
    assert sources == {HouseholdsSource.estimated}
    assert 18_000 < result.households < 20_500
    barriers = session.scalars(select(Street.name).where(Street.is_barrier)).all()
    assert "中山路" in barriers and "汉中路" in barriers
    lanes = session.scalar(select(Street.is_barrier).where(Street.street_class == "living_street").limit(1))
    assert lanes is False


def test_wangjing_import_keeps_names_and_compounds(session: Session, settings: Settings) -> None:
    result = import_files(session=session, settings=settings, paths=[WANGJING_OSM])
    assert result.buildings == 226 and result.residential == 67
    names = set(session.scalars(select(Building.name).where(Building.name.is_not(None))))
    assert any(n.startswith("望京西园") and n.endswith("号楼") for n in names)
    in_compound = session.scalar(select(func.count()).select_from(Building).where(Building.compound_id.is_not(None)))
    assert in_compound and in_compound > 30


def test_reimport_is_idempotent(session: Session, settings: Settings) -> None:
    import_files(session=session, settings=settings, paths=[WANGJING_OSM])
    before = (_count(session, Building), _count(session, Street), _count(session, Compound))
    import_files(session=session, settings=settings, paths=[WANGJING_OSM])
    assert (_count(session, Building), _count(session, Street), _count(session, Compound)) == before


def test_named_points_become_landmarks_once_however_often_imported(session: Session, settings: Settings) -> None:
    first = import_files(session=session, settings=settings, paths=[NANJING_OSM])
    again = import_files(session=session, settings=settings, paths=[NANJING_OSM])
    assert first.landmarks == again.landmarks == _count(session, Landmark) == 379
    post = session.execute(select(Landmark.kind, Landmark.osm_id, Landmark.source).where(Landmark.name == "新街口邮局"))
    assert tuple(post.one()) == ("amenity", 1069278232, NANJING_OSM.name)
    assert session.scalar(select(Landmark.kind).where(Landmark.name == "杨公井")) == "bus_stop"
    assert not session.scalar(select(func.count()).select_from(Landmark).where(Landmark.name == "玄武区"))  # a place


HOSTILE = "<img src=x onerror=alert(1)>'; DROP TABLE landmarks;--超市"


def test_a_hostile_poi_name_is_stored_as_text(session: Session, settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "hostile.osm"
    ring = [(118.780, 32.040), (118.7802, 32.040), (118.7802, 32.0402), (118.780, 32.0402)]
    nodes = "".join(f'<node id="{i + 1}" lat="{y}" lon="{x}"/>' for i, (x, y) in enumerate(ring))
    way = '<way id="10">' + "".join(f'<nd ref="{i}"/>' for i in (1, 2, 3, 4, 1)) + '<tag k="building" v="yes"/></way>'
    escaped = HOSTILE.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("'", "&apos;")
    poi = f'<node id="9" lat="32.0401" lon="118.7801"><tag k="name" v="{escaped}"/><tag k="shop" v="x"/></node>'
    path.write_text(f'<?xml version="1.0"?><osm version="0.6">{nodes}{poi}{way}</osm>', encoding="utf-8")
    assert import_files(session=session, settings=settings, paths=[path]).landmarks == 1
    stored = session.execute(select(Landmark.name, Landmark.kind, Landmark.source_id)).one()
    assert tuple(stored) == (HOSTILE, "shop", "osm:n9")


def test_surveyed_households_from_geopackage(session: Session, settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "survey.gpkg"
    buildings = gpd.GeoDataFrame(
        {"building_id": [1, 2], "name": ["1号楼", "2号楼"], "hh": [120, 80]},
        geometry=[box(118.78, 32.04, 118.7802, 32.0402), box(118.781, 32.04, 118.7812, 32.0402)],
        crs=4326,
    )
    buildings.to_file(path, layer="buildings")
    import_files(session=session, settings=settings, paths=[path], households_field="hh")
    rows = session.execute(select(Building.households, Building.households_source).order_by(Building.source_id)).all()
    assert [(r[0], r[1].value) for r in rows] == [(120, "surveyed"), (80, "surveyed")]


def test_unknown_households_field_is_named(session: Session, settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "b.gpkg"
    gpd.GeoDataFrame({"building_id": [1]}, geometry=[box(118.78, 32.04, 118.7802, 32.0402)], crs=4326).to_file(
        path, layer="buildings"
    )
    with pytest.raises(InvalidInput, match="hh_typo"):
        import_files(session=session, settings=settings, paths=[path], households_field="hh_typo")


def test_truncated_osm_is_refused_and_nothing_written(session: Session, settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "cut.osm"
    path.write_bytes(NANJING_OSM.read_bytes()[:300_000])
    with pytest.raises(InvalidInput, match="cannot read"):
        import_files(session=session, settings=settings, paths=[path])
    assert _count(session, Building) == 0 and _count(session, Street) == 0


def test_empty_file_is_refused(session: Session, settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "empty.geojson"
    path.write_text("")
    with pytest.raises(InvalidInput, match="empty"):
        import_files(session=session, settings=settings, paths=[path])


BOWTIE = Polygon([(118.780, 32.040), (118.781, 32.041), (118.781, 32.040), (118.780, 32.041)])


def _geojson(path: Path, features: list[dict[str, object]], crs: str | None = None) -> Path:
    doc: dict[str, object] = {"type": "FeatureCollection", "features": features}
    if crs:
        doc["crs"] = {"type": "name", "properties": {"name": crs}}
    path.write_text(json.dumps(doc))
    return path


def _feature(geom: Polygon, **props: object) -> dict[str, object]:
    return {
        "type": "Feature",
        "properties": props,
        "geometry": json.loads(gpd.GeoSeries([geom]).to_json())["features"][0]["geometry"],
    }


def test_self_intersecting_polygon_is_repaired_and_reported(
    session: Session, settings: Settings, tmp_path: Path
) -> None:
    path = _geojson(
        tmp_path / "buildings.geojson",
        [_feature(BOWTIE, id=1, building="residential"), _feature(box(118.782, 32.04, 118.7822, 32.0402), id=2)],
    )
    result = import_files(session=session, settings=settings, paths=[path])
    assert result.buildings == 2
    assert any("repaired" in line for line in result.fixes)
    assert session.scalar(select(func.bool_and(func.ST_IsValid(Building.geom)))) is True


def test_self_intersecting_polygon_in_strict_mode_writes_nothing(
    session: Session, settings: Settings, tmp_path: Path
) -> None:
    path = _geojson(
        tmp_path / "buildings.geojson", [_feature(box(118.782, 32.04, 118.7822, 32.0402), id=2), _feature(BOWTIE, id=1)]
    )
    with pytest.raises(InvalidGeometry, match="Self-intersection"):
        import_files(session=session, settings=settings, paths=[path], strict=True)
    assert _count(session, Building) == 0


def test_duplicates_are_dropped_and_reported(session: Session, settings: Settings, tmp_path: Path) -> None:
    square = box(118.782, 32.04, 118.7822, 32.0402)
    path = _geojson(tmp_path / "buildings.geojson", [_feature(square, id=1), _feature(square, id=2)])
    result = import_files(session=session, settings=settings, paths=[path])
    assert result.buildings == 1
    assert any("duplicate geometry" in line for line in result.fixes)


def test_unknown_crs_in_shapefile_is_refused(session: Session, settings: Settings, tmp_path: Path) -> None:
    shp = tmp_path / "shp"
    shp.mkdir()
    gpd.GeoDataFrame({"id": [1]}, geometry=[box(668000, 3546000, 668050, 3546050)]).to_file(shp / "buildings.shp")
    (shp / "buildings.prj").unlink(missing_ok=True)
    archive = tmp_path / "buildings.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for f in shp.iterdir():
            z.write(f, f.name)
    with pytest.raises(CRSError, match="--crs"):
        import_files(session=session, settings=settings, paths=[archive])
    assert _count(session, Building) == 0
    result = import_files(session=session, settings=settings, paths=[archive], crs=gpd.GeoSeries(crs=32650).crs)
    assert result.buildings == 1
    lon = session.scalar(select(func.ST_X(func.ST_Centroid(Building.geom))))
    assert lon is not None and 118 < lon < 119.5


def test_gcj02_input_is_converted(session: Session, settings: Settings, tmp_path: Path) -> None:
    lon, lat = 118.7800, 32.0450
    glon, glat = from_wgs84_lonlat(lon, lat, CoordSys.gcj02)
    square = box(glon, glat, glon + 0.0002, glat + 0.0002)
    path = _geojson(tmp_path / "buildings.geojson", [_feature(square, id=1)])
    import_files(session=session, settings=settings, paths=[path], crs=CoordSys.gcj02)
    xmin, ymin = session.execute(select(func.ST_XMin(Building.geom), func.ST_YMin(Building.geom))).one()
    corner = gpd.GeoSeries(gpd.points_from_xy([lon, xmin], [lat, ymin]), crs=4326).to_crs(32650)
    assert corner.iloc[0].distance(corner.iloc[1]) < 1.0


def test_a_file_with_a_feature_over_the_vertex_cap_writes_nothing(
    session: Session, settings: Settings, tmp_path: Path
) -> None:
    """新街口 first, then a file whose one building has 2,000 vertices with a cap of 1,000: neither is stored."""
    ring = [(118.78 + 0.001 * (i % 2) + i * 1e-6, 32.04 + (i // 2) * 1e-6) for i in range(1_999)]
    path = tmp_path / "buildings.geojson"
    frame = gpd.GeoDataFrame({"building_id": ["b1"], "name": ["锯齿楼"]}, geometry=[Polygon(ring)], crs=4326)
    frame.to_file(path, driver="GeoJSON")
    limits = settings.imports.model_copy(update={"max_vertices_per_feature": 1_000})
    capped = settings.model_copy(update={"imports": limits})
    with pytest.raises(InvalidInput, match=r"buildings:b1\(锯齿楼\) 有 2,000 个顶点"):
        import_files(session=session, settings=capped, paths=[NANJING_OSM, path])
    assert _count(session, Building) == 0 and _count(session, Street) == 0
