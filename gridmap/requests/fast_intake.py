"""Point reports on the event loop: the intake statement on an asyncpg pool, no worker thread, no ORM session.

The common report, a point with a known category, is stored by this path in one round trip. Anything else goes
the general way, :func:`gridmap.requests.service.submit`, told why this path declined so that it does not run
the statement again for nothing: :class:`Declined` (a point outside the grids, an Idempotency-Key seen before), or
None (an address, a category not yet cached: nothing was tried). The pool's connections hold no session state
(one autocommit statement each time), so they are handed back without asyncpg's reset query, a second round trip
per report that cost as much client CPU as the report itself. Measured in ``benchmarks/requests/load.md``: the
thread hop and the ORM session were half of a report's CPU.
"""

from __future__ import annotations

from datetime import datetime

import asyncpg
from sqlalchemy.engine import URL

from gridmap.db.models import ServiceRequest
from gridmap.requests.categories import Category
from gridmap.requests.intake import POSITIONAL_SQL, Declined, intake_values, outcome, positional
from gridmap.requests.schemas import NewRequest
from gridmap.requests.service import Actor, digest_of
from gridmap.settings import RequestSettings
from gridmap.spatial.crs import to_wgs84_lonlat


async def open_pool(url: URL, size: int) -> asyncpg.Pool:
    """A pool on the database of a SQLAlchemy URL; connections are opened when first needed."""
    dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    return await asyncpg.create_pool(dsn, min_size=0, max_size=size, reset=_stateless)


async def _stateless(connection: asyncpg.Connection) -> None:
    """Nothing to reset: no SET, LISTEN, advisory lock or cursor is ever left on these connections."""


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
    rating_token: str | None = None,
) -> ServiceRequest | Declined | None:
    """Store a point report, or say why not (see the module): then use ``service.submit`` with the reason."""
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
        rating_token=rating_token,
    )
    row = await pool.fetchrow(POSITIONAL_SQL, *positional(values))
    assert row is not None  # the statement always answers one row
    return outcome(dict(row))
