"""OGC API - Features read by clients nobody here wrote: GDAL's OAPIF driver, OWSLib and QGIS (headless)."""

from __future__ import annotations

import json
import os
import re
import subprocess
from typing import Any

import httpx
from owslib.ogcapi.features import Features
from sqlalchemy import text

# QGIS 3.22 (Debian 12) cannot put a header into a data source URI; its users sign in with the OAuth2 auth
# method, "Resource Owner" grant, against gridmap's token URL, and QGIS sends the bearer token itself.
QGIS_SCRIPT = (
    """
import json, sys, tempfile, os
os.environ["QGIS_AUTH_DB_DIR_PATH"] = tempfile.mkdtemp()
from qgis.core import QgsApplication, QgsAuthMethodConfig, QgsVectorLayer
QgsApplication.setPrefixPath("/usr", True)
app = QgsApplication([], False)
app.initQgis()
base, user = sys.argv[1], sys.argv[2]
auth = QgsApplication.authManager()
auth.setMasterPassword("interop-test", True)
oauth = {"grantFlow": 2, "tokenUrl": base + "/api/auth/token", "username": user, "password": "secret",
         "accessMethod": 0, "persistToken": False, "version": 1, "configType": 1, "requestTimeout": 30,
         "name": "gridmap", "clientId": "qgis", "clientSecret": "", "scope": "", "apiKey": "", "redirectPort": 7070,
         "redirectUrl": "", "refreshTokenUrl": "", "requestUrl": "", "queryPairs": {}}
config = QgsAuthMethodConfig("OAuth2")
config.setName("gridmap")
config.setConfig("oauth2config", json.dumps(oauth))
assert auth.storeAuthenticationConfig(config)[0]
"""
    + "{layer}\napp.exitQgis()\n"
)
OAPIF_LAYER = """
uri = f"url='{base}/ogc' typename='grids' authcfg='{config.id()}'"
layer = QgsVectorLayer(uri, "grids", "OAPIF")
feature = next(layer.getFeatures()) if layer.isValid() else None
print(layer.isValid(), layer.featureCount(), feature["code"] if feature else None)
"""
# QGIS's vector tile layer on the plan's tiles, drawn into an image: how many pixels are not the background.
TILE_LAYER = """
from qgis.core import QgsVectorTileLayer, QgsMapSettings, QgsMapRendererSequentialJob, QgsCoordinateReferenceSystem
from qgis.core import QgsRectangle, QgsCoordinateTransform, QgsProject
from qgis.PyQt.QtCore import QSize
from qgis.PyQt.QtGui import QColor
url = base + "/tiles/plan/{z}/{x}/{y}.pbf"
layer = QgsVectorTileLayer(f"type=xyz&url={url}&zmin=0&zmax=20&authcfg={config.id()}", "plan")
settings = QgsMapSettings()
settings.setLayers([layer])
settings.setDestinationCrs(QgsCoordinateReferenceSystem("EPSG:3857"))
wgs = QgsCoordinateReferenceSystem("EPSG:4326")
box = QgsCoordinateTransform(wgs, settings.destinationCrs(), QgsProject.instance()).transform(
    QgsRectangle(118.776, 32.036, 118.792, 32.048))
settings.setExtent(box)
settings.setOutputSize(QSize(512, 512))
settings.setBackgroundColor(QColor(255, 255, 255))
job = QgsMapRendererSequentialJob(settings)
job.start()
job.waitForFinished()
image = job.renderedImage()
drawn = sum(1 for x in range(0, 512, 4) for y in range(0, 512, 4) if image.pixelColor(x, y) != QColor(255, 255, 255))
print(layer.isValid(), drawn)
"""


def _ogrinfo(live: dict[str, Any], user: str, *args: str) -> str:
    env = {**os.environ, "GDAL_HTTP_HEADERS": f"Authorization: Bearer {live['tokens'][user]}"}
    done = subprocess.run(["ogrinfo", "-ro", *args], env=env, capture_output=True, text=True, timeout=120, check=True)
    return done.stdout


def _count(engine: Any, sql: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(sql)).scalar_one())


def test_ogrinfo_lists_the_collections(live: dict[str, Any]) -> None:
    out = _ogrinfo(live, "leader", f"OAPIF:{live['base']}/ogc")
    names = set(re.findall(r"^\d+: (\w+)", out, re.M))
    assert names == {"grids", "buildings", "compounds", "streets", "communities", "subdistricts", "requests"}


def test_ogrinfo_counts_every_grid_of_the_published_plan(live: dict[str, Any]) -> None:
    out = _ogrinfo(live, "leader", "-so", f"OAPIF:{live['base']}/ogc", "grids")
    assert f"Feature Count: {len(live['grids'])}" in out


def test_ogr2ogr_pages_through_all_buildings(live: dict[str, Any], tmp_path: Any) -> None:
    target = tmp_path / "buildings.geojson"
    env = {**os.environ, "GDAL_HTTP_HEADERS": f"Authorization: Bearer {live['tokens']['leader']}"}
    subprocess.run(
        ["ogr2ogr", "-f", "GeoJSON", str(target), f"OAPIF:{live['base']}/ogc", "buildings", "-oo", "PAGE_SIZE=500"],
        env=env,
        check=True,
        timeout=300,
        capture_output=True,
    )
    expected = _count(
        live["engine"],
        "SELECT count(*) FROM buildings b JOIN grid_assignments a ON a.building_id = b.id "
        "JOIN grid_plans p ON p.id = a.plan_id AND p.status = 'published' WHERE b.is_residential",
    )
    assert len(json.loads(target.read_text())["features"]) == expected


