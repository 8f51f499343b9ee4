"""Engine and sessions, plus bringing the database up (embedded cluster, migrations)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import Session, sessionmaker

from gridmap.db.cluster import LocalCluster
from gridmap.settings import Settings

MIGRATIONS = Path(__file__).parent / "migrations"


def embedded_cluster(settings: Settings) -> LocalCluster:
    """The embedded cluster these settings describe."""
    return LocalCluster(data_dir=settings.pg_data, port=settings.db_port, pg_bin=settings.pg_bin)


def make_engine(settings: Settings) -> Engine:
    """An engine for the configured database.

    A fixed pool (no overflow): a connection opened for a burst and closed after it costs the server a fork and
    cold caches, more than the burst's queries; under load requests queue for a connection instead.
    """
    return create_engine(
        settings.effective_database_url(), pool_pre_ping=True, pool_size=settings.db_pool_size, max_overflow=0
    )


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """Session factory bound to ``engine``."""
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session committed on success and rolled back on any error."""
    session = make_sessionmaker(engine)()
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
    from sqlalchemy import create_engine

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
    if not settings.database_url:
        cluster = embedded_cluster(settings)
        cluster.start()
        cluster.ensure_database(settings.db_name)
    migrate(settings.effective_database_url())
    return make_engine(settings)
