"""Each page as its role in Debian's chromium: layers rendered, nothing from other hosts, the planner loop."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import shapely
from playwright.sync_api import Browser
from shapely.geometry import shape
from sqlalchemy import text

from tests.browser.conftest import FEATURES_JS, Visit
from tests.edit_rules import edge_move, edit_graph

pytestmark = [pytest.mark.db, pytest.mark.browser]


@pytest.mark.parametrize(
    ("path", "needle"),
    [("/maps/coverage", "grid_code"), ("/maps/hotspots", "requests"), ("/maps/lanes", "per_100m")],
)
def test_leader_maps_render_offline(browser: Browser, server: dict[str, Any], path: str, needle: str) -> None:
    visit = Visit(browser, server["base"], "leader")
    page = visit.open(path)
    features = page.evaluate(FEATURES_JS)
    assert any(needle in f for f in features), f"no {needle} features on {path}"
    assert page.locator(".leaflet-control-attribution").inner_text().count("OpenStreetMap contributors") == 1
    visit.shot("leader" + path.replace("/", "_"))
    assert visit.outside == [] and visit.errors == []


def test_hotspot_table_and_filters(browser: Browser, server: dict[str, Any]) -> None:
    visit = Visit(browser, server["base"], "leader")
    page = visit.open("/maps/hotspots?category=blocked_lane&days=14&top=5")
    rows = page.locator("#side-panel tbody tr")
    assert 1 <= rows.count() <= 5
    assert page.locator("#side-panel").inner_text().count("显著热点") == 1


def test_dashboard_shows_kpis_and_charts(browser: Browser, server: dict[str, Any]) -> None:
    visit = Visit(browser, server["base"], "leader")
    page = visit.open("/dashboard")
    page.wait_for_selector(".kpi-tile")
    assert page.locator(".kpi-tile").count() == 5
    assert page.locator("#kpi tbody tr").count() >= 1
    assert page.locator("#kpi tbody tr td").first.inner_text().endswith("社区")  # 社区 by name, not by code
    assert page.evaluate("() => Object.keys(Chart.instances).length") == 2
    visit.shot("leader_dashboard")
    assert visit.outside == [] and visit.errors == []


def test_grid_worker_sees_only_own_grids(browser: Browser, server: dict[str, Any]) -> None:
    visit = Visit(browser, server["base"], "worker")
    page = visit.open("/maps/my-grid")
    codes = {f["grid_code"] for f in page.evaluate(FEATURES_JS) if "grid_code" in f}
    assert codes == set(server["worker_grids"])
    page.set_viewport_size({"width": 390, "height": 844})  # a phone
    visit.shot("worker_my_grid_phone")
    assert page.goto(server["base"] + "/maps/coverage").status == 403  # type: ignore[union-attr]
    assert visit.outside == [] and visit.errors == []


def _edit_candidate(server: dict[str, Any]) -> tuple[int, str, tuple[float, float]]:
    """A building on the edge of its grid that the rules let move to a neighbouring grid (``edge_move``), and a
    point of that grid off any building (to click)."""
    from gridmap.settings import PartitionSettings

    with server["engine"].connect() as conn:
        published = conn.execute(text("SELECT id FROM grid_plans WHERE status = 'published'")).scalar_one()
    building, _, target = edge_move(edit_graph(server["engine"], int(published), PartitionSettings()))
    with server["engine"].connect() as conn:
        outline = conn.execute(
            text("SELECT ST_AsGeoJSON(geom) FROM grids WHERE plan_id = :p AND code = :c"), {"p": published, "c": target}
        ).scalar_one()
        homes = [
            shape(__import__("json").loads(r[0]))
            for r in conn.execute(text("SELECT ST_AsGeoJSON(geom) FROM buildings"))
        ]
    grid = shape(__import__("json").loads(outline))
    inner = grid.buffer(-0.0002) if not grid.buffer(-0.0002).is_empty else grid
    tree = shapely.STRtree(homes)
    rng = np.random.default_rng(0)
    x0, y0, x1, y1 = inner.bounds
    for _ in range(2000):
        point = shapely.Point(rng.uniform(x0, x1), rng.uniform(y0, y1))
        if inner.contains(point) and not len(tree.query(point.buffer(0.00005), predicate="intersects")):
            return building, target, (point.x, point.y)
    raise AssertionError("no free point in the target grid")


def test_planner_moves_a_building_and_publishes(browser: Browser, server: dict[str, Any]) -> None:
    building, target, (lon, lat) = _edit_candidate(server)
    visit = Visit(browser, server["base"], "planner")
    page = visit.open("/planner")
    page.on("dialog", lambda d: d.accept())
    page.click("#new-draft")
    page.wait_for_function("() => document.querySelector('#message').textContent.includes('已新建草稿')")
    page.wait_for_function("() => buildingsLayer && buildingsLayer.getLayers().length > 0")
    find = (
        "() => { let c; buildingsLayer.eachLayer(l => { if (l.feature.properties.building_id === BID) "
        "c = l.getCenter(); }); return c; }"
    ).replace("BID", str(building))
    page.evaluate(f"() => map.fitBounds(L.latLngBounds([({find})(), [{lat}, {lon}]]).pad(0.3), {{maxZoom: 18}})")
    page.wait_for_timeout(500)
    box = page.locator("#map").bounding_box()
    assert box is not None

    def pixel(latlng_js: str) -> tuple[float, float]:
        point = page.evaluate(f"() => {{ const p = map.latLngToContainerPoint({latlng_js}); return [p.x, p.y]; }}")
        return box["x"] + point[0], box["y"] + point[1]

    bx, by = pixel(f"({find})()")
    page.mouse.click(bx, by)
    assert "已选 1 栋" in page.locator("#selection").inner_text()
    tx, ty = pixel(f"[{lat}, {lon}]")
    page.mouse.click(tx, ty)
    page.wait_for_function("() => document.querySelector('#message').textContent.includes('已移动')")
    message = page.locator("#message")
    visit.shot("planner_after_move")
    assert f"到 {target}" in message.inner_text() and message.get_attribute("class") == "ok"
    draft_id = page.evaluate("() => plan.id")
    with server["engine"].connect() as conn:
        moved_to = conn.execute(
            text(
                "SELECT g.code FROM grid_assignments a JOIN grids g ON g.id = a.grid_id "
                "WHERE a.plan_id = :p AND a.building_id = :b"
            ),
            {"p": draft_id, "b": building},
        ).scalar_one()
    assert moved_to == target
    page.click(f"#plans li[data-plan-id='{draft_id}'] button.open")  # the drafts list tells what it changes
    listed = f"#plans li[data-plan-id='{draft_id}']"
    page.wait_for_function(f"() => document.querySelector(\"{listed}\")?.textContent.includes('变动 1 栋 / 1 格')")
    assert "草稿" in page.locator("#plan-line").inner_text()
    diff = Visit(page.context.browser, server["base"], "planner")  # type: ignore[arg-type]
    changed = [f for f in diff.open(f"/maps/plan-diff?plan_id={draft_id}").evaluate(FEATURES_JS) if "draft_code" in f]
    assert all(f["draft_code"] != f["published_code"] for f in changed)
    assert any(f["draft_code"] == target for f in changed)
    table = diff.page.locator("#side-panel").inner_text()
    assert "移动楼栋 buildings moved\t1" in table and target in table  # the table beside the map
    diff.shot("planner_plan_diff")
    page.click("#publish")
    page.wait_for_function("() => document.querySelector('#message').textContent.includes('已发布')")
    assert "现行方案" in page.locator("#plan-line").inner_text()  # the page now shows the published version
    with server["engine"].connect() as conn:
        published = conn.execute(text("SELECT count(*) FROM grid_plans WHERE status = 'published'")).scalar_one()
        versions = conn.execute(text("SELECT max(version) FROM grid_plans WHERE status = 'published'")).scalar_one()
    assert published == 1 and versions >= 2
    assert visit.outside == [] and visit.errors == []


def test_coverage_draws_buildings_from_vector_tiles(browser: Browser, server: dict[str, Any]) -> None:
    visit = Visit(browser, server["base"], "leader")
    page = visit.open("/maps/coverage")
    page.wait_for_function(
        "() => { const l = window.gridmapBuildingTiles; return !!l && Object.values(l._vectorTiles)"
        ".some(t => t._features && Object.keys(t._features).length > 100); }"
    )
    visit.shot("leader_coverage_vector_tiles")
    assert visit.outside == [] and visit.errors == []


def test_a_city_coverage_draws_its_grids_from_vector_tiles(
    browser: Browser, server: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from gridmap.api.routes import maps

    monkeypatch.setattr(maps, "COVERAGE_TILES_ABOVE", 0)  # this plan as if it were a city's
    visit = Visit(browser, server["base"], "leader")
    page = visit.open("/maps/coverage")
    page.wait_for_function(
        "() => { const l = window.gridmapPlanTiles; return !!l && Object.values(l._vectorTiles)"
        ".some(t => Object.values(t._features || {}).some(f => f.feature.properties.n_buildings)); }"
    )
    assert page.evaluate("() => document.querySelectorAll('.grid-label').length") == 0  # no grid embedded
    visit.shot("leader_coverage_city_tiles")
    assert visit.errors == []
