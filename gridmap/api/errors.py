"""The one place errors become HTTP answers, all in one documented shape (:class:`ErrorBody`).

Domain errors map to their status codes; FastAPI's own errors (401/403/404 from ``HTTPException``, 422 from
request validation) are given the same shape. Input that slips past validation and is refused deeper down (a
number beyond ``bigint``, a date beyond what Python or PostgreSQL can hold, a NUL character PostgreSQL cannot
store) is the client's fault as well: 422, after the request's transaction was rolled back, never a 500.

A database that cannot be reached (down, restarting, out of connections) is nobody's input: 503 with
``Retry-After``, so that clients retry (reports with their ``Idempotency-Key``: stored once however often they
retry). The pools recover by themselves: a connection found dead is dropped, and SQLAlchemy then replaces every
connection older than it.
"""

from __future__ import annotations

import http
from typing import Any

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import DataError, DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from gridmap.errors import (
    Conflict,
    DatabaseUnavailable,
    Forbidden,
    GridmapError,
    InvalidInput,
    NotFound,
    PartitionInfeasible,
    TooLarge,
    TooManyRequests,
)

STATUS: list[tuple[type[GridmapError], int]] = [
    (Forbidden, 403),
    (NotFound, 404),
    (TooManyRequests, 429),
    (Conflict, 409),
    (TooLarge, 413),
    (InvalidInput, 422),
    (PartitionInfeasible, 422),
    (DatabaseUnavailable, 503),
]
RETRY_AFTER_SECONDS = 5
DATABASE_DOWN = (
    "数据库暂时无法连接，请稍后重试（上报请带同一个 Idempotency-Key 重试，不会重复） / the database cannot be "
    "reached right now: retry in a few seconds (retry a report with the same Idempotency-Key: it is stored once)"
)
# What a database that is down, restarting or out of connections raises, in SQLAlchemy and in asyncpg (the intake).
UNREACHABLE: tuple[type[Exception], ...] = (
    OperationalError,
    InterfaceError,
    PoolTimeout,
    asyncpg.exceptions.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.TooManyConnectionsError,
    ConnectionError,
)
NUL_TEXT = "文本和参数不能含 NUL 字符 (\\u0000) / text and parameters must not contain NUL characters (\\u0000)"


class Problem(BaseModel):
    """One problem of a request that failed validation."""

    loc: list[str | int] = Field(description="where: body, query, path or header, then the field")
    msg: str
    type: str


class ErrorBody(BaseModel):
    """Every error answer: what was wrong and how to fix it (简体中文 first), its kind, and any field problems."""

    detail: str = Field(description="the message, Chinese first, then English")
    error: str = Field(description="kind of error, e.g. InvalidInput, NotFound, Unauthorized, CrossOriginRequest")
    problems: list[Problem] | None = Field(None, description="for validation errors: each field's problem")


def status_for(exc: GridmapError) -> int:
    """HTTP status of a domain error."""
    return next((code for kind, code in STATUS if isinstance(exc, kind)), 400)


def error_response(
    status: int, detail: str, error: str, problems: list[dict[str, Any]] | None = None, **kw: Any
) -> JSONResponse:
    """An error answer in the documented shape."""
    content: dict[str, Any] = {"detail": detail, "error": error}
    if problems is not None:
        content["problems"] = problems
    return JSONResponse(status_code=status, content=content, **kw)


def _problems(exc: RequestValidationError) -> list[dict[str, Any]]:
    return [
        {"loc": [p if isinstance(p, int) else str(p) for p in e.get("loc", ())], "msg": e["msg"], "type": e["type"]}
        for e in exc.errors()
    ]


def _nul(exc: BaseException) -> bool:
    return "NUL" in str(exc) or "0x00" in str(exc)


def install(app: FastAPI) -> None:
    """Register the handlers on ``app`` and document :class:`ErrorBody` as every operation's error answer."""

    async def domain(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, GridmapError)
        code = status_for(exc)
        headers = {"Retry-After": str(RETRY_AFTER_SECONDS)} if code == 503 else None
        return error_response(code, str(exc), type(exc).__name__, headers=headers)

    async def unreachable(_: Request, exc: Exception) -> JSONResponse:
        return error_response(
            503, DATABASE_DOWN, "DatabaseUnavailable", headers={"Retry-After": str(RETRY_AFTER_SECONDS)}
        )

    async def dbapi(request: Request, exc: Exception) -> JSONResponse:
        # Any other driver error is a bug (500), unless it says the connection was lost.
        assert isinstance(exc, DBAPIError)
        if exc.connection_invalidated:
            return await unreachable(request, exc)
        raise exc

    async def framework(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        known = exc.status_code in http.HTTPStatus.__members__.values()
        kind = http.HTTPStatus(exc.status_code).phrase.replace(" ", "").replace("-", "") if known else "Error"
        return error_response(exc.status_code, detail, kind, headers=exc.headers)

    async def validation(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        problems = _problems(exc)
        where = "; ".join(f"{'.'.join(map(str, p['loc']))}: {p['msg']}" for p in problems[:5])
        return error_response(422, f"输入有误 / invalid input: {where}", "InvalidInput", problems)

    async def out_of_range(_: Request, exc: Exception) -> JSONResponse:
        # sqlalchemy DataError and asyncpg's DataError are PostgreSQL's SQLSTATE class 22, "data exception".
        if _nul(exc):
            return error_response(422, NUL_TEXT, "InvalidInput")
        cause = getattr(exc, "orig", exc)
        first = str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause).__name__
        return error_response(422, f"输入的值超出范围或格式不对 / a value is out of range: {first}", "InvalidInput")

    async def value_error(request: Request, exc: Exception) -> JSONResponse:
        # psycopg2 refuses a string with NUL as a ValueError before sending it; any other ValueError is a bug.
        if isinstance(exc, OverflowError):
            return error_response(422, "日期或数值超出范围 / a date or number is out of range", "InvalidInput")
        if _nul(exc):
            return error_response(422, NUL_TEXT, "InvalidInput")
        raise exc

    app.add_exception_handler(GridmapError, domain)
    app.add_exception_handler(StarletteHTTPException, framework)
    app.add_exception_handler(RequestValidationError, validation)
    app.add_exception_handler(DataError, out_of_range)
    app.add_exception_handler(asyncpg.exceptions.DataError, out_of_range)
    app.add_exception_handler(ValueError, value_error)
    for kind in UNREACHABLE:
        app.add_exception_handler(kind, unreachable)
    app.add_exception_handler(DBAPIError, dbapi)
    app.add_exception_handler(OverflowError, value_error)
    _document(app)


def _document(app: FastAPI) -> None:
    """Make the OpenAPI document say that errors are :class:`ErrorBody` (422 included, instead of FastAPI's)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        doc = get_openapi(title=app.title, version=app.version, routes=app.routes)
        schemas = doc.setdefault("components", {}).setdefault("schemas", {})
        schemas.pop("HTTPValidationError", None)
        schemas.pop("ValidationError", None)
        body = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(body.pop("$defs", {}))
        schemas["ErrorBody"] = body
        answer = {
            "description": "错误 / error",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
        }
        for path in doc.get("paths", {}).values():
            for operation in path.values():
                responses = operation.setdefault("responses", {})
                responses.pop("422", None)
                responses.setdefault("4XX", answer)
        app.openapi_schema = doc
        return doc

    app.openapi = openapi  # type: ignore[method-assign]
