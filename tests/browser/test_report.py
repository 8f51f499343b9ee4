"""Reporting (上报) on a phone in chromium: tiles, map taps, photos, the offline outbox, the resident's link."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pytest
from PIL import Image
from playwright.sync_api import Browser, BrowserContext, Page
from sqlalchemy import text

from tests.browser.conftest import ARTIFACTS

pytestmark = [pytest.mark.db, pytest.mark.browser]
PHONE = {"width": 390, "height": 844}


class Phone:
    """A phone-sized touch browser context; records every request to a host other than 127.0.0.1."""

    def __init__(self, browser: Browser, base: str, user: str | None, **options: Any) -> None:
        self.base, self.outside, self.errors = base, [], []  # type: ignore[var-annotated]
        self.context: BrowserContext = browser.new_context(
            viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2, locale="zh-CN", **options
        )
        self.context.on("request", self._record)
        self.page: Page = self.context.new_page()
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        if user:
            self.page.goto(f"{base}/login")
            self.page.fill("input[name=username]", user)
            self.page.fill("input[name=password]", "secret")
            self.page.click("button[type=submit]")
            self.page.wait_for_load_state("networkidle")

    def _record(self, request: Any) -> None:
        if not request.url.startswith(("http://127.0.0.1:", "data:", "about:", "blob:")):
            self.outside.append(request.url)

    def open(self, path: str) -> Page:
        response = self.page.goto(self.base + path)
        assert response is not None and response.status == 200, (path, response and response.status)
        self.page.wait_for_function("() => document.querySelectorAll('#tiles .tile').length > 5")
        self.page.wait_for_function("() => typeof map !== 'undefined' && state.gridNames.size > 0")
        return self.page

    def tap_point(self, lon: float, lat: float) -> None:
        """Scroll the map to the middle of the screen, centre it on the point, then tap it as a finger would."""
        self.page.evaluate("() => document.getElementById('map').scrollIntoView({block: 'center'})")
        self.page.evaluate(f"() => map.setView([{lat}, {lon}], 18, {{animate: false}})")
        self.page.wait_for_timeout(300)
        box = self.page.locator("#map").bounding_box()
        assert box is not None
        x, y = self.page.evaluate(
            f"() => {{ const p = map.latLngToContainerPoint([{lat}, {lon}]); return [p.x, p.y]; }}"
        )
        self.page.touchscreen.tap(box["x"] + x, box["y"] + y)

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def phone(browser: Browser, server: dict[str, Any]) -> Iterator[Phone]:
    device = Phone(browser, server["base"], "worker")
    yield device
    device.close()


def _png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (30, 120, 200)).save(out, format="PNG")
    return out.getvalue()


def _free_point(server: dict[str, Any], code: str, category: str) -> tuple[float, float]:
    """A point well inside grid ``code`` with no open report of ``category`` within 60 m (no duplicate merge)."""
    with server["engine"].connect() as conn:
        row = conn.execute(
            text(
                "SELECT ST_X(p), ST_Y(p) FROM (SELECT (ST_Dump(ST_GeneratePoints(ST_Buffer(g.geom, -0.0001), 300, 7)))"
                ".geom AS p FROM grids g JOIN grid_plans gp ON gp.id = g.plan_id AND gp.status = 'published' "
                "WHERE g.code = :code) s WHERE NOT EXISTS (SELECT 1 FROM requests r WHERE r.category = :cat "
                "AND r.status NOT IN ('closed', 'merged') AND ST_DWithin(r.geom::geography, s.p::geography, 60)) "
                "LIMIT 1"
            ),
            {"code": code, "cat": category},
        ).one()
    return float(row[0]), float(row[1])


def _rows(server: dict[str, Any], description: str) -> list[Any]:
    with server["engine"].connect() as conn:
        return list(
            conn.execute(
                text(
                    "SELECT id, grid_code, status, photos, idempotency_key, channel, rating, rating_comment "
                    "FROM requests WHERE description = :d"
                ),
                {"d": description},
            )
        )


def test_worker_reports_with_a_photo_by_tiles_and_map(phone: Phone, server: dict[str, Any]) -> None:
    code = server["worker_grids"][0]
    lon, lat = _free_point(server, code, "facade_falling")
    page = phone.open("/report")
    page.locator(".tile[data-code=facade_falling]").tap()
    assert page.locator(".tile[aria-checked=true]").inner_text() == "外墙脱落"
    phone.tap_point(lon, lat)
    page.wait_for_function("() => document.querySelector('#place').textContent.includes('属于')")
    assert code in page.locator("#place").inner_text()  # no NBS names in this database: the code is the name
    page.fill("#description", "三号楼外墙瓷砖脱落 browser-photo")
    page.set_input_files("#photos", files=[{"name": "wall.png", "mimeType": "image/png", "buffer": _png(2400, 1200)}])
    page.wait_for_selector("#thumbs .thumb img")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.evaluate("() => window.scrollTo(0, 0)")
    page.screenshot(path=str(ARTIFACTS / "report-phone.png"))
    page.evaluate("() => document.getElementById('thumbs').scrollIntoView({block: 'center'})")
    page.screenshot(path=str(ARTIFACTS / "report-phone-photos.png"))
    page.locator("#submit").tap()
    page.wait_for_selector("#answer.ok .grid-answer")
    assert page.locator("#answer .grid-answer").inner_text() == code
    assert "照片 1/1 张已上传" in page.locator("#answer").inner_text()
    rows = _rows(server, "三号楼外墙瓷砖脱落 browser-photo")
    assert len(rows) == 1
    rid, grid, status, photos, key, channel = rows[0][:6]
    assert (grid, status, channel, len(photos)) == (code, "reported", "staff", 1) and key
    assert page.locator("#answer a").get_attribute("href") == f"/requests/{rid}"
    stored = page.request.get(server["base"] + photos[0])
    assert stored.ok and photos[0].endswith(".jpg")  # compressed to JPEG in the browser
    assert Image.open(io.BytesIO(stored.body())).size == (1600, 800)  # long side at most 1600 px
    phone.page.screenshot(path=str(ARTIFACTS / "report-phone-answer.png"))
    assert phone.outside == [] and phone.errors == []


def test_offline_report_waits_then_is_stored_exactly_once(phone: Phone, server: dict[str, Any]) -> None:
    code = server["worker_grids"][1]
    lon, lat = _free_point(server, code, "pets")
    page = phone.open("/report")
    page.wait_for_function("() => navigator.serviceWorker.controller !== null")
    page.wait_for_function("async () => !!(await caches.match('/report')) && !!(await caches.match('/api/categories'))")
    phone.context.set_offline(True)
    page.reload()  # the page itself comes from the service worker
    page.wait_for_function("() => document.querySelectorAll('#tiles .tile').length > 5")
    assert page.locator("#net").inner_text() == "离线"
    page.locator(".tile[data-code=pets]").tap()
    phone.tap_point(lon, lat)
    page.fill("#description", "小区里有狗不拴绳 offline")
    page.set_input_files("#photos", files=[{"name": "dog.png", "mimeType": "image/png", "buffer": _png(300, 200)}])
    page.wait_for_selector("#thumbs .thumb img")
    page.locator("#submit").tap()
    page.wait_for_selector("#answer.warn")
    assert "待同步" in page.locator("#answer").inner_text()
    assert page.locator("#outbox li .state").all_inner_texts() == ["待同步"]
    assert _rows(server, "小区里有狗不拴绳 offline") == []
    phone.context.set_offline(False)
    page.wait_for_selector("#answer.ok .grid-answer", timeout=15000)
    page.wait_for_function("() => document.querySelectorAll('#outbox li').length === 0")
    page.evaluate("() => syncAll()")  # a second sync finds nothing left to send
    rows = _rows(server, "小区里有狗不拴绳 offline")
    assert len(rows) == 1 and rows[0][1] == code and len(rows[0][3]) == 1 and rows[0][4]
    assert phone.outside == [] and phone.errors == []


def test_resident_reports_tracks_and_rates(browser: Browser, server: dict[str, Any]) -> None:
    resident = Phone(browser, server["base"], None)
    code = server["worker_grids"][0]
    lon, lat = _free_point(server, code, "noise")
    page = resident.open("/public/report")
    page.locator(".tile[data-code=noise]").tap()
    resident.tap_point(lon, lat)
    page.wait_for_function("() => document.querySelector('#place').textContent.includes('属于')")
    page.fill("#description", "楼下深夜施工 resident")
    page.locator("#contact-box summary").tap()
    page.fill("#reporter-phone", "13712345678")
    page.locator("#submit").tap()
    page.wait_for_selector("#answer.ok a")
    (rid, _, status, _, _, channel, _, _) = _rows(server, "楼下深夜施工 resident")[0]
    assert (status, channel) == ("reported", "open311")
    page.locator("#answer a").tap()
    page.wait_for_function("() => document.querySelector('#status').textContent.length > 0")
    assert page.url.startswith(f"{server['base']}/public/requests/{rid}#token=")  # the server never sees it
    assert page.locator("#status").inner_text() == "已上报,等待网格员处理"
    assert page.locator("#trail li").count() == 1 and "居民 · 上报" in page.locator("#trail").inner_text()
    assert "13712345678" not in page.content() and page.locator("#rate-box").is_hidden()
    with server["engine"].begin() as conn:
        conn.execute(text("UPDATE requests SET status = 'verified' WHERE id = :id"), {"id": rid})
    page.reload()
    page.wait_for_selector("#rate-box:not([hidden])")
    page.locator("#stars button[data-stars='4']").tap()
    page.fill("#comment", "处理及时")
    page.locator("#send-rating").tap()
    page.wait_for_function("() => document.querySelector('#status').dataset.status === 'closed'")
    assert page.locator("#status").inner_text() == "已结案"
    assert page.locator("#rated").inner_text() == "★★★★☆ · 处理及时"
    assert _rows(server, "楼下深夜施工 resident")[0][6:] == (4, "处理及时")
    resident.page.screenshot(path=str(ARTIFACTS / "public-track-phone.png"))
    assert resident.outside == [] and resident.errors == []
    resident.close()


def test_answer_says_why_not_duplicate_and_outside_coverage(phone: Phone, server: dict[str, Any]) -> None:
    code = server["worker_grids"][1]
    lon, lat = _free_point(server, code, "garbage")
    page = phone.open("/report")
    for n in (1, 2):
        page.locator(".tile[data-code=garbage]").tap()
        phone.tap_point(lon, lat)
        page.fill("#description", f"垃圾堆在路口 dup-{n}")
        page.locator("#submit").tap()
        page.wait_for_selector("#answer.ok" if n == 1 else "#answer.warn")
    first, second = (_rows(server, f"垃圾堆在路口 dup-{n}")[0] for n in (1, 2))
    assert second[2] == "merged" and "重复上报" in page.locator("#answer").inner_text()
    assert page.locator("#answer a").get_attribute("href") == f"/requests/{first[0]}"
    with server["engine"].connect() as conn:
        east, north = conn.execute(
            text("SELECT ST_XMax(ST_Extent(geom)) + 0.01, ST_YMax(ST_Extent(geom)) - 0.001 FROM grids")
        ).one()
    page.locator(".tile[data-code=garbage]").tap()
    phone.tap_point(float(east), float(north))
    page.wait_for_function("() => document.querySelector('#place').className.includes('bad')")
    assert "不在网格覆盖范围内" in page.locator("#place").inner_text()
    page.fill("#description", "垃圾堆在路口 outside")
    page.locator("#submit").tap()
    page.wait_for_function("() => document.querySelector('#answer').textContent.includes('距此')")
    answer = page.locator("#answer").inner_text()
    assert "不在网格覆盖范围内:最近的网格 3201020030000" in answer and " 米" in answer
    assert _rows(server, "垃圾堆在路口 outside") == []
    assert page.locator(".tile[aria-checked=true]").count() == 1  # a refused report keeps what was entered
    assert phone.errors == []


def test_location_from_the_device_and_from_the_address_box(browser: Browser, server: dict[str, Any]) -> None:
    lon, lat = _free_point(server, server["worker_grids"][0], "noise")
    phone = Phone(
        browser,
        server["base"],
        "worker",
        geolocation={"longitude": lon, "latitude": lat, "accuracy": 23},
        permissions=["geolocation"],
    )
    page = phone.open("/report")
    page.locator("#locate").tap()
    page.wait_for_function("() => document.querySelector('#place').textContent.includes('属于')")
    assert "手机定位,精度约 ±23 米" in page.locator("#place").inner_text()
    assert page.evaluate("() => [state.point.lon, state.point.lat]") == [round(lon, 7), round(lat, 7)]
    with server["engine"].connect() as conn:
        name, x, y = conn.execute(
            text(
                "SELECT name, ST_X(ST_PointOnSurface(geom)), ST_Y(ST_PointOnSurface(geom)) FROM compounds "
                "WHERE name IS NOT NULL ORDER BY length(name) DESC LIMIT 1"
            )
        ).one()
    page.locator("#address").fill(name[:3])
    page.wait_for_selector("#suggestions li")
    choice = page.locator("#suggestions li", has_text=name).first
    assert choice.locator(".kind").inner_text() == "小区"
    choice.tap()
    assert page.input_value("#address") == name and page.locator("#suggestions").is_hidden()
    page.wait_for_function("() => document.querySelector('#place').textContent.startsWith('地址')")
    point = page.evaluate("() => [state.point.lon, state.point.lat]")
    assert abs(point[0] - x) < 0.01 and abs(point[1] - y) < 0.01  # a point inside the 小区
    assert phone.outside == [] and phone.errors == []
    phone.close()


def test_a_lost_answer_is_retried_with_the_same_key_and_stored_once(browser: Browser, server: dict[str, Any]) -> None:
    # No service worker here, so that the test's network hook sees the page's own requests.
    phone = Phone(browser, server["base"], "worker", service_workers="block")
    code = server["worker_grids"][0]
    lon, lat = _free_point(server, code, "stairwell_clutter")
    keys: list[str] = []
    statuses: list[int] = []

    def lose_the_first_answer(route: Any) -> None:
        if route.request.method != "POST":
            route.continue_()
            return
        keys.append(route.request.headers["idempotency-key"])
        answer = route.fetch()  # the server stores the report ...
        statuses.append(answer.status)
        if len(keys) == 1:
            route.abort("connectionreset")  # ... and the answer never reaches the phone
        else:
            route.fulfill(response=answer)

    phone.page.route("**/api/requests", lose_the_first_answer)
    page = phone.open("/report")
    page.locator(".tile[data-code=stairwell_clutter]").tap()
    phone.tap_point(lon, lat)
    page.fill("#description", "楼道堆满纸箱 lost-answer")
    page.locator("#submit").tap()
    page.wait_for_selector("#answer.warn")
    assert page.locator("#outbox li .state").all_inner_texts() == ["待同步"]
    assert len(_rows(server, "楼道堆满纸箱 lost-answer")) == 1  # stored, though the phone does not know yet
    page.locator("#sync").tap()
    page.wait_for_selector("#answer.ok .grid-answer")
    assert keys[0] == keys[1] and statuses == [201, 200]  # the retry is answered with the first result
    rows = _rows(server, "楼道堆满纸箱 lost-answer")
    assert len(rows) == 1 and rows[0][4] == keys[0]
    assert page.locator("#outbox li").count() == 0
    phone.close()


def test_report_form_in_english(phone: Phone, server: dict[str, Any]) -> None:
    phone.page.evaluate("() => localStorage.setItem('gridmap.lang', 'en')")
    page = phone.open("/report")
    assert page.locator(".gm-title").inner_text() == "Report a problem"
    assert page.locator(".tile[data-code=garbage]").inner_text() == "Garbage piles"
    assert page.get_attribute("#address", "placeholder") == "or type a compound, building or address"
    page.locator("#submit").tap()
    assert page.locator("#answer").inner_text() == "Choose a category first"
    assert page.locator("#gm-lang").inner_text() == "简体中文"
