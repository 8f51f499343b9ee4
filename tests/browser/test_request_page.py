"""The request page (`/requests/{id}`) on a phone as a grid worker: 点单 and 办结 by clicks, checked in the database."""

from __future__ import annotations

import io
from itertools import count
from typing import Any

import pytest
from PIL import Image
from playwright.sync_api import Browser, Page
from sqlalchemy import select, text

from gridmap.auth.service import create_user
from gridmap.db.models import RequestEvent, Role, ServiceRequest
from gridmap.db.session import session_scope
from gridmap.requests.schemas import ActionIn, NewRequest
from gridmap.requests.service import Actor, apply_action, get_request, submit
from gridmap.requests.states import Action
from gridmap.settings import RequestSettings
from tests.browser.conftest import ARTIFACTS, NOW, Visit

pytestmark = [pytest.mark.db, pytest.mark.browser]
PHONE = {"width": 390, "height": 844}
_made = count(1)


def _new_request(server: dict[str, Any], grid_code: str, category: str = "garbage") -> int:
    """A fresh report in ``grid_code`` through the real intake (no duplicate merging with the simulated ones)."""
    with session_scope(server["engine"]) as session:
        lon, lat = session.execute(
            text(
                "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(g.geom) p FROM grids g "
                "JOIN grid_plans pl ON pl.id = g.plan_id AND pl.status = 'published' WHERE g.code = :c) q"
            ),
            {"c": grid_code},
        ).one()
        data = NewRequest(
            category=category,
            description=f"楼下垃圾堆了三天 {next(_made)}",
            lon=lon,
            lat=lat,
            reporter_name="王女士",
            reporter_phone="13812345678",
        )
        req, _ = submit(
            session,
            data,
            actor=Actor(None, "resident", "public"),
            channel="open311",
            now=NOW,
            settings=RequestSettings(duplicate_radius_m=0.0),
        )
        return req.id


def _state(server: dict[str, Any], rid: int) -> tuple[str, list[str], list[tuple[str, str, str | None]]]:
    """Status, photos and the trail (action, actor, reason) of a request, read from the database."""
    with server["engine"].connect() as conn:
        status, photos = conn.execute(
            select(ServiceRequest.status, ServiceRequest.photos).where(ServiceRequest.id == rid)
        ).one()
        trail = conn.execute(
            select(RequestEvent.action, RequestEvent.actor, RequestEvent.reason)
            .where(RequestEvent.request_id == rid)
            .order_by(RequestEvent.at, RequestEvent.id)
        ).all()
    return status, list(photos), [tuple(t) for t in trail]


def _photo() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (320, 240), (40, 160, 90)).save(out, "JPEG")
    return out.getvalue()


def _phone_page(browser: Browser, server: dict[str, Any], rid: int) -> tuple[Visit, Page]:
    visit = Visit(browser, server["base"], "worker")
    visit.page.set_viewport_size(PHONE)
    page = visit.open(f"/requests/{rid}")
    page.wait_for_selector("#actions button")
    return visit, page


