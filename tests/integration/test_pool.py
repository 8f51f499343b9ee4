"""The pool replaces a connection that died while idle (what a database restart does) without a failed query."""

import pytest
from sqlalchemy import create_engine, text

from gridmap.db.session import ping_when_idle

pytestmark = pytest.mark.db


def test_dead_idle_connection_is_replaced(db_url: str) -> None:
    engine = create_engine(db_url, pool_size=1, max_overflow=0)
    ping_when_idle(engine, 0.0)
    try:
        with engine.connect() as conn:
            pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        with create_engine(db_url).connect() as admin:  # the server drops the pooled connection
            assert admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar_one()
        with engine.connect() as conn:  # no OperationalError: the dead connection was tested and replaced
            assert conn.execute(text("SELECT pg_backend_pid()")).scalar_one() != pid
    finally:
        engine.dispose()


def test_busy_connection_is_not_pinged(db_url: str) -> None:
    engine = create_engine(db_url, pool_size=1, max_overflow=0)
    ping_when_idle(engine, 3600.0)
    try:
        with engine.connect() as conn:
            pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        with create_engine(db_url).connect() as admin:
            admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        with pytest.raises(Exception, match="terminat|closed|server"), engine.connect() as conn:
            conn.execute(text("SELECT 1"))  # returned moments ago: used without a ping, so the loss shows here
    finally:
        engine.dispose()
