"""The city coverage page (grids from vector tiles): hovering or tapping a grid shows it, names as text."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page
from sqlalchemy import text

from tests.browser.conftest import Visit

pytestmark = [pytest.mark.db, pytest.mark.browser]
HOSTILE = '<img src=x id=pwned onerror="document.title=1">香铺营社区'
COMMUNITY = "320102003000"  # the test plan's 社区 (tests/browser/conftest.py)
TIP = ".leaflet-tooltip.gm-grid-tip"
PLAN_DRAWN = (
    "() => { const l = window.gridmapPlanTiles; return !!l && l._noTilesToLoad() && Object.values(l._vectorTiles)"
    ".some(t => Object.keys(t._features || {}).length > 0); }"
)


@pytest.fixture
def city_page(browser: Browser, server: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Iterator[Visit]:
    """The coverage page of the test plan drawn as a city's (from the tiles), as a leader."""
    from gridmap.api.routes import maps

    monkeypatch.setattr(maps, "COVERAGE_TILES_ABOVE", 0)
    visit = Visit(browser, server["base"], "leader")
    visit.open("/maps/coverage")
    visit.page.wait_for_function(PLAN_DRAWN)
    yield visit
    visit.page.close()


@pytest.fixture
def hostile_community(server: dict[str, Any]) -> Iterator[str]:
    """The test plan's 社区 named with markup (names come from users and data files); put back after."""
    with server["engine"].begin() as conn:
        before = conn.execute(text("SELECT name FROM admin_units WHERE code = :c"), {"c": COMMUNITY}).scalar()
        conn.execute(
            text(
                "INSERT INTO admin_units (code, name, level) VALUES (:c, :n, 'community') "
                "ON CONFLICT (code) DO UPDATE SET name = excluded.name"
            ),
            {"c": COMMUNITY, "n": HOSTILE},
        )
    yield HOSTILE
    with server["engine"].begin() as conn:
        if before is None:
            conn.execute(text("DELETE FROM admin_units WHERE code = :c"), {"c": COMMUNITY})
        else:
            conn.execute(text("UPDATE admin_units SET name = :n WHERE code = :c"), {"c": COMMUNITY, "n": before})


def _grid(server: dict[str, Any], nth: int) -> dict[str, Any]:
    """The ``nth`` grid of the published plan by code: code, 户数 and a point inside it."""
    with server["engine"].connect() as conn:
        row = conn.execute(
            text(
                "SELECT g.code, g.households, ST_X(p) AS lon, ST_Y(p) AS lat FROM grids g "
                "JOIN grid_plans pl ON pl.id = g.plan_id AND pl.status = 'published', "
                "LATERAL ST_PointOnSurface(g.geom) p ORDER BY g.code OFFSET :n LIMIT 1"
            ),
            {"n": nth},
        ).one()
    return dict(row._mapping)


def _pixel(page: Page, lon: float, lat: float) -> tuple[float, float]:
    """Where the point is on the screen (the map sits below the navigation bar)."""
    x, y = page.evaluate(
        """([lon, lat]) => {
          const map = Object.values(window).find(v => v instanceof L.Map);
          const p = map.latLngToContainerPoint([lat, lon]), box = map.getContainer().getBoundingClientRect();
          return [box.left + p.x, box.top + p.y];
        }""",
        [lon, lat],
    )
    return float(x), float(y)


def test_hovering_a_grid_shows_its_name_and_households(city_page: Visit, server: dict[str, Any]) -> None:
    page, grid = city_page.page, _grid(server, 5)
    x, y = _pixel(page, grid["lon"], grid["lat"])
    page.mouse.move(x - 3, y)
    page.mouse.move(x, y)
    tip = page.locator(TIP)
    tip.wait_for(state="visible")
    shown = tip.inner_text()
    assert (
        grid["code"] in shown and f"户数: {grid['households']}" in shown and f"第{int(grid['code'][12:])}网格" in shown
    )
    city_page.shot("leader_coverage_city_tooltip")
    assert city_page.errors == []


def test_a_hostile_community_name_shows_as_text(
    hostile_community: str, city_page: Visit, server: dict[str, Any]
) -> None:
    page, grid = city_page.page, _grid(server, 9)
    x, y = _pixel(page, grid["lon"], grid["lat"])
    page.mouse.click(x, y)  # a phone's tap
    tip = page.locator(TIP)
    tip.wait_for(state="visible")
    assert hostile_community in tip.inner_text()
    assert page.locator("#pwned").count() == 0 and page.title() != "1"
    assert city_page.errors == []


def test_the_unassigned_buildings_come_after_the_map_and_are_counted(city_page: Visit, server: dict[str, Any]) -> None:
    with server["engine"].connect() as conn:
        expected = conn.execute(
            text(
                "SELECT count(*) FROM buildings b WHERE b.is_residential AND NOT EXISTS (SELECT 1 "
                "FROM grid_assignments a JOIN grid_plans p ON p.id = a.plan_id AND p.status = 'published' "
                "WHERE a.building_id = b.id)"
            )
        ).scalar_one()
    page = city_page.page
    page.wait_for_function("() => window.gridmapUnassigned !== undefined")
    assert page.evaluate("() => window.gridmapUnassigned") == expected
    assert page.locator("#gm-unassigned").count() == (1 if expected else 0)
