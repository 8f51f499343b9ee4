"""Who is calling: the user and session named by a bearer token or cookie, kept for a short while in memory.

Reading the user once per request would cost every call a database round trip and a worker thread, and checking
the token's signature a tenth of a report's time. Verified tokens, users (as detached rows) and session states
are cached for ``user_cache_seconds`` (default 30 s).

Every token names a session (its ``jti``, a row of ``auth_sessions``). Logout revokes the session: in the process
that served the logout at once (its cache entry is dropped), in other server processes within the cache time, when
they read the session again. A disabled account or a changed role takes effect within that time as well. A
session unused for ``idle_minutes`` ends; its last use is written at most once a minute per process. A token is
never accepted after it expires.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import replace
from datetime import UTC, datetime

from cachetools import TTLCache
from sqlalchemy import select
from sqlalchemy.orm import Session

from gridmap.auth.security import TokenClaims, read_token
from gridmap.auth.signin import SessionState, read_session, touch_session
from gridmap.db.models import User

TOUCH_SECONDS = 60.0  # how stale a session's last use may be written: the idle timeout is minutes


class UserDirectory:
    """Users by name and sessions by id, read from the database at most once per ``ttl`` seconds each."""

    def __init__(self, *, secret: str, ttl: float, maxsize: int = 10_000) -> None:
        self._secret = secret
        size = maxsize if ttl > 0 else 1  # ttl 0: nothing is kept
        self._cache: TTLCache[str, User] = TTLCache(maxsize=size, ttl=ttl)
        self._tokens: TTLCache[str, TokenClaims] = TTLCache(maxsize=size, ttl=ttl)
        self._sessions: TTLCache[str, SessionState] = TTLCache(maxsize=size, ttl=ttl)
        self._lock = threading.Lock()

    def claims(self, token: str, now: float) -> TokenClaims | None:
        """The claims of a valid, unexpired token (signature checked at most once per TTL)."""
        with self._lock:
            known = self._tokens.get(token)
        if known is None:
            known = read_token(token, self._secret)
            if known is None:
                return None
            with self._lock:
                self._tokens[token] = known
        return known if now < known.expires else None

    def cached(self, username: str) -> User | None:
        """The cached user, if read within the TTL (no I/O: safe on the event loop)."""
        with self._lock:
            return self._cache.get(username)

    def cached_session(self, session_id: str) -> SessionState | None:
        """The cached state of a session, if read within the TTL (no I/O)."""
        with self._lock:
            return self._sessions.get(session_id)

    def fresh(self, state: SessionState, now: float) -> bool:
        """Whether the session's last use is recent enough not to be written again."""
        return now - state.last_seen < TOUCH_SECONDS

    def load(self, username: str, transactions: Callable[[], AbstractContextManager[Session]]) -> User | None:
        """Read a user from the database (blocking: call from a worker thread) and cache it."""
        with transactions() as session:
            user = session.scalar(select(User).where(User.username == username))
        if user is not None:
            with self._lock:
                self._cache[username] = user
        return user

    def refresh(
        self,
        claims: TokenClaims,
        transactions: Callable[[], AbstractContextManager[Session]],
        *,
        now: float,
        idle_seconds: float,
    ) -> tuple[User | None, SessionState | None]:
        """Read the user and session (blocking), record the use of an open session, and cache both."""
        with transactions() as session:
            user = session.scalar(select(User).where(User.username == claims.subject))
            state = read_session(session=session, session_id=claims.session_id)
            usable = state is not None and not state.revoked and now - state.last_seen <= idle_seconds
            if state is not None and usable and not self.fresh(state, now):
                touch_session(session=session, session_id=claims.session_id, now=datetime.fromtimestamp(now, UTC))
                state = replace(state, last_seen=now)
        with self._lock:
            if user is not None:
                self._cache[claims.subject] = user
            if state is not None:
                self._sessions[claims.session_id] = state
        return user, state

    def forget_session(self, session_id: str) -> None:
        """Drop a session from the cache (after logout): it is read again, revoked, on its next use."""
        with self._lock:
            self._sessions.pop(session_id, None)
