"""网格人员 in chromium: a 社区 secretary corrects a phone by clicks and sees only the new masked number."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Browser

from gridmap.auth.service import create_user
from gridmap.db.models import Role
from gridmap.db.session import session_scope
from tests.browser.conftest import Visit

pytestmark = [pytest.mark.db, pytest.mark.browser]
OLD_PHONE, NEW_PHONE = "13811112222", "13733334444"


@pytest.fixture(scope="module")
def secretary(server: dict[str, Any]) -> str:
    with session_scope(server["engine"]) as session:
        create_user(session=session, username="edit_secretary", password="secret", role=Role.community,
                    unit_code="320102003000", weak_password=True)
    return "edit_secretary"


def test_the_secretary_corrects_a_phone_by_clicks_and_sees_it_masked(
    browser: Browser, server: dict[str, Any], secretary: str
) -> None:
    grid = server["worker_grids"][0]
    visit = Visit(browser, server["base"], secretary)
    page = visit.open("/people")
    visit.page.evaluate(
        """async ([grid, phone]) => {
          await fetch('/api/people', {method: 'POST', headers: {'Content-Type': 'application/json'},
            body: JSON.stringify({name: '冯网格员', phone, posts: [{role: 'grid_worker', grid_code: grid}]})});
        }""",
        [grid, OLD_PHONE],
    )
    page.reload()
    item = page.locator(f".grid-people[data-grid='{grid}'] li", has_text="冯网格员")
    item.locator("button.edit-person").click()
    form = item.locator("form.edit-form")
    empty_with_mask = (form.locator("input[name=phone]").input_value(),
                       form.locator("input[name=phone]").get_attribute("placeholder"))
    form.locator("input[name=phone]").fill(NEW_PHONE)
    form.locator("button[type=submit]").click()
    page.wait_for_function("() => document.querySelector('#people-result').textContent.includes('已保存')")
    item = page.locator(f".grid-people[data-grid='{grid}'] li", has_text="冯网格员")
    visit.shot("people_edit")
    html = page.content()
    assert (empty_with_mask, item.locator(".phone").inner_text(), NEW_PHONE in html, OLD_PHONE in html,
            visit.errors) == (("", "138****2222"), "137****4444", False, False, [])


def test_the_secretary_ends_a_post_and_then_deletes_the_record_by_clicks(
    browser: Browser, server: dict[str, Any], secretary: str
) -> None:
    grid = server["worker_grids"][1]
    visit = Visit(browser, server["base"], secretary)
    page = visit.open("/people")
    visit.page.evaluate(
        """async grid => {
          await fetch('/api/people', {method: 'POST', headers: {'Content-Type': 'application/json'},
            body: JSON.stringify({name: '卫志愿者', phone: '13600001111',
                                  posts: [{role: 'volunteer', grid_code: grid}]})});
        }""",
        grid,
    )
    page.reload()
    item = page.locator(f".grid-people[data-grid='{grid}'] li", has_text="卫志愿者")
    item.locator("button.end-post").click()
    item.locator("button.confirm-yes").click()
    page.wait_for_function("() => document.querySelector('#people-result').textContent.includes('已卸任')")
    waiting = page.locator("#unposted li", has_text="卫志愿者")
    waiting.locator("button.remove-person").click()
    waiting.locator("button.confirm-yes").click()
    page.wait_for_function("() => document.querySelector('#people-result').textContent.includes('已删除')")
    assert ("卫志愿者" in page.locator("#grids").inner_text() + page.locator("#unposted").inner_text(),
            visit.errors) == (False, [])
