"""The planner downloads the 网格台账; a 社区 secretary checks and imports the 户数 of a ledger, by clicks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from openpyxl import Workbook, load_workbook
from playwright.sync_api import Browser
from sqlalchemy import text

from gridmap.auth.service import create_user
from gridmap.db.models import Role
from gridmap.db.session import session_scope
from tests.browser.conftest import Visit


def test_the_planner_downloads_the_ledger(browser: Browser, server: dict[str, Any], tmp_path: Path) -> None:
    visit = Visit(browser, server["base"], "planner")
    page = visit.open("/planner")
    page.wait_for_function("() => document.getElementById('export-xlsx').href.includes('/export.xlsx')")
    with page.expect_download() as download:
        page.click("#export-xlsx")
    assert download.value.suggested_filename.startswith("网格台账_v") and download.value.suggested_filename.endswith(
        ".xlsx"
    )
    saved = tmp_path / "ledger.xlsx"
    download.value.save_as(saved)
    with server["engine"].connect() as conn:
        published = conn.execute(
            text("SELECT count(*) FROM grids g JOIN grid_plans p ON p.id = g.plan_id WHERE p.status = 'published'")
        ).scalar_one()
    assert load_workbook(saved)["网格"].max_row - 1 == published
    assert visit.outside == [] and visit.errors == []


def _secretary(server: dict[str, Any]) -> None:
    with session_scope(server["engine"]) as session:
        if session.execute(text("SELECT 1 FROM users WHERE username = 'secretary'")).first() is None:
            create_user(
                session=session,
                username="secretary",
                password="secret",
                role=Role.community,
                unit_code="320102003000",
                weak_password=True,
            )


def test_a_secretary_checks_then_imports_a_ledger(browser: Browser, server: dict[str, Any], tmp_path: Path) -> None:
    _secretary(server)
    with server["engine"].connect() as conn:
        building, name, households = conn.execute(
            text(
                "SELECT min(id), name, min(households) FROM buildings WHERE name IS NOT NULL AND compound_id IS NULL"
                " AND char_length(name) >= 4 AND id IN (SELECT building_id FROM grid_assignments)"
                " GROUP BY name HAVING count(*) = 1 ORDER BY name DESC LIMIT 1"
            )
        ).one()
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["楼栋名称", "户数"])
    sheet.append([name, households + 3])
    sheet.append(["<img src=x onerror=alert(1)>大厦", 20])
    ledger = tmp_path / "台账.xlsx"
    book.save(ledger)

    visit = Visit(browser, server["base"], "secretary")
    page = visit.open("/")
    page.click("nav a[href='/households']")
    page.wait_for_selector("#upload")
    page.click("#check")
    assert page.locator("#error").inner_text() == "请先选择台账文件"
    page.set_input_files("#file", str(ledger))
    page.click("#check")
    page.wait_for_selector("#summary:not(:empty)")
    assert page.locator("#summary").inner_text() == "共 2 行：1 行对上楼栋（其中 1 栋户数将更新），1 行未对上。"
    assert page.locator("#problems tbody tr").count() == 1 and page.locator("#problems img").count() == 0
    with server["engine"].connect() as conn:
        assert conn.execute(text("SELECT households FROM buildings WHERE id = :b"), {"b": building}).scalar_one() == (
            households
        )
    page.click("#store")
    page.wait_for_function("() => document.getElementById('summary').textContent.startsWith('已导入')")
    assert page.locator("#summary").inner_text().startswith("已导入：1 栋楼的户数已更新")
    with server["engine"].connect() as conn:
        assert conn.execute(text("SELECT households FROM buildings WHERE id = :b"), {"b": building}).scalar_one() == (
            households + 3
        )
    assert visit.outside == [] and visit.errors == []
    with session_scope(server["engine"]) as session:  # the shared server's data as the other tests expect it
        session.execute(text("UPDATE buildings SET households = households - 3 WHERE id = :b"), {"b": building})
        session.execute(
            text("UPDATE grids SET households = households - 3 WHERE id IN "
                 "(SELECT grid_id FROM grid_assignments WHERE building_id = :b)"),
            {"b": building},
        )  # fmt: skip
