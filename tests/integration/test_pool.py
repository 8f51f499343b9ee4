"""The pool replaces a connection that died while idle (what a database restart does) without a failed query."""

import pytest
from sqlalchemy import Engine, create_engine, text

from gridmap.db.session import ping_when_idle

pytestmark = pytest.mark.db


def _pool_with_a_dead_connection(db_url: str, ping_after: float) -> tuple[Engine, int]:
    """A one-connection pool whose connection the server has just dropped, and that connection's backend pid."""
    engine = create_engine(db_url, pool_size=1, max_overflow=0)
    ping_when_idle(engine, ping_after)
    with engine.connect() as conn:
        pid = int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())
    admin = create_engine(db_url)
    with admin.connect() as conn:
        assert conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar_one()
    admin.dispose()
    return engine, pid


def test_dead_idle_connection_is_replaced(db_url: str) -> None:
    engine, pid = _pool_with_a_dead_connection(db_url, 0.0)
    try:
        with engine.connect() as conn:  # no OperationalError: the dead connection was tested and replaced
            assert conn.execute(text("SELECT pg_backend_pid()")).scalar_one() != pid
    finally:
        engine.dispose()


def test_busy_connection_is_not_pinged(db_url: str) -> None:
    engine, _ = _pool_with_a_dead_connection(db_url, 3600.0)
    try:
        with pytest.raises(Exception, match="terminat|closed|server"), engine.connect() as conn:
            conn.execute(text("SELECT 1"))  # returned moments ago: used without a ping, so the loss shows here
    finally:
        engine.dispose()