def test_ogrinfo_as_grid_worker_sees_only_own_grids(live: dict[str, Any]) -> None:
    out = _ogrinfo(live, "worker", f"OAPIF:{live['base']}/ogc", "grids")
    assert sorted(re.findall(r"^\s+code \(String\) = (\d+)", out, re.M)) == sorted(live["worker_grids"])


def test_owslib_reads_items_with_bbox_and_paging(live: dict[str, Any]) -> None:
    api = Features(f"{live['base']}/ogc", headers={"Authorization": f"Bearer {live['tokens']['leader']}"})
    assert "grids" in {c["id"] for c in api.collections()["collections"]}
    page = api.collection_items("grids", limit=5, bbox=[118.0, 31.0, 119.5, 33.0])
    assert (page["numberReturned"], page["numberMatched"]) == (5, len(live["grids"]))


def test_items_datetime_filters_requests(live: dict[str, Any]) -> None:
    headers = {"Authorization": f"Bearer {live['tokens']['leader']}"}
    window = "2026-06-25T00:00:00Z/2026-06-27T00:00:00Z"
    got = httpx.get(f"{live['base']}/ogc/collections/requests/items", params={"datetime": window}, headers=headers)
    expected = _count(
        live["engine"],
        "SELECT count(*) FROM requests WHERE geom IS NOT NULL "
        "AND created_at BETWEEN '2026-06-25T00:00:00Z' AND '2026-06-27T00:00:00Z'",
    )
    assert got.json()["numberMatched"] == expected


def test_requests_carry_no_reporter_data(live: dict[str, Any]) -> None:
    headers = {"Authorization": f"Bearer {live['tokens']['leader']}"}
    got = httpx.get(f"{live['base']}/ogc/collections/requests/items", params={"limit": 50}, headers=headers).json()
    keys = set().union(*(f["properties"] for f in got["features"]))
    assert not keys & {"reporter_name", "reporter_phone", "reporter_user_id", "description", "photos", "address"}


def test_property_filter_selects_one_grid(live: dict[str, Any]) -> None:
    headers = {"Authorization": f"Bearer {live['tokens']['leader']}"}
    code = live["grids"][7]
    got = httpx.get(f"{live['base']}/ogc/collections/grids/items", params={"code": code}, headers=headers).json()
    assert [f["properties"]["code"] for f in got["features"]] == [code]


def test_department_sees_no_grids(live: dict[str, Any]) -> None:
    headers = {"Authorization": f"Bearer {live['tokens']['dept']}"}
    got = httpx.get(f"{live['base']}/ogc/collections/grids/items", headers=headers).json()
    assert got["numberMatched"] == 0


def test_without_a_token_the_service_answers_401(live: dict[str, Any]) -> None:
    assert httpx.get(f"{live['base']}/ogc/collections/grids/items").status_code == 401


def test_a_bad_bbox_is_a_422(live: dict[str, Any]) -> None:
    headers = {"Authorization": f"Bearer {live['tokens']['leader']}"}
    got = httpx.get(f"{live['base']}/ogc/collections/grids/items", params={"bbox": "1,2,3"}, headers=headers)
    assert got.status_code == 422


def test_qgis_loads_the_grids_layer(live: dict[str, Any]) -> None:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run(
        ["/usr/bin/python3", "-c", QGIS_SCRIPT.replace("{layer}", OAPIF_LAYER), live["base"], "leader"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    last = (
        done.stdout.strip().splitlines()[-1] if done.stdout.strip() else f"exit {done.returncode} {done.stderr[-1500:]}"
    )
    valid, count, code = (last.split() + ["", "", ""])[:3]
    assert (valid, count, code in live["grids"]) == ("True", str(len(live["grids"])), True), last


def test_qgis_draws_the_plan_vector_tiles(live: dict[str, Any]) -> None:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run(
        ["/usr/bin/python3", "-c", QGIS_SCRIPT.replace("{layer}", TILE_LAYER), live["base"], "leader"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    last = (
        done.stdout.strip().splitlines()[-1] if done.stdout.strip() else f"exit {done.returncode} {done.stderr[-1500:]}"
    )
    valid, drawn = (last.split() + ["", ""])[:2]
    assert valid == "True" and drawn.isdigit() and int(drawn) > 500, last


def test_a_browser_gets_json_not_a_cdn_page(live: dict[str, Any]) -> None:
    headers = {"Authorization": f"Bearer {live['tokens']['leader']}", "Accept": "text/html,application/xhtml+xml"}
    got = httpx.get(f"{live['base']}/ogc/collections/grids/items", headers=headers)
    assert got.headers["content-type"].startswith("application/geo+json")


def test_a_browser_gets_the_landing_page_as_json(live: dict[str, Any]) -> None:
    headers = {"Authorization": f"Bearer {live['tokens']['leader']}", "Accept": "text/html"}
    got = httpx.get(f"{live['base']}/ogc/collections", headers=headers)
    assert got.headers["content-type"].startswith("application/json")
