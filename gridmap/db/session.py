"""Engine and sessions, plus bringing the database up (embedded cluster, migrations)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection

from gridmap.db.cluster import LocalCluster
from gridmap.resources import MIGRATIONS
from gridmap.settings import Settings


def embedded_cluster(settings: Settings) -> LocalCluster:
    """The embedded cluster these settings describe."""
    return LocalCluster(data_dir=settings.pg_data, port=settings.db_port, pg_bin=settings.pg_bin)


IDLE_PING_SECONDS = 10.0


def make_engine(settings: Settings) -> Engine:
    """An engine for the configured database.

    A fixed pool (no overflow): a connection opened for a burst and closed after it costs the server a fork and
    cold caches, more than the burst's queries; under load requests queue for a connection instead.
    """
    engine = create_engine(settings.effective_database_url(), pool_size=settings.db_pool_size, max_overflow=0)
    ping_when_idle(engine, IDLE_PING_SECONDS)
    return engine


def ping_when_idle(engine: Engine, seconds: float) -> None:
    """Test a pooled connection before use when it sat idle longer than ``seconds``; replace it if it is dead.

    Like ``pool_pre_ping``, a database restart costs no failed request, but a busy pool is not pinged on every
    checkout (that round trip was a third of an intake's database time).
    """

    @event.listens_for(engine, "checkin")
    def _returned(dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        record.info["returned_at"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _taken(dbapi_connection: Any, record: ConnectionPoolEntry, proxy: PoolProxiedConnection) -> None:
        if time.monotonic() - record.info.get("returned_at", 0.0) <= seconds:
            return
        try:
            with dbapi_connection.cursor() as cursor:
                cursor.execute("SELECT 1")
        except engine.dialect.loaded_dbapi.Error as exc:
            raise DisconnectionError(f"pooled connection is dead: {exc}") from exc


def new_session(engine: Engine) -> Session:
    """A session on ``engine`` whose objects stay readable after commit.

    A plain ``Session``: a ``sessionmaker`` made per call would build a new Session subclass, and its event
    plumbing, every time (a tenth of a report's CPU).
    """
    return Session(bind=engine, expire_on_commit=False)


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session committed on success and rolled back on any error."""
    session = new_session(engine)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def migrate(url: str) -> None:
    """Bring the schema at ``url`` to the newest Alembic revision and add missing reference rows."""
    from alembic import command
    from alembic.config import Config

    from gridmap.requests.categories import ensure_categories

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    command.upgrade(cfg, "head")
    engine = create_engine(url)
    try:
        with session_scope(engine) as session:
            ensure_categories(session=session)
    finally:
        engine.dispose()


def bring_up(settings: Settings) -> Engine:
    """Start the embedded cluster when no URL is configured, migrate, return an engine."""
    return bring_up_started(settings)[0]


def bring_up_started(settings: Settings) -> tuple[Engine, bool]:
    """Like :func:`bring_up`; also whether this call started the embedded cluster (then it may stop it)."""
    started = False
    if not settings.database_url:
        cluster = embedded_cluster(settings)
        started = cluster.start()
        cluster.ensure_database(settings.db_name)
    migrate(settings.effective_database_url())
    return make_engine(settings), started
