"""A visit on the phone in chromium: recorded with a photo (online or offline, then uploaded once), turned into a
request, coloured on the visit map."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from playwright.sync_api import Browser, BrowserContext, Page
from sqlalchemy import text

from tests.browser.conftest import ARTIFACTS, FEATURES_JS, NOW

pytestmark = [pytest.mark.db, pytest.mark.browser]
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def signed_in(browser: Browser, server: dict[str, Any]) -> Iterator[tuple[BrowserContext, Page]]:
    """The grid worker on a phone whose clock says the server's NOW (a visit carries the phone's time)."""
    context = browser.new_context(
        viewport=PHONE, is_mobile=True, has_touch=True, permissions=["geolocation"], locale="zh-CN"
    )
    context.clock.set_fixed_time(NOW)
    page = context.new_page()
    page.goto(f"{server['base']}/login")
    page.fill("input[name=username]", "worker")
    page.fill("input[name=password]", "secret")
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
    yield context, page
    context.close()


@pytest.fixture
def phone(signed_in: tuple[BrowserContext, Page]) -> Page:
    return signed_in[1]


def _photo(tmp_path: Path) -> Path:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), "#c62828").save(out, format="JPEG")
    path = tmp_path / "visit.jpg"
    path.write_bytes(out.getvalue())
    return path


def test_a_visit_turns_into_a_request_with_its_photo(phone: Page, server: dict[str, Any], tmp_path: Path) -> None:
    page = phone
    page.goto(f"{server['base']}/")
    page.wait_for_function("() => document.querySelectorAll('#v-building option').length > 1")
    building = page.eval_on_selector("#v-building", "s => s.options[1].value")
    page.select_option("#v-building", building)
    page.fill("#v-room", "301")
    page.select_option("#v-kind", "hardship")
    page.fill("#v-note", "外墙瓷砖松动，有脱落危险")
    page.set_input_files("#v-photo", str(_photo(tmp_path)))
    page.click("#v-save")
    page.wait_for_selector("#visit-result[data-id]")
    page.select_option("#v-category", "facade_falling")
    page.click("#v-to-request")
    page.wait_for_selector("#visit-request-link")
    visit = int(page.get_attribute("#visit-result", "data-id") or 0)
    with server["engine"].connect() as conn:
        rid, photos = conn.execute(
            text(
                "SELECT v.request_id, json_array_length(r.photos::json) FROM visits v JOIN requests r "
                "ON r.id = v.request_id WHERE v.id = :v"
            ),
            {"v": visit},
        ).one()
    assert (page.get_attribute("#visit-request-link", "href"), photos) == (f"/requests/{rid}", 1)


def test_the_visit_map_colours_the_visited_building(phone: Page, server: dict[str, Any]) -> None:
    page = phone
    page.goto(f"{server['base']}/")
    page.wait_for_function("() => document.querySelectorAll('#v-building option').length > 2")
    building = page.eval_on_selector("#v-building", "s => s.options[2].value")
    page.select_option("#v-building", building)
    page.click("#v-save")
    page.wait_for_selector("#visit-result[data-id]")
    page.goto(f"{server['base']}/maps/visits")
    page.wait_for_load_state("networkidle")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "visit-map-phone.png"))
    props = [p for p in page.evaluate(FEATURES_JS) if "building_id" in p]
    colours = {p["color"] for p in props if str(p["building_id"]) == building}
    others = {p["color"] for p in props if p["state"] == "overdue"}
    assert (colours <= {"#81c995", "#188038"}, bool(colours), "#d93025" in others) == (True, True, True)


FIRST_DUE = "s => [...s.options].find(o => o.dataset.state === 'overdue' || o.dataset.state === 'due').value"
VISITED_COLOURS = {"#81c995", "#188038"}  # 进行中, 本期已完成


def test_a_visit_recorded_offline_is_queued_then_stored_once(
    signed_in: tuple[BrowserContext, Page], server: dict[str, Any], tmp_path: Path
) -> None:
    context, page = signed_in
    note = "地下室走访：独居老人，水管渗漏（离线记录）"
    context.set_geolocation({"latitude": 32.0415, "longitude": 118.7845, "accuracy": 10})
    page.goto(f"{server['base']}/")
    page.wait_for_function("() => document.querySelectorAll('#v-building option').length > 3")
    page.wait_for_function("() => navigator.serviceWorker.controller !== null")
    context.set_offline(True)
    page.reload()  # the workbench, its buildings and visit kinds come from the service worker
    page.wait_for_function("() => document.querySelectorAll('#v-building option').length > 3")
    building = page.eval_on_selector("#v-building", FIRST_DUE)
    page.select_option("#v-building", building)
    page.fill("#v-room", "B02")
    page.select_option("#v-kind", "elderly_alone")
    page.fill("#v-note", note)
    page.set_input_files("#v-photo", str(_photo(tmp_path)))
    page.click("#v-save")
    page.wait_for_selector("#visit-pending[data-count='1']")
    queued = page.locator("#visit-queue li").all_inner_texts()
    pending = page.inner_text("#visit-pending")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.locator("#visit-outbox").screenshot(path=str(ARTIFACTS / "visit-offline-queued-phone.png"))
    with server["engine"].connect() as conn:
        before = conn.execute(text("SELECT count(*) FROM visits WHERE note = :n"), {"n": note}).scalar()
    context.set_offline(False)  # the online event uploads it
    page.wait_for_selector("#visit-result[data-id]")
    page.wait_for_function(
        f"() => ['partial', 'done'].includes(document.querySelector(\"#v-building option[value='{building}']\")"
        ".dataset.state)"
    )
    page.evaluate("() => gridmapVisits.sync()")  # again: nothing more is sent
    page.screenshot(path=str(ARTIFACTS / "visit-offline-synced-phone.png"))
    with server["engine"].connect() as conn:
        stored, photos, made = conn.execute(
            text("SELECT count(*), max(json_array_length(photos::json)), max(made_at) FROM visits WHERE note = :n"),
            {"n": note},
        ).one()
    page.goto(f"{server['base']}/maps/visits")
    page.wait_for_load_state("networkidle")
    colours = {p["color"] for p in page.evaluate(FEATURES_JS) if str(p.get("building_id")) == building}
    assert (pending, len(queued), before, stored, photos, made == NOW, colours <= VISITED_COLOURS, bool(colours)) == (
        "待上传 1 条",
        1,
        0,
        1,
        1,
        True,
        True,
        True,
    )


def test_a_visit_the_server_refuses_stays_listed_with_the_reason_until_discarded(
    signed_in: tuple[BrowserContext, Page], server: dict[str, Any]
) -> None:
    context, page = signed_in
    context.clock.set_fixed_time(NOW - timedelta(days=8))  # kept on the phone longer than the server accepts
    note = "手机时间过旧的走访"
    page.goto(f"{server['base']}/")
    page.wait_for_function("() => document.querySelectorAll('#v-building option').length > 1")
    page.fill("#v-note", note)
    page.click("#v-save")
    page.wait_for_selector("#visit-queue li[data-refused] .v-discard")
    reason = page.inner_text("#visit-queue li[data-refused] .error")
    page.click("#visit-queue li[data-refused] .v-discard")
    page.wait_for_selector("#visit-outbox", state="hidden")
    with server["engine"].connect() as conn:
        stored = conn.execute(text("SELECT count(*) FROM visits WHERE note = :n"), {"n": note}).scalar()
    assert ("未被接受" in reason and "早于 7 天前" in reason, stored) == (True, 0)


def test_a_lost_answer_is_resent_with_the_same_key_and_stored_once(browser: Browser, server: dict[str, Any]) -> None:
    # No service worker here, so that the test's network hook sees the page's own requests.
    context = browser.new_context(viewport=PHONE, is_mobile=True, service_workers="block", locale="zh-CN")
    context.clock.set_fixed_time(NOW)
    page = context.new_page()
    page.goto(f"{server['base']}/login")
    page.fill("input[name=username]", "worker")
    page.fill("input[name=password]", "secret")
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
    note = "楼道堆物，答复丢失后重发"
    sent: list[tuple[str, int]] = []

    def lose_the_first_answer(route: Any) -> None:
        if route.request.method != "POST":
            route.continue_()
            return
        answer = route.fetch()  # the server stores the visit ...
        sent.append((route.request.headers["idempotency-key"], answer.status))
        if len(sent) == 1:
            route.abort("connectionreset")  # ... and the answer never reaches the phone
        else:
            route.fulfill(response=answer)

    page.route("**/api/visits", lose_the_first_answer)
    page.goto(f"{server['base']}/")
    page.wait_for_function("() => document.querySelectorAll('#v-building option').length > 1")
    page.fill("#v-note", note)
    page.click("#v-save")
    page.wait_for_selector("#visit-pending[data-count='1']")
    page.click("#visit-sync")
    page.wait_for_selector("#visit-result[data-id]")
    with server["engine"].connect() as conn:
        stored = conn.execute(text("SELECT count(*) FROM visits WHERE note = :n"), {"n": note}).scalar()
    context.close()
    assert (sent[0][0] == sent[1][0], [s for _, s in sent], stored) == (True, [201, 200], 1)
