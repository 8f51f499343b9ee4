"""A live gridmap server on the test cluster (新街口 data, simulated requests) and Debian's chromium."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, Route, sync_playwright
from sqlalchemy import create_engine, text

from gridmap.api.main import create_app
from gridmap.auth.service import create_user
from gridmap.db.cluster import LocalCluster
from gridmap.db.models import Role
from gridmap.db.session import session_scope
from gridmap.ingest.service import import_files
from gridmap.partition.service import partition_db
from gridmap.requests.simulate import simulate_requests
from gridmap.settings import Settings
from tests.conftest import NANJING_OSM, make_database, serving

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
NOW = datetime(2026, 6, 30, 4, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def server(cluster: LocalCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    url = make_database(cluster, "browser_test")
    engine = create_engine(url)
    settings = Settings(
        home=tmp_path_factory.mktemp("home"), database_url=url, secret_key="browser-test-secret-key-long-enough-x"
    )
    with session_scope(engine) as session:
        import_files(session=session, settings=settings, paths=[NANJING_OSM])
        partition_db(session=session, params=settings.partition, publish=True, code_prefix="320102003000")
        codes = list(session.scalars(text("SELECT code FROM grids ORDER BY code")).all())
        for name, role in (("leader", Role.leader), ("planner", Role.planner)):
            create_user(session=session, username=name, password="secret", role=role, weak_password=True)
        create_user(
            session=session,
            username="worker",
            password="secret",
            role=Role.grid_worker,
            grids=codes[40:42],
            weak_password=True,
        )
        simulate_requests(session, days=14, end=NOW, settings=settings.requests, per_day=30, seed=1)
    with serving(create_app(settings, engine=engine, clock=lambda: NOW)) as base:
        yield {"base": base, "engine": engine, "worker_grids": codes[40:42]}
    engine.dispose()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


class Visit:
    """A signed-in page that refuses (and records) every request to a host other than 127.0.0.1."""

    def __init__(self, browser: Browser, base: str, user: str) -> None:
        self.base, self.outside, self.errors = base, [], []  # type: ignore[var-annotated]
        self.page: Page = browser.new_page(viewport={"width": 1280, "height": 800})
        self.page.route("**/*", self._guard)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.goto(f"{base}/login")
        self.page.fill("input[name=username]", user)
        self.page.fill("input[name=password]", "secret")
        self.page.click("button[type=submit]")
        self.page.wait_for_load_state("networkidle")

    def _guard(self, route: Route) -> None:
        url = route.request.url
        if url.startswith(("http://127.0.0.1:", "data:", "about:", "blob:")):
            route.continue_()
        else:
            self.outside.append(url)
            route.abort()

    def open(self, path: str) -> Page:
        response = self.page.goto(self.base + path)
        assert response is not None and response.status == 200, (path, response and response.status)
        self.page.wait_for_load_state("networkidle")
        return self.page

    def shot(self, name: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


FEATURES_JS = """() => {
  const maps = Object.values(window).filter(v => v instanceof L.Map);
  const props = [];
  for (const m of maps) m.eachLayer(l => { if (l.feature) props.push(l.feature.properties); });
  return props;
}"""
