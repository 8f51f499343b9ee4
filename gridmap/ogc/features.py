"""OGC API - Features Part 1 (and tipg's Part 3 CQL2 filters) under ``/ogc``, served by tipg on the ``ogc`` views.

tipg answers the standard (landing page, conformance, collections, items with ``bbox``, ``limit``/``offset`` and
``next`` links, ``numberMatched``/``numberReturned``, ``datetime``, property filters, CRS84 GeoJSON); gridmap adds
what tipg does not know: who is calling. Every route needs a signed-in user (bearer token or the pages' cookie);
the user's scope from ``gridmap.policy`` is set on the database connection, and the views show only that scope.
Collections are named without tipg's schema prefix (``grids``, not ``ogc.grids``).
"""

from __future__ import annotations

from typing import Annotated, Any

import asyncpg
from fastapi import Depends, FastAPI, HTTPException, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from sqlalchemy import URL
from tipg import errors as tipg_errors
from tipg import model
from tipg.collections import Catalog, Collection, register_collection_catalog
from tipg.database import connection_factory
from tipg.dependencies import bbox_query, datetime_query
from tipg.factory import OGCFeaturesFactory
from tipg.resources.enums import MediaType
from tipg.settings import DatabaseSettings

from gridmap import policy
from gridmap.api import errors
from gridmap.api.deps import Transactions, get_current_user, oauth2
from gridmap.db.models import User
from gridmap.ogc.json_only import JsonOnly
from gridmap.ogc.params import strict_bbox, strict_datetime
from gridmap.ogc.scope import CURRENT, EVERYTHING, ScopedPool, scope_json

SCHEMA = "ogc"
DATETIME = {"requests": "created_at"}  # the column ``datetime`` filters on: when a request was reported
TITLE = "gridmap 网格化管理 · OGC API - Features"
# tipg's own errors, as 4xx answers in gridmap's ErrorBody shape.
CLIENT_ERRORS: dict[type[Exception], int] = {
    tipg_errors.NotFound: 404,
    tipg_errors.InvalidBBox: 422,
    tipg_errors.InvalidDatetime: 422,
    tipg_errors.InvalidLimit: 422,
    tipg_errors.InvalidPropertyName: 422,
    tipg_errors.InvalidGeometryColumnName: 422,
    tipg_errors.InvalidDatetimeColumnName: 422,
    tipg_errors.NoPrimaryKey: 422,
    tipg_errors.MissingFunctionParameter: 422,
}


async def scoped_user(
    request: Request, transactions: Transactions, bearer: Annotated[str | None, Depends(oauth2)]
) -> User:
    """The signed-in user; its scope goes with this request's database connections (async: same context)."""
    user = await get_current_user(request, transactions, bearer)

    def read() -> policy.Scope:
        with transactions() as session:
            return policy.user_scope(session, user)

    CURRENT.set(scope_json(await run_in_threadpool(read)))
    return user


def collection_by_name(request: Request, collectionId: Annotated[str, Path()]) -> Collection:  # noqa: N803 (tipg's name)
    """A collection of the catalog by its plain name."""
    catalog: Catalog = request.app.state.collection_catalog
    found = catalog["collections"].get(collectionId)
    if found is None:
        names = ", ".join(sorted(catalog["collections"]))
        raise HTTPException(status_code=404, detail=f"没有这个图层 / no collection {collectionId!r}; there are {names}")
    return found


class Features(OGCFeaturesFactory):
    """tipg's endpoints with a landing page whose ``service-desc`` is this service's own OpenAPI document."""

    @property
    def conforms_to(self) -> list[str]:
        """The conformance classes of tipg less HTML (``JsonOnly``)."""
        classes: list[str] = super().conforms_to
        return [c for c in classes if not c.endswith("/html")]

    def _landing_route(self) -> None:
        @self.router.get("/api", name="openapi", include_in_schema=False)
        def openapi(request: Request) -> dict[str, Any]:
            """The OpenAPI document of this service."""
            described: dict[str, Any] = request.app.openapi()
            return described

        @self.router.get("/", name="landing", response_model=model.Landing, response_model_exclude_none=True)
        def landing(request: Request) -> model.Landing:
            """The landing page: the API definition, the conformance classes and the collections."""
            own = [
                model.Link(
                    title="Landing Page", href=self.url_for(request, "landing"), type=MediaType.json, rel="self"
                ),
                model.Link(
                    title="the API definition (JSON)",
                    href=self.url_for(request, "openapi"),
                    type=MediaType.openapi30_json,
                    rel="service-desc",
                ),
                model.Link(
                    title="Conformance",
                    href=self.url_for(request, "conformance"),
                    type=MediaType.json,
                    rel="conformance",
                ),
            ]
            return model.Landing(title=self.title, links=[*own, *self.links(request)])


def _tipg_error(status: int) -> Any:
    async def handler(_: Request, exc: Exception) -> JSONResponse:
        return errors.error_response(status, f"查询参数有误 / {exc}", "InvalidInput" if status == 422 else "NotFound")

    return handler


def features_app() -> FastAPI:
    """The sub-application mounted at ``/ogc``; :func:`open_features` connects it in the app's lifespan."""
    app = FastAPI(title=TITLE, openapi_url=None, docs_url=None, redoc_url=None, dependencies=[Depends(scoped_user)])
    errors.install(app)
    app.add_middleware(JsonOnly)
    for kind, status in CLIENT_ERRORS.items():
        app.add_exception_handler(kind, _tipg_error(status))
    app.dependency_overrides[bbox_query] = strict_bbox
    app.dependency_overrides[datetime_query] = strict_datetime
    endpoints = Features(title=TITLE, router_prefix="/ogc", collection_dependency=collection_by_name)
    app.include_router(endpoints.router)
    return app


async def open_features(app: FastAPI, url: URL, size: int, shared: dict[str, Any]) -> None:
    """Open the scoped pool and read the catalog of the ``ogc`` views; ``shared``: the main app's state."""
    for key, value in shared.items():
        setattr(app.state, key, value)
    dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    init = connection_factory([SCHEMA], "pg_temp")
    app.state.pool = ScopedPool(await asyncpg.create_pool(dsn, min_size=0, max_size=size, init=init))
    token = CURRENT.set(scope_json(EVERYTHING))  # the extents in the catalog cover the whole published plan
    try:
        await register_collection_catalog(app, db_settings=DatabaseSettings(schemas=[SCHEMA]))
    finally:
        CURRENT.reset(token)
    catalog: Catalog = app.state.collection_catalog
    named = {}
    for collection in catalog["collections"].values():
        collection.id = collection.table
        if collection.table in DATETIME:  # tipg takes the first timestamp column by name otherwise
            collection.datetime_column = collection.get_column(DATETIME[collection.table])
        named[collection.table] = collection
    catalog["collections"] = named


async def close_features(app: FastAPI) -> None:
    """Close the pool."""
    await app.state.pool.close()
