"""A patrol on a phone in chromium: geolocation walks a real street of 新街口, offline, then synced once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page
from sqlalchemy import select, text

from gridmap.db.models import User
from gridmap.db.session import session_scope
from gridmap.fieldwork.patrols import upload
from gridmap.fieldwork.schemas import PatrolUpload
from gridmap.settings import FieldworkSettings
from tests.browser.conftest import FEATURES_JS, NOW, Visit
from tests.walks import street_walk, timed

pytestmark = [pytest.mark.db, pytest.mark.browser]
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def phone(browser: Browser, server: dict[str, Any]) -> Iterator[tuple[BrowserContext, Page]]:
    """The grid worker signed in on a phone that may be located."""
    context = browser.new_context(
        viewport=PHONE, is_mobile=True, has_touch=True, permissions=["geolocation"], locale="zh-CN"
    )
    page = context.new_page()
    page.goto(f"{server['base']}/login")
    page.fill("input[name=username]", "worker")
    page.fill("input[name=password]", "secret")
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
    yield context, page
    context.close()


def _recorded(page: Page) -> int:
    return int(page.evaluate("async () => (await gridmapPatrol.pending()).recorded"))


def test_a_patrol_recorded_offline_is_synced_once_with_its_coverage(
    phone: tuple[BrowserContext, Page], server: dict[str, Any]
) -> None:
    context, page = phone
    with session_scope(server["engine"]) as session:
        name, metres, walk = street_walk(session, server["worker_grids"][0], step_m=12.0)
    context.set_geolocation({"latitude": walk[0][1], "longitude": walk[0][0], "accuracy": 8})
    page.goto(f"{server['base']}/")
    page.wait_for_selector("#patrol-start:visible")
    page.wait_for_function("() => navigator.serviceWorker.controller !== null")
    context.set_offline(True)
    page.reload()  # the workbench itself comes from the service worker
    page.wait_for_selector("#patrol-start:visible")
    page.click("#patrol-start")
    page.wait_for_function("() => document.getElementById('patrol-state').dataset.state === 'on'")
    for i, (lon, lat) in enumerate(walk[1:], start=2):
        context.set_geolocation({"latitude": lat, "longitude": lon, "accuracy": 8})
        page.wait_for_function(f"async () => (await gridmapPatrol.pending()).recorded >= {i}")
    page.click("#patrol-end")
    waiting = int(page.get_attribute("#patrol-pending", "data-points") or 0)
    with server["engine"].connect() as conn:
        before = conn.execute(text("SELECT count(*) FROM patrols")).scalar()
    context.set_offline(False)
    page.wait_for_function("() => document.getElementById('patrol-last').dataset.id")
    page.evaluate("() => gridmapPatrol.sync()")  # a second sync sends nothing more
    pid = int(page.get_attribute("#patrol-last", "data-id") or 0)
    with server["engine"].connect() as conn:
        stored = conn.execute(text("SELECT count(*) FROM patrol_points WHERE patrol_id = :p"), {"p": pid}).scalar()
        share = conn.execute(text("SELECT street_share FROM patrols WHERE id = :p"), {"p": pid}).scalar()
    print(f"walked {name} ({metres:.0f} m, {len(walk)} positions): street share {share:.3f}")  # noqa: T201
    shown = page.inner_text("#patrol-last")
    assert (before, waiting, stored, share > 0, f"道路覆盖 {round(share * 100)}%" in shown) == (
        0,
        len(walk),
        len(walk),
        True,
        True,
    )


def _stored_patrol(server: dict[str, Any], grid: str, key: str, hours_ago: int) -> int:
    """A one-hour patrol of the worker along the longest street of ``grid``, stored through the service."""
    start = NOW - timedelta(hours=hours_ago)
    with session_scope(server["engine"]) as session:
        _, _, walk = street_walk(session, grid, step_m=12.0)
        worker = session.scalars(select(User).where(User.username == "worker")).one()
        body = PatrolUpload.model_validate(
            {"started_at": start, "ended_at": start + timedelta(hours=1), "points": timed(walk, start, 60.0)}
        )
        return upload(session, key, body, user=worker, now=NOW, settings=FieldworkSettings()).id


def test_the_dashboard_shows_patrol_days_and_minutes_per_grid(browser: Browser, server: dict[str, Any]) -> None:
    grid = server["worker_grids"][0]
    _stored_patrol(server, grid, "browser-kpi-patrol", hours_ago=30)
    visit = Visit(browser, server["base"], "leader")
    page = visit.open("/dashboard")
    page.wait_for_selector(f"#five-table tr[data-unit='{grid}']")
    cells = page.locator(f"#five-table tr[data-unit='{grid}'] td").all_inner_texts()
    assert (int(cells[1]) >= 1, float(cells[2]) >= 60) == (True, True)


def test_the_leader_sees_the_streets_a_patrol_passed(browser: Browser, server: dict[str, Any]) -> None:
    grid = server["worker_grids"][1]
    pid = _stored_patrol(server, grid, "browser-map-patrol", hours_ago=3)
    visit = Visit(browser, server["base"], "leader")
    page = visit.open(f"/maps/patrols?day={NOW:%Y-%m-%d}&track={pid}")
    visit.shot("patrol-map")
    passed = [p for p in page.evaluate(FEATURES_JS) if p.get("grid_code") == grid and p.get("days_passed", 0) >= 1]
    assert passed and not visit.errors
