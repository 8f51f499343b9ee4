"""网格人员 in chromium: the 社区 registers a 党员 (双报到) and places them by clicks; a 网格员 sees phones masked."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Browser
from sqlalchemy import text

from gridmap.auth.service import create_user
from gridmap.db.models import Role
from gridmap.db.session import session_scope
from tests.browser.conftest import Visit

pytestmark = [pytest.mark.db, pytest.mark.browser]
PHONE = "13955556666"


@pytest.fixture(scope="module")
def home(server: dict[str, Any]) -> dict[str, Any]:
    """A building its street and number name alone, its grid, a 社区 user and that grid's worker."""
    with session_scope(server["engine"]) as session:
        building, grid, street, number = session.execute(
            text(
                "SELECT b.id, g.code, b.addr_street, b.addr_housenumber FROM buildings b "
                "JOIN grid_assignments a ON a.building_id = b.id JOIN grids g ON g.id = a.grid_id "
                "JOIN grid_plans p ON p.id = g.plan_id AND p.status = 'published' "
                "WHERE b.addr_street IS NOT NULL AND b.addr_housenumber ~ '^[0-9]+$' AND (SELECT count(*) FROM "
                "buildings o WHERE o.addr_street = b.addr_street AND o.addr_housenumber = b.addr_housenumber) = 1 "
                "ORDER BY b.id LIMIT 1"
            )
        ).one()
        create_user(session=session, username="people_community", password="secret", role=Role.community,
                    unit_code="320102003000", weak_password=True)
        create_user(session=session, username="people_worker", password="secret", role=Role.grid_worker,
                    grids=[grid], weak_password=True)
    return {"building": building, "grid": grid, "address": f"南京市玄武区{street}{number}号"}


def test_the_community_registers_and_places_a_party_member_by_clicks(
    browser: Browser, server: dict[str, Any], home: dict[str, Any]
) -> None:
    visit = Visit(browser, server["base"], "people_community")
    page = visit.open("/people")
    page.fill("#register-form input[name=name]", "周党员")
    page.fill("#register-form input[name=phone]", PHONE)
    page.fill("#register-form input[name=address]", home["address"])
    page.check("#register-form input[value=weekend]")
    page.click("#register-form button[type=submit]")
    page.wait_for_function("() => document.querySelector('#register-result').textContent.includes('已登记')")
    row = page.locator("#placement-table tbody tr", has_text="周党员")
    assert row.locator("select").input_value() == home["grid"]
    page.click("#place-all")
    page.wait_for_function("() => document.querySelector('#place-result').textContent.includes('已安置')")
    section = page.locator(f".grid-people[data-grid='{home['grid']}']")
    section.locator("li", has_text="周党员").wait_for()
    assert section.locator("li", has_text="周党员").inner_text().count("139****6666") == 1 and visit.errors == []


def test_a_grid_worker_sees_the_phone_masked_and_cannot_reveal(
    browser: Browser, server: dict[str, Any], home: dict[str, Any]
) -> None:
    visit = Visit(browser, server["base"], "people_community")
    visit.page.evaluate(
        """async ([address, phone]) => {
          const r = await fetch('/api/people/register', {method: 'POST', headers: {'Content-Type': 'application/json'},
            body: JSON.stringify({name: '吴党员', phone, address})});
          const made = await r.json();
          await fetch('/api/people/placement', {method: 'POST', headers: {'Content-Type': 'application/json'},
            body: JSON.stringify({placements: [{person_id: made.person.id, grid_code: made.home_grid_code}]})});
        }""",
        [home["address"], PHONE],
    )
    worker = Visit(browser, server["base"], "people_worker")
    page = worker.open("/people")
    item = page.locator(f".grid-people[data-grid='{home['grid']}'] li", has_text="吴党员")
    item.wait_for()
    assert (PHONE in page.content(), "139****6666" in item.inner_text(), item.locator("button").count()) == (
        False, True, 0,
    )


def test_the_community_records_a_building_head_by_clicks(
    browser: Browser, server: dict[str, Any], home: dict[str, Any]
) -> None:
    visit = Visit(browser, server["base"], "people_community")
    page = visit.open("/people")
    page.fill("#staff-form input[name=name]", "郑楼长")
    page.fill("#staff-form input[name=phone]", "13722223333")
    page.select_option("#staff-grid", home["grid"])
    page.select_option("#staff-form select[name=role]", "building_head")
    page.wait_for_function("() => document.querySelector('#staff-form select[name=building_id]').options.length > 0")
    page.select_option("#staff-form select[name=building_id]", str(home["building"]))
    assert page.locator("#staff-street").is_visible() is False  # only the building is asked of a 楼长
    page.click("#staff-form button[type=submit]")
    page.wait_for_function("() => document.querySelector('#staff-result').textContent.includes('已保存')")
    item = page.locator(f".grid-people[data-grid='{home['grid']}'] li", has_text="郑楼长")
    item.wait_for()
    visit.shot("people_community")
    assert ("楼长" in item.inner_text(), "137****3333" in item.inner_text(), visit.errors) == (True, True, [])


def test_the_cards_qr_link_opens_the_public_report_on_its_grid(browser: Browser, server: dict[str, Any]) -> None:
    code = server["worker_grids"][0]
    page = browser.new_page(viewport={"width": 412, "height": 860})
    page.goto(f"{server['base']}/public/report?grid={code}")
    page.wait_for_function("() => gridsLayer !== null && gridsLayer.getLayers().length > 0")
    inside = page.evaluate(
        """code => {
          const grid = gridsLayer.getLayers().find(l => l.feature.properties.grid_code === code);
          return [...mine].join() === code && grid.getBounds().contains(map.getCenter());
        }""",
        code,
    )
    page.close()
    assert inside is True
