"""Every role's workbench in chromium: no link or frame that answers an error, the 待办 as a user works it."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections import deque
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Response
from sqlalchemy import text

from gridmap.auth.service import create_user
from gridmap.db.models import Role
from gridmap.db.session import session_scope
from gridmap.requests.categories import DEFAULTS
from gridmap.requests.schemas import NewRequest
from gridmap.requests.service import Actor, submit
from gridmap.settings import RequestSettings
from tests.browser.conftest import NOW, Visit

pytestmark = [pytest.mark.db, pytest.mark.browser]
PHONE = {"width": 390, "height": 844}
ROLES = {  # user: role, unit, department (leader, planner and worker come from the server fixture)
    "wb_admin": (Role.admin, None, None),
    "wb_community": (Role.community, "320102003000", None),
    "wb_command": (Role.command, "320102003", None),
    "wb_chengguan": (Role.department, None, "城管执法中队"),
}
CRAWL = ["wb_admin", "planner", "leader", "worker", "wb_community", "wb_command", "wb_chengguan"]
BAD = {401, 403, 404, 500}
WORKER = Actor(None, "worker", "grid_worker")
LINKS_JS = """() => [
  ...[...document.querySelectorAll('a[href]')].map(a => a.href),
  ...[...document.querySelectorAll('iframe[src]')].map(f => f.src),
]"""


@pytest.fixture(scope="module")
def staff(server: dict[str, Any]) -> dict[str, Any]:
    """The other roles, and fresh reports in the worker's grids minutes apart (some in time, some late)."""
    with session_scope(server["engine"]) as session:
        for name, (role, unit, dept) in ROLES.items():
            create_user(
                session=session,
                username=name,
                password="secret",
                role=role,
                unit_code=unit,
                department=dept,
                weak_password=True,
            )
        spots = session.execute(
            text(
                "SELECT ST_X(p), ST_Y(p) FROM (SELECT g.code, ST_PointOnSurface(g.geom) p FROM grids g "
                "JOIN grid_plans gp ON gp.id = g.plan_id AND gp.status = 'published') x WHERE code = ANY(:g)"
            ),
            {"g": server["worker_grids"]},
        ).all()
        for i, (code, *_) in enumerate(DEFAULTS):
            for j, (lon, lat) in enumerate(spots):
                data = NewRequest(category=code, description=f"楼下第{i}{j}处问题", lon=lon, lat=lat)
                when = NOW - timedelta(minutes=7 * (2 * i + j))
                submit(session, data, actor=WORKER, channel="staff", now=when, settings=RequestSettings())
    return server


def _has_request_page(server: dict[str, Any]) -> bool:
    """Whether /requests/{id} is served (built in another branch; until merged its links are left out)."""
    try:
        urllib.request.urlopen(server["base"] + "/requests/1")  # noqa: S310 - our own test server
    except urllib.error.HTTPError as exc:  # signed out, an existing page sends to /login instead
        return exc.code != 404
    return True


@pytest.mark.parametrize("user", CRAWL)
def test_no_link_or_frame_answers_an_error(browser: Browser, staff: dict[str, Any], user: str) -> None:
    """Crawl every same-origin link and frame from the workbench (two pages deep) as each role."""
    base = staff["base"]
    visit = Visit(browser, base, user)
    if user == "worker":
        visit.page.set_viewport_size(PHONE)
    failures: list[tuple[str, int, str]] = []

    def watch(response: Response) -> None:  # what the pages fetch themselves (API calls, scripts, frames)
        path = urlsplit(response.url).path
        if response.url.startswith(base) and response.status in BAD and path != "/favicon.ico":
            failures.append((response.url, response.status, "fetched by " + visit.page.url))

    visit.page.on("response", watch)
    request_pages = _has_request_page(staff)
    seen, queue, checked = {base + "/"}, deque([(base + "/", 0)]), 0
    while queue:
        url, depth = queue.popleft()
        response = visit.page.goto(url)
        assert response is not None and response.status == 200, (url, response and response.status)
        checked += 1
        visit.page.wait_for_load_state("networkidle")
        if url == base + "/":
            visit.shot(f"workbench_{user}" + ("_phone" if user == "worker" else ""))
        for found in visit.page.evaluate(LINKS_JS):
            target = found.split("#", 1)[0]
            if not target.startswith(base) or target in seen or urlsplit(target).path == "/logout":
                continue
            seen.add(target)
            path = urlsplit(target).path
            if path.startswith("/requests/") and not request_pages:
                continue
            status = visit.page.request.get(target).status
            checked += 1
            if status in BAD:
                failures.append((target, status, "linked from " + url))
            elif depth < 1 and not path.startswith(("/api/", "/static/", "/requests/")):
                queue.append((target, depth + 1))
    assert failures == [] and checked > 0
    assert visit.outside == [] and visit.errors == []


