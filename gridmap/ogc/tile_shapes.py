"""The published plan's tile shapes (``tile_shapes``, migration 0016), made once per plan version.

The first tile (or TileJSON) asked for after a publish makes them: grids, streets, compounds and boundaries in
EPSG:3857, simplified per zoom band, in one transaction under an advisory lock, so concurrent first tiles wait
for one build instead of making several; tiles asked for meanwhile read the previous version's shapes.
"""

from __future__ import annotations

import time

from asyncpg import Record
from asyncpg.pool import PoolConnectionProxy

from gridmap.ogc.tile_queries import BUILD_LOCK, BUILD_SHAPES, BUILT, BUILT_VERSION


async def ensure_shapes(conn: PoolConnectionProxy[Record], plan_id: int, version: int) -> float:
    """Make the tile shapes of ``plan_id`` at ``version`` unless they are there; returns the seconds it took."""
    started = time.perf_counter()
    async with conn.transaction():
        await conn.execute(BUILD_LOCK)
        if await conn.fetchval(BUILT_VERSION, plan_id) == version:
            return 0.0
        for statement in BUILD_SHAPES:
            await (conn.execute(statement, plan_id) if "$1" in statement else conn.execute(statement))
        seconds = time.perf_counter() - started
        await conn.execute(BUILT, plan_id, version, seconds)
        await conn.execute("ANALYZE public.tile_shapes")
    return seconds