def test_worker_takes_and_resolves_on_a_phone(browser: Browser, server: dict[str, Any]) -> None:
    rid = _new_request(server, server["worker_grids"][0])
    visit, page = _phone_page(browser, server, rid)
    nearby = page.evaluate(f"fetch('/api/requests/{rid}').then(r => r.json()).then(d => d.merge_targets.length)")
    labels = page.locator("#actions button").all_inner_texts()
    assert labels == ["点单", "上报"] + (["合并"] if nearby else [])  # 合并 only with an open request nearby
    assert page.locator("#act-dispatch").count() == 0 and "派单" not in page.locator("#actions").inner_text()
    assert page.locator("#status").inner_text() == "待点单"
    assert "138****5678" in page.locator("#reporter").inner_text()  # masked for a grid worker, who cannot reveal it
    assert page.locator("#reveal-phone").count() == 0
    assert page.locator(".leaflet-control-attribution").inner_text().count("OpenStreetMap contributors") == 1
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "request-phone.png"), full_page=True)

    page.click("#act-take")
    page.wait_for_function("() => document.getElementById('status').textContent === '处理中'")
    status, _, trail = _state(server, rid)
    assert status == "taken" and trail[-1] == ("take", "worker", None)

    page.click("#act-resolve")
    page.wait_for_selector("#action-form", state="visible")
    page.click("#form-submit")  # no 办结说明 yet: the page's own Chinese message, not the browser's bubble
    assert page.locator("#form-error").inner_text() == "请填写办结说明（必填）"
    assert _state(server, rid)[0] == "taken"
    page.fill("#reason", "垃圾已清运，地面已冲洗")
    page.set_input_files("#photo", {"name": "after.jpg", "mimeType": "image/jpeg", "buffer": _photo()})
    page.click("#form-submit")
    page.wait_for_function("() => document.getElementById('status').textContent === '已办结'")
    status, photos, trail = _state(server, rid)
    assert status == "resolved" and len(photos) == 1
    assert trail[-2:] == [("photo", "worker", None), ("resolve", "worker", "垃圾已清运，地面已冲洗")]
    assert page.locator("#photos img").count() == 1
    assert page.locator("#act-verify").count() == 0  # whoever resolved does not verify
    assert page.locator("#trail li").last.inner_text().count("垃圾已清运") == 1
    page.click("#photos img")
    assert page.locator("#lightbox").is_visible()
    assert visit.outside == [] and visit.errors == []


def test_a_refused_action_shows_the_reason_and_reloads(browser: Browser, server: dict[str, Any]) -> None:
    rid = _new_request(server, server["worker_grids"][1], category="noise")
    visit, page = _phone_page(browser, server, rid)
    with session_scope(server["engine"]) as session:  # someone else takes it while the page is open
        req = get_request(session, rid, lock=True)
        apply_action(
            session, req, ActionIn(action=Action.take), Actor(None, "colleague", "community"), NOW, RequestSettings()
        )
    page.click("#act-take")
    page.wait_for_function("() => document.getElementById('action-error').textContent !== ''")
    assert page.locator("#action-error").inner_text().startswith("无法点单：该诉求状态为处理中")
    assert page.locator("#status").inner_text() == "处理中"  # the page shows the state that is now stored
    assert page.locator("#act-take").count() == 0 and page.locator("#act-resolve").count() == 1
    assert visit.errors == []


def test_a_request_outside_ones_grids_is_not_shown(browser: Browser, server: dict[str, Any]) -> None:
    with server["engine"].connect() as conn:
        other = conn.scalar(
            select(ServiceRequest.id).where(ServiceRequest.grid_code.not_in(server["worker_grids"])).limit(1)
        )
    visit = Visit(browser, server["base"], "worker")
    response = visit.page.goto(f"{server['base']}/requests/{other}")
    assert response is not None and response.status == 403
    assert visit.page.locator(".error").inner_text().startswith("无权查看该诉求")
    anonymous = browser.new_page()
    anonymous.goto(f"{server['base']}/requests/{other}")
    assert anonymous.url.startswith(f"{server['base']}/login")


def _walk(server: dict[str, Any], rid: int, steps: list[tuple[str, ActionIn]]) -> None:
    """Move a request on through the service, as the named roles would."""
    with session_scope(server["engine"]) as session:
        req = get_request(session, rid, lock=True)
        for role, command in steps:
            apply_action(session, req, command, Actor(None, f"sim-{role}", role), NOW, RequestSettings())


UNITS = {Role.community: "320102003000", Role.command: "320102003"}  # the 社区 and 街道 of the test grids


def _staff(server: dict[str, Any], name: str, role: Role) -> None:
    with session_scope(server["engine"]) as session:
        unit = UNITS.get(role)
        create_user(session=session, username=name, password="secret", role=role, unit_code=unit, weak_password=True)


