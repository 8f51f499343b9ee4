"""One request the whole 五单 way through the pages only, each role in its own chromium, checked in the database.

上报 by the 网格员 on a phone with a photo → 上报 to the 社区 → 分单 大事 → 派单 to 城管执法中队 → 退单 with a
reason → 派单 again → 接单 → 办结 with a photo → 核查 by the 网格员 (not the resolver) → the resident's 评单 from the
public link.
Every step is clicks and typing; the database is only read. Before and after each step the acting role's 待办 (its
workbench, searched by the request's number as a user would) must gain and lose the case.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pytest
from PIL import Image
from playwright.sync_api import Browser, BrowserContext, Page
from sqlalchemy import text

from gridmap.auth.service import create_user
from gridmap.db.models import Role
from gridmap.db.session import session_scope
from tests.browser.conftest import ARTIFACTS
from tests.conftest import resident_link

pytestmark = [pytest.mark.db, pytest.mark.browser]
PHONE = {"width": 390, "height": 844}
DEPARTMENT = "城管执法中队"
STAFF = {  # user: role, unit, department (the worker comes from the server fixture; its grids are in 社区 …000)
    "fo_community": (Role.community, "320102003000", None),
    "fo_command": (Role.command, "320102003", None),
    "fo_chengguan": (Role.department, None, DEPARTMENT),
}
DESCRIPTION = "人行道上有人占道摆摊卖水果 five-orders"
LOCAL = ("http://127.0.0.1:", "data:", "about:", "blob:")


class Desk:
    """One signed-in (or anonymous) browser context; records page errors and requests to any other host."""

    def __init__(self, browser: Browser, base: str, user: str | None, *, phone: bool = False) -> None:
        self.base, self.phone, self.outside, self.errors = base, phone, [], []  # type: ignore[var-annotated]
        options: dict[str, Any] = {"viewport": {"width": 1280, "height": 800}, "locale": "zh-CN"}
        if phone:
            options.update(viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2)
        self.context: BrowserContext = browser.new_context(**options)
        self.context.on("request", lambda r: None if r.url.startswith(LOCAL) else self.outside.append(r.url))
        self.page: Page = self.context.new_page()
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        if user:
            self.page.goto(f"{base}/login")
            self.page.fill("input[name=username]", user)
            self.page.fill("input[name=password]", "secret")
            self.page.click("button[type=submit]")
            self.page.wait_for_load_state("networkidle")

    def todo_has(self, rid: int) -> bool:
        """Open the workbench, search the 待办 for ``#rid`` as a user types it, and say whether the case is listed."""
        page = self.page
        response = page.goto(self.base + "/")
        assert response is not None and response.status == 200
        page.wait_for_selector("#todo:not([hidden])")
        page.wait_for_function("() => document.getElementById('todo-total').textContent !== ''")
        with page.expect_response(lambda r: "/api/requests?" in r.url and "q=" in r.url) as answer:
            page.fill("#q", f"#{rid}")
        assert answer.value.ok
        page.wait_for_function(
            """rid => {
              const total = document.getElementById('todo-total').textContent;
              const rows = [...document.querySelectorAll('#todo-list a')];
              return (total === '(1)' && rows.length === 1 && rows[0].dataset.id === String(rid))
                || (total === '(0)' && rows.length === 0 && !document.getElementById('todo-empty').hidden);
            }""",
            arg=rid,
        )
        return page.locator(f"#todo-list a[data-id='{rid}']").count() == 1

    def open_from_todo(self, rid: int) -> Page:
        """From the workbench, tap the case in the 待办 to open its page."""
        assert self.todo_has(rid)
        self.page.locator(f"#todo-list a[data-id='{rid}']").click()
        self.page.wait_for_url(f"{self.base}/requests/{rid}")
        self.page.wait_for_selector("#actions button")
        return self.page

    def shot(self, step: str) -> None:
        """The page as the step left it: whole on a desk, the screen on a phone (its sticky bars break a long shot)."""
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"five-orders-{step}.png"), full_page=not self.phone)

    def clean(self) -> None:
        assert self.outside == [] and self.errors == []


@pytest.fixture(scope="module")
def chain(server: dict[str, Any]) -> dict[str, Any]:
    """The 社区, 街道 and 城管执法中队 accounts of the chain."""
    with session_scope(server["engine"]) as session:
        for name, (role, unit, dept) in STAFF.items():
            create_user(
                session=session,
                username=name,
                password="secret",
                role=role,
                unit_code=unit,
                department=dept,
                weak_password=True,
            )
    return server


