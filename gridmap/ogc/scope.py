"""The caller's scope (``gridmap.policy``) handed to PostgreSQL: the ``ogc`` views filter rows by it.

Each request sets the JSON of its scope as ``gridmap.scope`` on the connection it is given (migration 0013);
the views read it with ``current_setting``. A connection without the setting sees nothing.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar

import asyncpg
from asyncpg import Record
from asyncpg.pool import PoolConnectionProxy

from gridmap.policy import Scope

CURRENT: ContextVar[str] = ContextVar("gridmap_ogc_scope", default="")
EVERYTHING = Scope(everything=True)


def scope_json(scope: Scope) -> str:
    """The setting for ``scope``: ``all``, the grid codes, the 社区/街道 code prefix, the department."""
    return json.dumps(
        {"all": scope.everything, "grids": sorted(scope.grids), "prefix": scope.prefix, "department": scope.department}
    )


class ScopedPool:
    """An asyncpg pool whose connections carry the scope of the request that acquires them (tipg's ``pool``)."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[PoolConnectionProxy[Record]]:
        """A connection with ``gridmap.scope`` set for this request, cleared again when it goes back."""
        async with self.pool.acquire() as conn:
            await conn.execute("SELECT set_config('gridmap.scope', $1, false)", CURRENT.get())
            try:
                yield conn
            finally:
                await conn.execute("SELECT set_config('gridmap.scope', '', false)")

    async def close(self) -> None:
        """Close the pool."""
        await self.pool.close()
