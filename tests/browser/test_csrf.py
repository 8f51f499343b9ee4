"""A signed-in planner lured to a page on another port of the same host: its form post is refused, stores nothing."""

from __future__ import annotations

import functools
import http.server
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser
from sqlalchemy import text

from tests.browser.conftest import Visit

pytestmark = [pytest.mark.db, pytest.mark.browser]

ATTACK = """<!doctype html><html><body>
<form method="post" action="{target}/api/plans/drafts"><input type="hidden" name="x" value="1">
<button id="win">领取奖品</button></form></body></html>"""


@pytest.fixture
def other_origin(server: dict[str, Any], tmp_path: Path) -> Iterator[str]:
    """Another web server on the same host (another port): a different origin, the same site."""
    (tmp_path / "attack.html").write_text(ATTACK.format(target=server["base"]), encoding="utf-8")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    httpd.shutdown()
    httpd.server_close()


def _plans(server: dict[str, Any]) -> int:
    with server["engine"].connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM grid_plans")).scalar_one())


def test_a_cross_origin_form_post_is_refused_and_stores_nothing(
    browser: Browser, server: dict[str, Any], other_origin: str
) -> None:
    visit = Visit(browser, server["base"], "planner")
    before = _plans(server)
    visit.page.goto(other_origin + "/attack.html")
    with visit.page.expect_navigation() as landed:
        visit.page.click("#win")
    response = landed.value
    assert response is not None and response.status == 403
    assert "跨站请求被拒绝" in visit.page.content()
    assert _plans(server) == before


def test_a_same_origin_fetch_still_works(browser: Browser, server: dict[str, Any]) -> None:
    visit = Visit(browser, server["base"], "planner")
    page = visit.open("/planner")
    status = page.evaluate(
        """() => fetch('/api/requests', {method: 'POST', headers: {'Content-Type': 'application/json'},
                                          body: '{}'}).then(r => r.status)"""
    )
    assert status == 422  # past the CSRF check: refused only for the empty report