def test_command_dispatches_to_a_listed_department(browser: Browser, server: dict[str, Any]) -> None:
    rid = _new_request(server, server["worker_grids"][0], category="street_vending")
    _walk(
        server,
        rid,
        [("grid_worker", ActionIn(action=Action.escalate)), ("community", ActionIn(action=Action.triage, size="big"))],
    )
    _staff(server, "command1", Role.command)
    visit = Visit(browser, server["base"], "command1")
    page = visit.open(f"/requests/{rid}")
    page.wait_for_selector("#act-dispatch")
    assert page.locator("#actions button").all_inner_texts() == ["派单"]
    assert "138****5678" in page.locator("#reporter").inner_text()  # masked until a logged reveal
    page.click("#reveal-phone")  # the 街道 calls residents back: the whole number, with a reason
    page.fill("#reveal-reason", "回访居民核实情况")
    page.click(".reveal-form button[type=submit]")
    page.wait_for_selector("a#reporter-phone")
    assert page.locator("a#reporter-phone").get_attribute("href") == "tel:13812345678"
    with server["engine"].connect() as conn:
        logged = conn.execute(
            text("SELECT username, field, reason FROM pii_reveals WHERE request_id = :id"), {"id": rid}
        ).all()
    assert [tuple(r) for r in logged] == [("command1", "phone", "回访居民核实情况")]
    page.click("#act-dispatch")
    page.wait_for_selector("#action-form", state="visible")  # shown once the departments are listed
    options = page.locator("#department option").evaluate_all("os => os.map(o => o.value)")
    with server["engine"].connect() as conn:
        known = set(conn.scalars(text("SELECT department FROM request_categories WHERE active")).all())
    assert set(options) == known and page.locator("#department").input_value() == "城管执法中队"  # the category's
    page.select_option("#department", "环卫所")
    page.click("#form-submit")
    page.wait_for_function("() => document.getElementById('status').textContent === '已派单'")
    with server["engine"].connect() as conn:
        row = conn.execute(
            select(ServiceRequest.status, ServiceRequest.department).where(ServiceRequest.id == rid)
        ).one()
    assert tuple(row) == ("dispatched", "环卫所")
    assert page.locator("#actions button").count() == 0 and page.locator("#no-actions").is_visible()
    assert visit.outside == [] and visit.errors == []


def test_community_records_a_call_back(browser: Browser, server: dict[str, Any]) -> None:
    rid = _new_request(server, server["worker_grids"][1], category="pets")
    _walk(
        server,
        rid,
        [
            ("grid_worker", ActionIn(action=Action.take)),
            ("grid_worker", ActionIn(action=Action.resolve)),
            ("community", ActionIn(action=Action.verify)),
        ],
    )
    _staff(server, "community1", Role.community)
    visit = Visit(browser, server["base"], "community1")
    page = visit.open(f"/requests/{rid}")
    page.wait_for_selector("#act-callback")
    assert page.locator("#actions button").all_inner_texts() == ["回访", "结案"]  # no 评单: that is the resident's
    page.click("#act-callback")
    page.wait_for_selector("#action-form", state="visible")
    page.check("input[name=stars][value='4']")
    page.fill("#reason", "居民表示满意")
    page.click("#form-submit")
    page.wait_for_function("() => document.getElementById('status').textContent === '已结案'")
    with server["engine"].connect() as conn:
        row = conn.execute(
            select(ServiceRequest.rating, ServiceRequest.rating_source).where(ServiceRequest.id == rid)
        ).one()
    assert tuple(row) == (4, "callback")
    assert "★★★★（回访）" in page.locator("#reporter").inner_text()
    assert visit.errors == []


def test_the_page_in_english(browser: Browser, server: dict[str, Any]) -> None:
    rid = _new_request(server, server["worker_grids"][0], category="broken_facility")
    visit, page = _phone_page(browser, server, rid)
    page.click("#gm-lang")
    page.wait_for_selector("#actions button")
    assert page.locator("#actions button").first.inner_text() == "take"
    assert page.locator("#status").inner_text() == "reported" and page.locator("h2").first.inner_text() == "Actions"
    assert page.locator("#trail li").first.inner_text().startswith("report")
    visit.shot("request-phone-en")
    page.evaluate("localStorage.removeItem('gridmap.lang')")
    assert visit.errors == []
