"""Who is calling: the user named by a bearer token or cookie, kept for a short while in process memory.

Reading the user once per request would cost every call a database round trip and a worker thread, and checking
the token's signature a tenth of a report's time. Verified tokens and users are cached for ``user_cache_seconds``
(default 30 s), users as detached rows: a disabled account or a changed role takes effect within that time; a
token is never accepted after it expires. Routes only read these rows.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager

from cachetools import TTLCache
from sqlalchemy import select
from sqlalchemy.orm import Session

from gridmap.auth.security import read_token
from gridmap.db.models import User


class UserDirectory:
    """Users by name, read from the database at most once per ``ttl`` seconds each."""

    def __init__(self, *, secret: str, ttl: float, maxsize: int = 10_000) -> None:
        self._secret = secret
        size = maxsize if ttl > 0 else 1  # ttl 0: nothing is kept
        self._cache: TTLCache[str, User] = TTLCache(maxsize=size, ttl=ttl)
        self._tokens: TTLCache[str, tuple[str, float]] = TTLCache(maxsize=size, ttl=ttl)
        self._lock = threading.Lock()

    def username(self, token: str) -> str | None:
        """The subject of a valid, unexpired token (signature checked at most once per TTL)."""
        with self._lock:
            known = self._tokens.get(token)
        if known is None:
            known = read_token(token, self._secret)
            if known is None:
                return None
            with self._lock:
                self._tokens[token] = known
        name, expires = known
        return name if time.time() < expires else None

    def cached(self, username: str) -> User | None:
        """The cached user, if read within the TTL (no I/O: safe on the event loop)."""
        with self._lock:
            return self._cache.get(username)

    def load(self, username: str, transactions: Callable[[], AbstractContextManager[Session]]) -> User | None:
        """Read a user from the database (blocking: call from a worker thread) and cache it."""
        with transactions() as session:
            user = session.scalar(select(User).where(User.username == username))
        if user is not None:
            with self._lock:
                self._cache[username] = user
        return user