def _todo_count(server: dict[str, Any]) -> int:
    with server["engine"].connect() as conn:
        return int(
            conn.execute(
                text(
                    "SELECT count(*) FROM requests WHERE grid_code = ANY(:g) "
                    "AND status IN ('reported', 'reopened', 'taken')"
                ),
                {"g": server["worker_grids"]},
            ).scalar_one()
            + conn.execute(
                text(
                    "SELECT count(*) FROM requests WHERE grid_code = ANY(:g) AND status = 'resolved' "
                    "AND dispatched_at IS NOT NULL"
                ),
                {"g": server["worker_grids"]},
            ).scalar_one()
        )


def test_worker_works_the_todo_on_a_phone(browser: Browser, staff: dict[str, Any]) -> None:
    """The 网格员's 待办: named, counted in the header, sorted by deadline, filtered, searched, paged."""
    visit = Visit(browser, staff["base"], "worker")
    page = visit.page
    page.set_viewport_size(PHONE)
    page.goto(staff["base"] + "/")
    page.wait_for_selector("#todo-list li")
    expected = _todo_count(staff)
    assert page.locator("#todo-total").inner_text() == f"({expected})"
    assert page.locator("#gm-todo-count").inner_text() == str(expected)
    assert page.locator(".gm-name").inner_text().startswith("网格员 · 新街口街道 000社区 第")
    assert [a.inner_text() for a in page.locator(".gm-nav a").all()][1:] == ["上报", "我的网格", "走访覆盖", "网格人员"]
    rows = page.locator("#todo-list li")
    assert rows.count() == min(expected, 20)
    first = rows.first.inner_text()
    assert ("剩余" in first or "已超时" in first) and "#" in first
    overdue = page.locator(".wb-sla.overdue").count()
    assert all("已超时" in t for t in page.locator(".wb-sla.overdue").all_inner_texts())
    if expected > 20:  # the server pages: more rows on request
        page.click("#more")
        page.wait_for_function("() => document.querySelectorAll('#todo-list li').length > 20")
    page.check("#f-overdue")
    page.wait_for_function(  # the filtered list has arrived (not the emptied list in between)
        f"() => {{ const s = [...document.querySelectorAll('.wb-sla')];"
        f" return s.length >= {min(overdue, 1)} && s.every(x => x.matches('.overdue')); }}"
    )
    assert page.locator(".wb-sla.overdue").count() >= min(overdue, 1)
    page.uncheck("#f-overdue")
    shown = page.locator("#todo-list li").count()
    rid = page.locator("#todo-list a").nth(2).get_attribute("data-id")  # not the first: the search must move it up
    page.fill("#q", str(rid))
    page.wait_for_function(
        f"() => {{ const rows = document.querySelectorAll('#todo-list a');"
        f" return rows.length > 0 && rows.length < {shown} && rows[0].dataset.id === '{rid}'; }}"
    )
    assert page.locator("#todo-list a").first.get_attribute("href") == f"/requests/{rid}"
    visit.shot("workbench_worker_search_phone")
    assert visit.outside == [] and visit.errors == []


def test_english_toggle_keeps_names(browser: Browser, staff: dict[str, Any]) -> None:
    visit = Visit(browser, staff["base"], "wb_command")
    page = visit.page
    page.goto(staff["base"] + "/")
    page.wait_for_selector(".gm-name")
    assert page.locator(".gm-name").inner_text() == "街道指挥中心 · 新街口街道"
    page.click("#gm-lang")
    page.wait_for_selector(".gm-name")
    assert page.locator(".gm-name").inner_text() == "Sub-district command centre · 新街口街道"
    assert page.locator("#gm-lang").inner_text() == "简体中文"
    assert visit.errors == []
