"""``create_app(settings)``: the FastAPI application."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import asyncpg
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from sqlalchemy import Engine

from gridmap import __version__
from gridmap.api import errors, threads
from gridmap.api.access_log import redact_access_log
from gridmap.api.csrf import SameOriginMiddleware
from gridmap.api.deps import CurrentUser
from gridmap.api.headers import SecurityHeaders
from gridmap.api.identity import UserDirectory
from gridmap.api.inputs import RefuseNul
from gridmap.api.limits import BodyLimit
from gridmap.api.routes import (
    auth,
    buildings,
    cards,
    exports,
    fieldwork_maps,
    grids,
    kpis,
    maps,
    notifications,
    open311,
    pages,
    patrols,
    people,
    plans,
    report_pages,
    request_pages,
    requests,
    stats,
    tiles,
    visits,
    workflow,
)
from gridmap.db.session import make_engine
from gridmap.maps.assets import FOLIUM_TEMPLATES
from gridmap.notify.runner import Notifier
from gridmap.ogc.features import close_features, features_app, open_features
from gridmap.requests.fast_intake import open_pool
from gridmap.requests.link_tokens import link_key
from gridmap.resources import FRONTEND
from gridmap.settings import Settings, get_settings

HEALTH_TIMEOUT_SECONDS = 2.0


def create_app(
    settings: Settings | None = None, engine: Engine | None = None, clock: Callable[[], datetime] | None = None
) -> FastAPI:
    """Build the app; the engine lives for the app's lifespan; ``clock`` (default: now, UTC) times the workflow."""
    settings = settings or get_settings()
    redact_access_log()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own = engine is None
        app.state.engine = engine or make_engine(settings)
        app.state.users = UserDirectory(secret=settings.effective_secret_key(), ttl=settings.user_cache_seconds)
        app.state.link_key = link_key(settings.effective_secret_key())
        app.state.intake_pool = await open_pool(app.state.engine.url, settings.db_pool_size)
        app.state.notifier = Notifier(app.state.engine, settings, app.state.clock)
        await app.state.notifier.start()
        shared = {k: getattr(app.state, k) for k in ("engine", "users", "settings", "clock")}
        await open_features(ogc, app.state.engine.url, settings.db_pool_size, shared)
        app.state.tiles_pool = ogc.state.pool
        # Everything loaded so far (the libraries, the app) lives as long as the process: keep it out of the
        # collector's full passes, which otherwise pause a request now and then for tens of milliseconds.
        gc.collect()
        gc.freeze()
        yield
        await app.state.notifier.stop()
        await close_features(ogc)
        await app.state.intake_pool.close()
        if own:
            app.state.engine.dispose()

    # The Swagger/ReDoc pages load scripts from a CDN, which users here cannot reach: no docs pages;
    # the OpenAPI document itself is served to signed-in users only.
    app = FastAPI(
        title="gridmap 网格化管理",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.settings = settings
    app.state.clock = clock or (lambda: datetime.now(UTC))
    app.state.limiter = MovingWindowRateLimiter(MemoryStorage())
    threads.MAPS.total_tokens = settings.map_threads
    errors.install(app)
    app.add_middleware(SecurityHeaders, tiles=settings.tiles)
    app.add_middleware(SameOriginMiddleware, settings=settings)
    app.add_middleware(RefuseNul)
    app.add_middleware(BodyLimit, settings=settings)  # outermost: an oversize body is refused first

    @app.get("/healthz", tags=["health"], response_model=None)
    async def healthz() -> dict[str, str] | JSONResponse:
        """Liveness and database reachability: 503 with ``Retry-After`` while the database cannot be reached.

        On the event loop through the intake pool: no worker thread to wait for, however busy the maps are.
        """
        try:
            await app.state.intake_pool.fetchval("SELECT 1", timeout=HEALTH_TIMEOUT_SECONDS)
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            return errors.error_response(
                503,
                f"数据库暂时无法连接,请稍后重试 / the database cannot be reached, retry shortly: {type(exc).__name__}",
                "DatabaseUnavailable",
                headers={"Retry-After": "5"},
            )
        return {"status": "ok"}

    @app.get("/api/openapi.json", tags=["health"])
    def openapi(_: CurrentUser) -> dict[str, Any]:
        """The OpenAPI description of this API (for QGIS users and scripts)."""
        return app.openapi()

    # Routes are matched in order: the busiest (intake) first.
    routers = (
        requests, open311, auth, stats, grids, buildings, people, cards, plans, kpis, maps, pages, report_pages,
        workflow,
    )
    for module in (*routers, tiles, patrols, visits, fieldwork_maps, notifications, request_pages, exports):
        app.include_router(module.router)
    vendor = FRONTEND / "node_modules"
    if not (vendor / "leaflet").is_dir():
        raise RuntimeError(f"browser libraries are missing in {vendor}: run `make install` (npm ci in frontend/)")
    ogc = features_app()
    app.mount("/ogc", ogc, name="ogc")
    # Mounted before /static so that these prefixes win.
    app.mount("/static/vendor", StaticFiles(directory=vendor), name="vendor")
    app.mount("/static/folium", StaticFiles(directory=FOLIUM_TEMPLATES), name="folium")
    app.mount("/static", StaticFiles(directory=FRONTEND / "static"), name="static")
    return app
