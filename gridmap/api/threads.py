"""Worker threads of their own for map pages and layers, so that a busy map cannot starve everything else.

Synchronous routes share one pool of 40 threads per process (anyio's default). Map pages and GeoJSON layers are
CPU-heavy (a folium page takes a second or more); 50 people opening maps took every thread and held
``/healthz`` and the general intake path up to 11 s. A map route decorated with :func:`map_threads` runs in at
most ``GRIDMAP_MAP_THREADS`` threads (the rest wait their turn) and leaves the shared pool to the others.
One by default: building a map is Python work that holds the GIL, so a second map thread in the same process
built no more maps per second and made the event loop wait for the GIL twice as long (``/healthz`` p50 36 ms with
one map thread per process, 260 ms with two, 1.7 s with four, 50 clients on the maps; ``under_maps.md``).
More maps at once: more worker processes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial, wraps
from typing import ParamSpec, TypeVar

import anyio
import anyio.to_thread

P = ParamSpec("P")
R = TypeVar("R")
MAPS = anyio.CapacityLimiter(1)  # sized by create_app from settings.map_threads


def map_threads(route: Callable[P, R]) -> Callable[P, Awaitable[R]]:
    """``route`` (a synchronous endpoint) run in the map threads; FastAPI still reads its own signature."""

    @wraps(route)
    async def limited(*args: P.args, **kwargs: P.kwargs) -> R:
        return await anyio.to_thread.run_sync(partial(route, *args, **kwargs), limiter=MAPS)

    return limited