@pytest.fixture
def desks(browser: Browser, chain: dict[str, Any]) -> Iterator[dict[str, Desk]]:
    base = chain["base"]
    opened = {"worker": Desk(browser, base, "worker", phone=True)}
    opened.update({name: Desk(browser, base, name) for name in STAFF})
    opened["resident"] = Desk(browser, base, None, phone=True)
    yield opened
    for desk in opened.values():
        desk.context.close()


def _png(width: int, height: int, colour: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, format="PNG")
    return out.getvalue()


def _free_point(server: dict[str, Any], code: str, category: str) -> tuple[float, float]:
    """A point well inside grid ``code`` with no open report of ``category`` within 60 m (no duplicate merge)."""
    with server["engine"].connect() as conn:
        row = conn.execute(
            text(
                "SELECT ST_X(p), ST_Y(p) FROM (SELECT (ST_Dump(ST_GeneratePoints(ST_Buffer(g.geom, -0.0001), 300, 11)))"
                ".geom AS p FROM grids g JOIN grid_plans gp ON gp.id = g.plan_id AND gp.status = 'published' "
                "WHERE g.code = :code) s WHERE NOT EXISTS (SELECT 1 FROM requests r WHERE r.category = :cat "
                "AND r.status NOT IN ('closed', 'merged') AND ST_DWithin(r.geom::geography, s.p::geography, 60)) "
                "LIMIT 1"
            ),
            {"code": code, "cat": category},
        ).one()
    return float(row[0]), float(row[1])


def _row(server: dict[str, Any], rid: int) -> dict[str, Any]:
    with server["engine"].connect() as conn:
        row = conn.execute(
            text(
                "SELECT status, department, photos, rating, rating_source, rating_comment, rating_token, "
                "dispatched_at IS NOT NULL AS dispatched FROM requests WHERE id = :id"
            ),
            {"id": rid},
        ).one()
    return dict(row._mapping)


def _trail(server: dict[str, Any], rid: int) -> list[tuple[str, str, str | None]]:
    with server["engine"].connect() as conn:
        rows = conn.execute(
            text("SELECT action, actor, reason FROM request_events WHERE request_id = :id ORDER BY at, id"),
            {"id": rid},
        ).all()
    return [(r[0], r[1], r[2]) for r in rows]


def _wait_status(page: Page, status: str) -> None:
    page.wait_for_function(f"() => document.getElementById('status').classList.contains('status-{status}')")


def _report_on_phone(worker: Desk, server: dict[str, Any], grid: str, category: str, description: str) -> int:
    """The 网格员 reports on the phone form: a category tile, a tap on the map, a description, a photo."""
    lon, lat = _free_point(server, grid, category)
    page = worker.page
    response = page.goto(worker.base + "/report")
    assert response is not None and response.status == 200
    page.wait_for_function("() => document.querySelectorAll('#tiles .tile').length > 5")
    page.wait_for_function("() => typeof map !== 'undefined' && state.gridNames.size > 0")
    page.locator(f".tile[data-code={category}]").tap()
    page.evaluate("() => document.getElementById('map').scrollIntoView({block: 'center'})")
    page.evaluate(f"() => map.setView([{lat}, {lon}], 18, {{animate: false}})")  # where the finger goes
    page.wait_for_timeout(300)
    box = page.locator("#map").bounding_box()
    assert box is not None
    x, y = page.evaluate(f"() => {{ const p = map.latLngToContainerPoint([{lat}, {lon}]); return [p.x, p.y]; }}")
    page.touchscreen.tap(box["x"] + x, box["y"] + y)
    page.wait_for_function("() => document.querySelector('#place').textContent.includes('属于')")
    page.fill("#description", description)
    photo = {"name": "stall.png", "mimeType": "image/png", "buffer": _png(640, 480, (200, 120, 30))}
    page.set_input_files("#photos", files=[photo])
    page.wait_for_selector("#thumbs .thumb img")
    page.locator("#submit").tap()
    page.wait_for_selector("#answer.ok .grid-answer")
    assert page.locator("#answer .grid-answer").inner_text() == grid
    href = page.locator("#answer a").get_attribute("href")
    assert href is not None and href.startswith("/requests/")
    return int(href.rsplit("/", 1)[1])


def _act(desk: Desk, page: Page, button: str, status: str, step: str, **form: Any) -> None:
    """Press an action button (filling its form when it has one) and wait until the page shows the new status."""
    page.click(button)
    if form:
        page.wait_for_selector("#action-form", state="visible")
        if "department" in form:
            page.select_option("#department", form["department"])
        if "reason" in form:
            page.fill("#reason", form["reason"])
        if "photo" in form:
            page.set_input_files("#photo", form["photo"])
        page.click("#form-submit")
    _wait_status(page, status)
    assert page.locator("#action-error").inner_text() == ""
    page.evaluate("() => window.scrollTo(0, 0)")
    desk.shot(step)


