"""Point reports on the event loop: the intake statement on an asyncpg pool, no worker thread, no ORM session.

The common report, a point with a known category, is stored by this path in one round trip. Anything else (an
address, a point outside the grids, an Idempotency-Key seen before, a category not yet cached) gets None here and
goes the general way, :func:`gridmap.requests.service.submit`, which runs the same statement and answers all of
them. Measured in ``benchmarks/requests/load.md``: the thread hop and the ORM session were half of a report's CPU.
"""

from __future__ import annotations

from datetime import datetime

import asyncpg
from sqlalchemy.engine import URL

from gridmap.db.models import ServiceRequest
from gridmap.requests.categories import Category
from gridmap.requests.intake import POSITIONAL_SQL, from_row, intake_values, positional
from gridmap.requests.schemas import NewRequest
from gridmap.requests.service import Actor, digest_of
from gridmap.settings import RequestSettings
from gridmap.spatial.crs import to_wgs84_lonlat


async def open_pool(url: URL, size: int) -> asyncpg.Pool:
    """A pool on the database of a SQLAlchemy URL; connections are opened when first needed."""
    dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    return await asyncpg.create_pool(dsn, min_size=0, max_size=size)


async def submit_point(
    pool: asyncpg.Pool,
    data: NewRequest,
    cat: Category,
    *,
    actor: Actor,
    channel: str,
    now: datetime,
    settings: RequestSettings,
    idempotency_key: str | None,
) -> ServiceRequest | None:
    """Store a point report; None when this path cannot (see the module): then use ``service.submit``."""
    if data.lon is None or data.lat is None or not cat.active:
        return None
    lon, lat = to_wgs84_lonlat(data.lon, data.lat, data.coord_sys)
    values = intake_values(
        data,
        cat,
        lon=lon,
        lat=lat,
        actor=(actor.user_id, actor.name, actor.role),
        channel=channel,
        now=now,
        settings=settings,
        key=idempotency_key,
        digest=digest_of(data),
    )
    row = await pool.fetchrow(POSITIONAL_SQL, *positional(values))
    return from_row(dict(row)) if row is not None else None
