"""The 🔔 badge and the 通知 page in chromium, as a grid worker on a phone: a new task appears live, is read."""

from __future__ import annotations

from typing import Any

import httpx
from playwright.sync_api import Browser, expect
from sqlalchemy import text

from gridmap.db.session import session_scope
from gridmap.notify.scan import scan
from gridmap.settings import Settings
from tests.browser.conftest import NOW, Visit

PHONE = {"width": 390, "height": 844}


def _report_in(server: dict[str, Any], grid: str) -> tuple[int, str]:
    """A new report in ``grid`` by the leader (through the API): its id and category name."""
    with server["engine"].connect() as conn:
        lon, lat = conn.execute(
            text("SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) p FROM grids WHERE code = :c) g"),
            {"c": grid},
        ).one()
    with httpx.Client(base_url=server["base"]) as http:
        token = http.post("/api/auth/token", data={"username": "leader", "password": "secret"}).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        choices = (("facade_falling", "外墙脱落"), ("thrown_from_height", "高空抛物"), ("pets", "文明养宠"))
        for category, name in choices:
            body = {"category": category, "description": "外墙瓷砖松动", "lon": lon, "lat": lat}
            made = http.post("/api/requests", json=body, headers=headers).json()
            if made["status"] == "reported":  # not merged into an open duplicate
                return int(made["id"]), name
    raise AssertionError("every category had an open duplicate there")


def test_badge_counts_a_new_task_and_the_page_marks_it_read(browser: Browser, server: dict[str, Any]) -> None:
    with session_scope(server["engine"]) as session:  # what the server's first scan tells of the simulated days
        scan(session, now=NOW, settings=Settings())
    visit = Visit(browser, server["base"], "worker")
    page = visit.page
    page.set_viewport_size(PHONE)
    visit.open("/notifications")
    badge = page.locator("#gm-notify .gm-badge")
    page.get_by_role("button", name="全部标为已读").click()
    expect(badge).to_be_hidden()
    expect(page.locator("li.notify-item.unread")).to_have_count(0)
    page.wait_for_timeout(2000)  # the event stream opens once the page is quiet

    rid, category = _report_in(server, server["worker_grids"][0])
    expect(badge).to_have_text("1", timeout=15000)  # pushed: the scan finds the report, the stream tells the page
    item = page.locator("li.notify-item").first
    expect(item).to_have_class("notify-item unread")
    expect(item.locator(".notify-kind")).to_have_text("新任务")
    expect(item.locator("a.notify-req")).to_have_text(f"#{rid}")
    expect(item.locator("a.notify-req")).to_have_attribute("href", f"/requests/{rid}")
    expect(item.locator(".notify-cat")).to_have_text(category)
    expect(item.locator(".notify-meta")).to_contain_text("状态：待点单")
    visit.shot("notifications-phone")

    item.get_by_role("button", name="标为已读").click()
    expect(badge).to_be_hidden()
    expect(item).to_have_class("notify-item read-done")
    with server["engine"].connect() as conn:
        read_at = conn.execute(
            text(
                "SELECT n.read_at FROM notifications n JOIN notify_events e ON e.id = n.event_id "
                "JOIN users u ON u.id = n.user_id WHERE u.username = 'worker' AND e.request_id = :r"
            ),
            {"r": rid},
        ).scalar_one()
    assert read_at is not None
    page.reload()
    page.wait_for_load_state("networkidle")
    expect(page.locator("li.notify-item.unread")).to_have_count(0)
    expect(page.locator("li.notify-item").first.locator("a.notify-req")).to_have_text(f"#{rid}")
    assert visit.outside == [] and visit.errors == []
    page.close()
