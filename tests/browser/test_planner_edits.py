"""The planner's edits by clicks in chromium, each with the one outcome it must have: split, merge, undo, re-partition.

Every test works on a draft of its own, made by clicking 从已发布方案新建草稿; what the page did is read back from
the database.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
import shapely
from playwright.sync_api import Browser, Page
from shapely.geometry import shape
from sqlalchemy import text
from sqlalchemy.orm import Session

from gridmap.partition import edits
from gridmap.settings import PartitionSettings
from tests.browser.conftest import Visit
from tests.edit_rules import edit_graph, mergeable

pytestmark = [pytest.mark.db, pytest.mark.browser]
PREFIX = "320102003000"  # the 社区 of the browser tests' plan


def _new_draft(browser: Browser, server: dict[str, Any]) -> tuple[Visit, Page, int]:
    visit = Visit(browser, server["base"], "planner")
    page = visit.open("/planner")
    page.on("dialog", lambda d: d.accept())
    page.click("#new-draft")
    page.wait_for_function("() => document.querySelector('#message').textContent.includes('已新建草稿')")
    page.wait_for_function("() => buildingsLayer && buildingsLayer.getLayers().length > 0")
    return visit, page, int(page.evaluate("() => plan.id"))


def _assignment(server: dict[str, Any], plan_id: int) -> dict[int, str]:
    with server["engine"].connect() as conn:
        rows = conn.execute(
            text(
                "SELECT a.building_id, g.code FROM grid_assignments a JOIN grids g ON g.id = a.grid_id "
                "WHERE a.plan_id = :p"
            ),
            {"p": plan_id},
        ).all()
    return {int(b): str(c) for b, c in rows}


def _click_grid(page: Page, server: dict[str, Any], plan_id: int, code: str) -> None:
    """Click a point of grid ``code`` that is off every building (a building takes the click for itself)."""
    with server["engine"].connect() as conn:
        geom = conn.execute(
            text("SELECT ST_AsGeoJSON(geom) FROM grids WHERE plan_id = :p AND code = :c"), {"p": plan_id, "c": code}
        ).scalar_one()
        homes = [shape(json.loads(g)) for g in conn.execute(text("SELECT ST_AsGeoJSON(geom) FROM buildings")).scalars()]
    grid = shape(json.loads(geom))
    inner = grid.buffer(-0.00015) if not grid.buffer(-0.00015).is_empty else grid
    tree = shapely.STRtree(homes)
    rng = np.random.default_rng(0)
    x0, y0, x1, y1 = inner.bounds
    for _ in range(5000):
        point = shapely.Point(rng.uniform(x0, x1), rng.uniform(y0, y1))
        if inner.contains(point) and not len(tree.query(point.buffer(0.00006), predicate="intersects")):
            break
    else:
        raise AssertionError(f"no free point in grid {code}")
    page.evaluate(f"() => map.setView([{point.y}, {point.x}], 18, {{animate: false}})")
    page.wait_for_timeout(300)
    box = page.locator("#map").bounding_box()
    assert box is not None
    x, y = page.evaluate(
        f"() => {{ const p = map.latLngToContainerPoint([{point.y}, {point.x}]); return [p.x, p.y]; }}"
    )
    page.mouse.click(box["x"] + x, box["y"] + y)


def _wait_message(page: Page, needle: str) -> str:
    page.wait_for_function(f"() => document.querySelector('#message').textContent.includes('{needle}')")
    return str(page.locator("#message").get_attribute("class"))


def _largest_grid(server: dict[str, Any], plan_id: int) -> str:
    with server["engine"].connect() as conn:
        return str(
            conn.execute(
                text("SELECT code FROM grids WHERE plan_id = :p ORDER BY n_buildings DESC, code LIMIT 1"),
                {"p": plan_id},
            ).scalar_one()
        )


def test_split_by_clicks_cuts_the_grid_in_two_grids_of_its_community(browser: Browser, server: dict[str, Any]) -> None:
    visit, page, plan = _new_draft(browser, server)
    code = _largest_grid(server, plan)
    before = _assignment(server, plan)
    _click_grid(page, server, plan, code)
    page.wait_for_function(f"() => document.querySelector('#grid-info h3')?.textContent.includes('{code}')")
    page.click("#grid-info button:has-text('拆分为两个')")
    assert _wait_message(page, "已拆分") == "ok"
    after = _assignment(server, plan)
    halves = {after[b] for b, c in before.items() if c == code}
    (new,) = halves - {code}
    assert halves == {code, new} and new.startswith(PREFIX) and new not in set(before.values())
    assert visit.errors == [] and visit.outside == []


def test_undo_by_click_restores_the_draft_before_the_last_edit(browser: Browser, server: dict[str, Any]) -> None:
    visit, page, plan = _new_draft(browser, server)
    before = _assignment(server, plan)
    with Session(server["engine"]) as session:  # the edit to undo, made through the same code the API uses
        edits.split_grid(session=session, plan_id=plan, code=_largest_grid(server, plan), params=PartitionSettings())
        session.commit()
    assert _assignment(server, plan) != before
    page.click("#undo")
    assert _wait_message(page, "已撤销") == "ok"
    assert _assignment(server, plan) == before
    assert visit.errors == [] and visit.outside == []


def _households(server: dict[str, Any], plan_id: int) -> dict[str, int]:
    with server["engine"].connect() as conn:
        rows = conn.execute(text("SELECT code, households FROM grids WHERE plan_id = :p"), {"p": plan_id}).all()
    return {str(c): int(h) for c, h in rows}


def test_merge_by_clicks_moves_every_building_of_the_grid_into_the_neighbour(
    browser: Browser, server: dict[str, Any]
) -> None:
    visit, page, plan = _new_draft(browser, server)
    totals = _households(server, plan)
    small, into = mergeable(edit_graph(server["engine"], plan, PartitionSettings()), totals)
    before = _assignment(server, plan)
    _click_grid(page, server, plan, small)
    page.wait_for_function(f"() => document.querySelector('#grid-info h3')?.textContent.includes('{small}')")
    page.click("#grid-info button:has-text('合并到')")
    _click_grid(page, server, plan, into)
    assert _wait_message(page, f"已将 {small} 并入 {into}") == "ok"
    after = _assignment(server, plan)
    assert {b for b, c in after.items() if c == into} == {b for b, c in before.items() if c in (small, into)}
    assert small not in set(after.values())
    assert _households(server, plan)[into] == totals[small] + totals[into]
    assert visit.errors == [] and visit.outside == []


def test_repartition_by_click_keeps_every_grid_in_its_community(browser: Browser, server: dict[str, Any]) -> None:
    visit, page, plan = _new_draft(browser, server)
    page.click("#rerun")
    assert _wait_message(page, "已重新划分") == "ok"
    codes = set(_assignment(server, plan).values())
    assert codes and all(c.startswith(PREFIX) and len(c) == 15 for c in codes)  # the bug: 000000000000NNN
    assert visit.errors == [] and visit.outside == []


def test_the_notes_of_forced_grids_show_in_the_page_language(browser: Browser, server: dict[str, Any]) -> None:
    visit = Visit(browser, server["base"], "planner")
    page = visit.open("/planner")
    page.wait_for_function("() => plan && document.querySelectorAll('#forced li').length > 0")
    with server["engine"].connect() as conn:
        notes = conn.execute(
            text("SELECT metrics->'notes' FROM grid_plans WHERE id = :p"), {"p": page.evaluate("() => plan.id")}
        ).scalar_one()
    assert len(notes) > 0  # 新街口's grids hold street blocks across main roads, to cover the area
    assert page.locator("#forced li").all_inner_texts() == [f"{n['grid']}: {n['zh']}" for n in notes]
    page.evaluate("() => localStorage.setItem('gridmap.lang', 'en')")
    page.reload()
    page.wait_for_function("() => plan && document.querySelectorAll('#forced li').length > 0")
    assert page.locator("#forced li").all_inner_texts() == [f"{n['grid']}: {n['en']}" for n in notes]
    page.evaluate("() => localStorage.removeItem('gridmap.lang')")
    assert visit.errors == [] and visit.outside == []
