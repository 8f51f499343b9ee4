"""A visit on the phone in chromium: recorded with a photo, turned into a request, coloured on the visit map."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from playwright.sync_api import Browser, Page
from sqlalchemy import text

from tests.browser.conftest import ARTIFACTS, FEATURES_JS

pytestmark = [pytest.mark.db, pytest.mark.browser]
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def phone(browser: Browser, server: dict[str, Any]) -> Iterator[Page]:
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, locale="zh-CN")
    page = context.new_page()
    page.goto(f"{server['base']}/login")
    page.fill("input[name=username]", "worker")
    page.fill("input[name=password]", "secret")
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
    yield page
    context.close()


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
