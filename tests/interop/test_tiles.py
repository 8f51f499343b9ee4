"""Vector tiles from PostGIS, read back by GDAL's MVT driver (a client nobody here wrote)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text

XINJIEKOU = (118.784, 32.042)


def _tile(lon: float, lat: float, z: int) -> tuple[int, int]:
    import math

    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


def _get(live: dict[str, Any], path: str, user: str = "leader", **headers: str) -> httpx.Response:
    return httpx.get(live["base"] + path, headers={"Authorization": f"Bearer {live['tokens'][user]}", **headers})


def _layers(tmp_path: Path, z: int, x: int, y: int, body: bytes) -> dict[str, int]:
    target = tmp_path / str(z) / str(x) / f"{y}.pbf"
    target.parent.mkdir(parents=True)
    target.write_bytes(body)
    out = subprocess.run(["ogrinfo", "-ro", "-al", "-so", str(target)], capture_output=True, text=True, check=True)
    names = re.findall(r"^Layer name: (\w+)", out.stdout, re.M)
    counts = [int(c) for c in re.findall(r"^Feature Count: (\d+)", out.stdout, re.M)]
    return dict(zip(names, counts, strict=True))


def test_tilejson_gives_the_tile_template(live: dict[str, Any]) -> None:
    doc = _get(live, "/tiles/plan.json").json()
    assert doc["tiles"] == [f"{live['base']}/tiles/plan/{{z}}/{{x}}/{{y}}.pbf"]


def test_a_zoom_14_tile_has_buildings_and_grids(live: dict[str, Any], tmp_path: Path) -> None:
    x, y = _tile(*XINJIEKOU, 14)
    tile = _get(live, f"/tiles/plan/14/{x}/{y}.pbf")
    layers = _layers(tmp_path, 14, x, y, tile.content)
    assert layers.keys() >= {"grids", "buildings", "streets"} and layers["buildings"] > 100


def test_below_zoom_14_there_are_no_buildings(live: dict[str, Any], tmp_path: Path) -> None:
    x, y = _tile(*XINJIEKOU, 12)
    layers = _layers(tmp_path, 12, x, y, _get(live, f"/tiles/plan/12/{x}/{y}.pbf").content)
    assert "buildings" not in layers and layers["grids"] == len(live["grids"])


def test_a_grid_worker_tile_shows_only_own_grids(live: dict[str, Any], tmp_path: Path) -> None:
    x, y = _tile(*XINJIEKOU, 12)
    layers = _layers(tmp_path, 12, x, y, _get(live, f"/tiles/plan/12/{x}/{y}.pbf", "worker").content)
    assert layers["grids"] == len(live["worker_grids"])


def test_request_density_counts_requests(live: dict[str, Any], tmp_path: Path) -> None:
    x, y = _tile(*XINJIEKOU, 12)
    layers = _layers(tmp_path, 12, x, y, _get(live, f"/tiles/requests/12/{x}/{y}.pbf").content)
    assert layers["request_density"] > 0


def test_same_etag_is_answered_304(live: dict[str, Any]) -> None:
    x, y = _tile(*XINJIEKOU, 14)
    first = _get(live, f"/tiles/plan/14/{x}/{y}.pbf")
    again = _get(live, f"/tiles/plan/14/{x}/{y}.pbf", **{"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304


def test_a_tile_outside_the_zoom_is_a_422(live: dict[str, Any]) -> None:
    assert _get(live, "/tiles/plan/3/9/0.pbf").status_code == 422


def test_a_publish_changes_the_etag(live: dict[str, Any]) -> None:
    x, y = _tile(*XINJIEKOU, 14)
    before = _get(live, f"/tiles/plan/14/{x}/{y}.pbf").headers["ETag"]
    engine = live["engine"]
    with engine.begin() as conn:  # a new version of the plan, published as a planner would
        conn.execute(text("UPDATE grid_plans SET version = version + 1 WHERE status = 'published'"))
    after = _get(live, f"/tiles/plan/14/{x}/{y}.pbf").headers["ETag"]
    with engine.begin() as conn:
        conn.execute(text("UPDATE grid_plans SET version = version - 1 WHERE status = 'published'"))
    assert before != after


def test_a_new_plan_version_is_drawn_from_its_own_shapes(live: dict[str, Any], tmp_path: Path) -> None:
    x, y = _tile(*XINJIEKOU, 12)
    _get(live, f"/tiles/plan/12/{x}/{y}.pbf")  # the shapes of this version are made
    engine = live["engine"]
    code = live["grids"][0]
    with engine.begin() as conn:  # a new version whose grid has other households
        old = conn.execute(text("SELECT households FROM grids WHERE code = :c"), {"c": code}).scalar_one()
        conn.execute(text("UPDATE grids SET households = 4321 WHERE code = :c"), {"c": code})
        conn.execute(text("UPDATE grid_plans SET version = version + 1 WHERE status = 'published'"))
    body = _get(live, f"/tiles/plan/12/{x}/{y}.pbf").content
    with engine.begin() as conn:
        conn.execute(text("UPDATE grids SET households = :h WHERE code = :c"), {"h": old, "c": code})
        conn.execute(text("UPDATE grid_plans SET version = version - 1 WHERE status = 'published'"))
    target = tmp_path / "12" / str(x) / f"{y}.pbf"
    target.parent.mkdir(parents=True)
    target.write_bytes(body)
    out = subprocess.run(["ogrinfo", "-ro", "-al", str(target), "grids"], capture_output=True, text=True, check=True)
    assert "households (Integer) = 4321" in out.stdout
