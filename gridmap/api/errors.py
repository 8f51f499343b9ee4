"""The one place domain errors become HTTP status codes."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

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


def status_for(exc: GridmapError) -> int:
    """HTTP status of a domain error."""
    return next((code for kind, code in STATUS if isinstance(exc, kind)), 400)


def install(app: FastAPI) -> None:
    """Register the handler on ``app``."""

    async def handle(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, GridmapError)
        return JSONResponse(status_code=status_for(exc), content={"detail": str(exc), "error": type(exc).__name__})

    app.add_exception_handler(GridmapError, handle)
