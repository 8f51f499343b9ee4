"""Sign-in: lockout after repeated failures, the same time for unknown users, sessions and the sign-in log.

Every attempt is written to ``sign_in_events``; the lockout is read back from it, so it holds across server
processes. An account (by the name typed, known or not: a lockout must not tell which names exist) with
``max_failures`` failures within ``failure_window_minutes`` since its last success, or a client address with
``max_failures_per_client`` failures in that window, is refused for ``lockout_minutes`` after its latest failure.
Attempts while locked are logged as ``locked`` and neither checked nor counted, so they do not prolong the lock.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, cast

from sqlalchemy import ColumnElement, CursorResult, delete, func, select, text, update
from sqlalchemy.orm import Session

from gridmap.auth.security import new_session_id, verify_password, waste_verification
from gridmap.db.models import AuthSession, SignInEvent, User
from gridmap.settings import AuthSettings

Outcome = Literal["success", "failure", "locked"]


@dataclass(frozen=True, slots=True)
class SignInResult:
    """How an attempt ended: the user and new session id on success, the wait in seconds when locked."""

    outcome: Outcome
    user: User | None = None
    session_id: str | None = None
    retry_after: int = 0


def _latest_failures(session: Session, where: ColumnElement[bool], since: datetime, limit: int) -> list[datetime]:
    query = (
        select(SignInEvent.at)
        .where(where, SignInEvent.outcome == "failure", SignInEvent.at > since)
        .order_by(SignInEvent.at.desc())
        .limit(limit)
    )
    return list(session.scalars(query).all())


def locked_until(
    *, session: Session, username: str, client: str, settings: AuthSettings, now: datetime
) -> datetime | None:
    """When the lock on this account or client ends, or None when neither is locked."""
    window = now - timedelta(minutes=settings.failure_window_minutes)
    last_success = session.scalar(
        select(func.max(SignInEvent.at)).where(SignInEvent.username == username, SignInEvent.outcome == "success")
    )
    since = max(window, last_success) if last_success else window
    ends = []
    for where, since_, limit in (
        (SignInEvent.username == username, since, settings.max_failures),
        (SignInEvent.client == client, window, settings.max_failures_per_client),
    ):
        failures = _latest_failures(session, where, since_, limit)
        if len(failures) >= limit:
            ends.append(failures[0] + timedelta(minutes=settings.lockout_minutes))
    end = max(ends, default=None)
    return end if end is not None and end > now else None


def _log(
    session: Session, *, username: str, user: User | None, client: str, outcome: str, via: str, now: datetime
) -> None:
    session.add(
        SignInEvent(
            at=now,
            username=username[:100],
            user_id=user.id if user else None,
            client=client[:64],
            outcome=outcome,
            via=via,
        )
    )
    session.flush()


def sign_in(
    *,
    session: Session,
    username: str,
    password: str,
    client: str,
    via: str,
    settings: AuthSettings,
    token_minutes: float,
    now: datetime,
) -> SignInResult:
    """Check the credentials unless locked, log the attempt and, on success, open a session."""
    typed = username.replace("\x00", "\ufffd")  # PostgreSQL text cannot hold NUL; such a name is never a user
    # Attempts on one name wait for each other (until this transaction ends): parallel guesses gain nothing.
    session.execute(text("SELECT pg_advisory_xact_lock(hashtext('gridmap sign-in ' || :name))"), {"name": typed})
    end = locked_until(session=session, username=typed, client=client, settings=settings, now=now)
    if end is not None:
        _log(session, username=typed, user=None, client=client, outcome="locked", via=via, now=now)
        return SignInResult("locked", retry_after=max(1, math.ceil((end - now).total_seconds())))
    user = session.scalar(select(User).where(User.username == typed)) if typed == username else None
    if user is None or not user.is_active:
        waste_verification(password)
        ok = False
    else:
        ok = verify_password(password, user.password_hash)
    if not ok:
        _log(session, username=typed, user=user, client=client, outcome="failure", via=via, now=now)
        return SignInResult("failure")
    assert user is not None
    _log(session, username=typed, user=user, client=client, outcome="success", via=via, now=now)
    session_id = new_session_id()
    session.add(
        AuthSession(
            id=session_id,
            user_id=user.id,
            created_at=now,
            last_seen_at=now,
            expires_at=now + timedelta(minutes=token_minutes),
            client=client[:64],
        )
    )
    session.flush()
    return SignInResult("success", user=user, session_id=session_id)


@dataclass(frozen=True, slots=True)
class SessionState:
    """A session as last read: whose, last used (POSIX seconds), whether revoked."""

    user_id: int
    last_seen: float
    revoked: bool


def read_session(*, session: Session, session_id: str) -> SessionState | None:
    """The state of session ``session_id``, or None when there is no such session."""
    row = session.get(AuthSession, session_id)
    if row is None:
        return None
    return SessionState(row.user_id, row.last_seen_at.timestamp(), row.revoked_at is not None)


def touch_session(*, session: Session, session_id: str, now: datetime) -> None:
    """Mark the session as used now (it stays open ``idle_minutes`` from here)."""
    session.execute(update(AuthSession).where(AuthSession.id == session_id).values(last_seen_at=now))


def sign_out(*, session: Session, session_id: str, client: str, via: str, now: datetime) -> bool:
    """Revoke the session and log the sign-out; False when it was unknown or already revoked."""
    row = session.get(AuthSession, session_id)
    if row is None or row.revoked_at is not None:
        return False
    row.revoked_at = now
    user = session.get(User, row.user_id)
    _log(session, username=user.username if user else "", user=user, client=client, outcome="logout", via=via, now=now)
    return True


def purge_sign_ins(*, session: Session, days: int, now: datetime) -> tuple[int, int]:
    """Delete sign-in events older than ``days`` and sessions that expired before then; the two counts."""
    before = now - timedelta(days=days)
    events = cast(CursorResult[Any], session.execute(delete(SignInEvent).where(SignInEvent.at < before)))
    sessions = cast(CursorResult[Any], session.execute(delete(AuthSession).where(AuthSession.expires_at < before)))
    return events.rowcount, sessions.rowcount
