"""Hostile text in every field a user or a data file sets is shown as text on every page, and never runs."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser
from sqlalchemy import text

from gridmap.auth.service import create_user
from gridmap.db.models import Role
from gridmap.db.session import session_scope
from tests.browser.conftest import Visit

pytestmark = [pytest.mark.db, pytest.mark.browser]
PAYLOAD = "<img src=x onerror=window.__pwned=1></script><script>window.__pwned=1</script>"
# (table, column, which rows) that users or imported files set and pages show.
FIELDS = [
    ("buildings", "name", "id IN (SELECT building_id FROM grid_assignments)"),
    ("people", "name", "true"),  # 楼长 records, planted by the fixture
    ("compounds", "name", "true"),
    ("streets", "name", "true"),
    ("users", "full_name", "role = 'grid_worker'"),
    ("requests", "description", "true"),
    ("requests", "reporter_name", "true"),
    ("request_categories", "name_zh", "true"),
    ("grid_plans", "name", "true"),
]
PAGES = {
    "admin": ["/", "/maps/coverage", "/maps/hotspots", "/maps/lanes", "/dashboard", "/planner", "/people"],
    "worker": ["/", "/maps/my-grid", "/people"],
}
# Open every tooltip and popup of every map (folium builds their HTML from feature properties when they open)
# and count elements that only an unescaped payload could have made.
PROBE = """() => {
  const injected = () => document.querySelectorAll('img[src="x"]').length;
  let opened = 0, found = injected();
  const maps = Object.values(window).filter(v => v instanceof L.Map);
  if (typeof map !== "undefined" && map instanceof L.Map) maps.push(map);  // a page's own top-level const map
  for (const m of maps) {
    m.eachLayer(l => {
      if (l.getLayers) return;  // groups open their tooltip for the feature under the pointer
      let at;
      try { at = l.getBounds ? l.getBounds().getCenter() : l.getLatLng(); } catch (e) { return; }
      const where = {latlng: at, layerPoint: m.latLngToLayerPoint(at), containerPoint: m.latLngToContainerPoint(at)};
      l.fire("mouseover", where, true);
      if (document.querySelector(".leaflet-tooltip")) opened++;
      found += injected();
      if (l.getPopup && l.getPopup()) { l.openPopup(at); opened++; found += injected(); }
      l.fire("mouseout", {latlng: at}, true);
    });
  }
  return {opened, found, pwned: window.__pwned === 1};
}"""
WATCH = "window.__violations = []; document.addEventListener('securitypolicyviolation', e => " \
    "window.__violations.push(e.violatedDirective + ' ' + e.blockedURI + ' ' + (e.sample || '')));"


@pytest.fixture(scope="module")
def hostile(server: dict[str, Any]) -> Iterator[None]:
    """Plant the payload in every field; put the old values back afterwards."""
    engine = server["engine"]
    with session_scope(engine) as session:
        if not session.scalar(text("SELECT count(*) FROM users WHERE username = 'admin'")):
            create_user(session=session, username="admin", password="secret", role=Role.admin, weak_password=True)
    saved = []
    with engine.begin() as conn:
        heads = conn.execute(  # a 楼长 record for every building of a grid (they are records since migration 0012)
            text(
                "WITH b AS (SELECT DISTINCT a.building_id, g.code FROM grid_assignments a "
                "JOIN grids g ON g.id = a.grid_id JOIN grid_plans p ON p.id = g.plan_id AND p.status = 'published' "
                "WHERE NOT EXISTS (SELECT 1 FROM grid_posts r "
                "WHERE r.role = 'building_head' AND r.building_id = a.building_id)), "
                "made AS (INSERT INTO people (name, created_by) SELECT 'head ' || building_id, 'xss-test' FROM b "
                "RETURNING id, name) "
                "INSERT INTO grid_posts (person_id, role, grid_code, building_id) "
                "SELECT made.id, 'building_head', b.code, b.building_id "
                "FROM made JOIN b ON made.name = 'head ' || b.building_id RETURNING person_id"
            )
        ).all()
        for table, column, where in FIELDS:
            key = "code" if table == "request_categories" else "id"
            rows = conn.execute(text(f"SELECT {key}, {column} FROM {table} WHERE {where}")).all()
            saved.append((table, column, key, rows))
            conn.execute(text(f"UPDATE {table} SET {column} = :p WHERE {where}"), {"p": PAYLOAD})
    from gridmap.requests import categories

    categories._CACHE.clear()
    yield
    with engine.begin() as conn:
        for table, column, key, rows in saved:
            for k, v in rows:
                conn.execute(text(f"UPDATE {table} SET {column} = :v WHERE {key} = :k"), {"v": v, "k": k})
        conn.execute(text("DELETE FROM people WHERE id = ANY(:ids)"), {"ids": [h[0] for h in heads]})
    categories._CACHE.clear()


@pytest.mark.parametrize(("user", "path"), [(u, p) for u, paths in PAGES.items() for p in paths])
def test_hostile_text_never_runs(browser: Browser, server: dict[str, Any], hostile: None, user: str, path: str) -> None:
    visit = Visit(browser, server["base"], user)
    dialogs: list[str] = []
    visit.page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    visit.page.add_init_script(WATCH)
    page = visit.open(path)
    if path == "/planner":
        page.wait_for_function("() => buildingsLayer && buildingsLayer.getLayers().length > 0")
    page.wait_for_timeout(300)
    shown = page.evaluate(PROBE) if page.evaluate("() => typeof L !== 'undefined'") else {"found": 0, "pwned": False}
    page.wait_for_timeout(300)  # an <img onerror> fires after its failed load
    assert shown["found"] == 0, f"{path}: the payload became HTML elements"
    assert "/maps/" not in path and path != "/planner" or shown["opened"] > 0, f"{path}: no tooltip was opened"
    assert page.evaluate("() => window.__pwned") is None and not shown["pwned"], f"{path}: the payload ran"
    assert dialogs == []
    assert page.evaluate("() => window.__violations") == [], f"{path}: the page itself broke its CSP"
    assert visit.errors == []


def test_pages_carry_a_content_security_policy(browser: Browser, server: dict[str, Any]) -> None:
    visit = Visit(browser, server["base"], "leader")
    response = visit.page.goto(server["base"] + "/maps/coverage")
    assert response is not None
    csp = response.headers["content-security-policy"]
    assert "script-src 'self' 'sha256-" in csp and "'unsafe-inline'" not in csp.split("script-src")[1].split(";")[0]
    assert "frame-ancestors 'self'" in csp and response.headers["x-frame-options"] == "SAMEORIGIN"


def test_the_worker_sees_the_hostile_head_name_as_text(browser: Browser, server: dict[str, Any], hostile: None) -> None:
    visit = Visit(browser, server["base"], "worker")
    page = visit.open("/maps/my-grid")
    page.evaluate(PROBE)
    assert PAYLOAD in page.locator(".leaflet-tooltip, .leaflet-popup-content").all_inner_texts()[-1] or any(
        PAYLOAD in t for t in page.locator(".leaflet-tooltip").all_inner_texts()
    )


def test_a_hostile_landmark_name_is_suggested_as_text(browser: Browser, server: dict[str, Any]) -> None:
    engine = server["engine"]
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO landmarks (source_id, osm_id, name, kind, source, geom) SELECT 'osm:n-xss', -1, :name, "
                "'shop', 'hostile.osm', ST_PointOnSurface(geom) FROM compounds WHERE name IS NOT NULL LIMIT 1"
            ),
            {"name": PAYLOAD + "超市"},
        )
    try:
        visit = Visit(browser, server["base"], "worker")
        visit.page.add_init_script(WATCH)
        page = visit.open("/report")
        page.locator("#address").fill("onerror")
        page.wait_for_selector("#suggestions li")
        offered = page.locator("#suggestions li").all_inner_texts()  # other tests plant the payload in 小区 names too
        assert "地标" + PAYLOAD + "超市" in offered
        page.wait_for_timeout(300)  # an <img onerror> fires after its failed load
        assert page.evaluate("() => document.querySelectorAll('img[src=\"x\"]').length") == 0
        assert page.evaluate("() => window.__pwned") is None and visit.errors == []
    finally:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM landmarks WHERE source_id = 'osm:n-xss'"))