def test_one_request_through_the_five_orders_by_pages(desks: dict[str, Desk], chain: dict[str, Any]) -> None:
    worker, community, command = desks["worker"], desks["fo_community"], desks["fo_command"]
    department, resident = desks["fo_chengguan"], desks["resident"]

    # 上报: the worker on the phone; the new case is on the worker's 待办 (点单 or 上报 is theirs)
    rid = _report_on_phone(worker, chain, chain["worker_grids"][0], "street_vending", DESCRIPTION)
    worker.page.evaluate("() => document.getElementById('answer').scrollIntoView({block: 'center'})")
    worker.shot("01-report")
    row = _row(chain, rid)
    assert (row["status"], len(row["photos"])) == ("reported", 1)
    assert worker.todo_has(rid) and not community.todo_has(rid)

    # 上报 (escalate) to the 社区, from the worker's 待办 on the phone
    page = worker.open_from_todo(rid)
    assert page.locator("#act-escalate").inner_text() == "上报"
    _act(worker, page, "#act-escalate", "escalated", "02-escalate")
    assert page.locator("#status").inner_text() == "已上报社区"
    assert _row(chain, rid)["status"] == "escalated"
    assert not worker.todo_has(rid) and community.todo_has(rid)

    # 分单 大事: the 社区 sends it up to the 街道
    page = community.open_from_todo(rid)
    assert page.locator("#act-triage-big").inner_text() == "分单 · 大事报街道"
    _act(community, page, "#act-triage-big", "triaged", "03-triage-big")
    assert _row(chain, rid)["status"] == "triaged"
    assert _trail(chain, rid)[-1] == ("triage", "fo_community", None)
    assert not community.todo_has(rid) and command.todo_has(rid)

    # 派单 to 城管执法中队: the 街道 command centre
    assert not department.todo_has(rid)  # not dispatched yet: the department does not see it
    page = command.open_from_todo(rid)
    _act(command, page, "#act-dispatch", "dispatched", "04-dispatch", department=DEPARTMENT)
    row = _row(chain, rid)
    assert (row["status"], row["department"], row["dispatched"]) == ("dispatched", DEPARTMENT, True)
    assert not command.todo_has(rid) and department.todo_has(rid)

    # 退单 with a reason: the department sends it back to the 街道
    page = department.open_from_todo(rid)
    assert set(page.locator("#actions button").all_inner_texts()) == {"接单", "退单"}
    page.click("#act-return")
    page.wait_for_selector("#action-form", state="visible")
    page.click("#form-submit")  # the reason is required: the browser holds the form back, nothing is sent
    assert page.eval_on_selector("#reason", "e => e.validity.valueMissing")
    assert _row(chain, rid)["status"] == "dispatched"
    page.click("#form-cancel")
    reason = "摊位在小区内部道路，不属城管执法范围"
    _act(department, page, "#act-return", "returned", "05-return", reason=reason)
    assert _row(chain, rid)["status"] == "returned"
    assert _trail(chain, rid)[-1] == ("return", "fo_chengguan", reason)
    assert reason in page.locator("#trail li").last.inner_text()
    assert not department.todo_has(rid) and command.todo_has(rid)

    # 派单 again: the returned case is on the 街道's 待办 with the department's reason in its trail
    page = command.open_from_todo(rid)
    assert reason in page.locator("#trail").inner_text()
    _act(command, page, "#act-dispatch", "dispatched", "06-dispatch-again", department=DEPARTMENT)
    assert (_row(chain, rid)["status"], _row(chain, rid)["department"]) == ("dispatched", DEPARTMENT)
    assert [a for a, _, _ in _trail(chain, rid)].count("dispatch") == 2
    assert not command.todo_has(rid) and department.todo_has(rid)

    # 接单: the case stays on the department's 待办 (办结 is next, and theirs)
    page = department.open_from_todo(rid)
    _act(department, page, "#act-accept", "accepted", "07-accept")
    assert _row(chain, rid)["status"] == "accepted"
    assert department.todo_has(rid)

    # 办结 with an after-photo: the department; the 网格员 of the grid gets the 核查
    page = department.open_from_todo(rid)
    after = {"name": "cleared.png", "mimeType": "image/png", "buffer": _png(480, 360, (40, 160, 90))}
    done = "摊位已劝离，路面已清理"
    _act(department, page, "#act-resolve", "resolved", "08-resolve", reason=done, photo=after)
    row = _row(chain, rid)
    assert (row["status"], len(row["photos"])) == ("resolved", 2)
    assert _trail(chain, rid)[-2:] == [("photo", "fo_chengguan", None), ("resolve", "fo_chengguan", done)]
    assert page.locator("#act-verify").count() == 0 and page.locator("#act-reject").count() == 0  # the resolver
    assert not department.todo_has(rid) and worker.todo_has(rid) and not community.todo_has(rid)

    # 核查: the worker did not resolve it, so the worker may check it (and only 核查 / 核查不通过 are offered)
    page = worker.open_from_todo(rid)
    assert page.locator("#actions button").all_inner_texts() == ["核查", "核查不通过"]
    assert page.locator("#photos img").count() == 2
    _act(worker, page, "#act-verify", "verified", "09-verify")
    assert _row(chain, rid)["status"] == "verified"
    assert _trail(chain, rid)[-1] == ("verify", "worker", None)
    assert not worker.todo_has(rid) and community.todo_has(rid)  # the 社区 follows up until the resident rates
    page = community.open_from_todo(rid)
    assert "评单" not in page.locator("#actions").inner_text()  # staff record a 回访, they do not rate

    # 评单: the resident, from the public link (staff pages do not show it; the database keeps only its digest, so
    # the test gives the request a link of its own, as the staff report answered it to no one)
    token = resident_link(chain["engine"], rid)
    assert token not in community.page.content() and _row(chain, rid)["rating_token"] != token
    page = resident.page
    response = page.goto(f"{resident.base}/public/requests/{rid}?token={token}")  # an older link (?token=)
    assert response is not None and response.status == 200
    page.wait_for_selector("#rate-box:not([hidden])")
    assert page.url == f"{resident.base}/public/requests/{rid}#token={token}"  # moved out of the query string
    assert page.locator("#status").inner_text() == "已核查,请您评价"
    page.locator("#stars button[data-stars='5']").tap()
    page.fill("#comment", "摊位没有了，谢谢")
    page.locator("#send-rating").tap()
    page.wait_for_function("() => document.querySelector('#status').dataset.status === 'closed'")
    assert page.locator("#rated").inner_text() == "★★★★★ · 摊位没有了，谢谢"
    page.locator("#rated").scroll_into_view_if_needed()
    resident.shot("10-rate")
    row = _row(chain, rid)
    assert (row["status"], row["rating"], row["rating_source"], row["rating_comment"]) == (
        "closed",
        5,
        "resident",
        "摊位没有了，谢谢",
    )
    assert _trail(chain, rid)[-1][0] == "rate"
    assert not community.todo_has(rid) and not worker.todo_has(rid)
    assert [a for a, _, _ in _trail(chain, rid) if a != "photo"] == [
        "report",
        "escalate",
        "triage",
        "dispatch",
        "return",
        "dispatch",
        "accept",
        "resolve",
        "verify",
        "rate",
    ]
    for desk in desks.values():
        desk.clean()


def test_the_worker_does_not_check_own_resolution(desks: dict[str, Desk], chain: dict[str, Any]) -> None:
    """点单 and 办结 by the 网格员 on the phone: no 核查 for the resolver; the 社区 checks it instead."""
    worker, community = desks["worker"], desks["fo_community"]
    grid = chain["worker_grids"][1]
    rid = _report_on_phone(worker, chain, grid, "stairwell_clutter", "楼道里堆满了纸箱 five-orders own")
    page = worker.open_from_todo(rid)
    _act(worker, page, "#act-take", "taken", "own-take")
    page = worker.open_from_todo(rid)  # 处理中 stays on the worker's 待办
    _act(
        worker,
        page,
        "#act-resolve",
        "resolved",
        "own-resolve",
        reason="纸箱已清走",
        photo={"name": "stairs.png", "mimeType": "image/png", "buffer": _png(400, 300, (90, 90, 200))},
    )
    assert _row(chain, rid)["status"] == "resolved" and _row(chain, rid)["dispatched"] is False
    assert page.locator("#act-verify").count() == 0 and page.locator("#act-reject").count() == 0
    assert page.locator("#no-actions").is_visible()
    assert not worker.todo_has(rid) and community.todo_has(rid)  # an undispatched case is the 社区's to check
    page = community.open_from_todo(rid)
    assert page.locator("#actions button").all_inner_texts() == ["核查", "核查不通过"]
    _act(community, page, "#act-verify", "verified", "own-verify-by-community")
    assert _row(chain, rid)["status"] == "verified"
    assert _trail(chain, rid)[-1] == ("verify", "fo_community", None)
    for desk in desks.values():
        desk.clean()
