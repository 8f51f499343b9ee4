"""Dependencies: settings, sessions, the current user and role checks."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractContextManager
from datetime import datetime
from functools import partial
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.orm import Session

from gridmap.api.identity import UserDirectory
from gridmap.db.models import Role, User
from gridmap.db.session import session_scope
from gridmap.policy import (
    HOUSEHOLD_EDITORS,
    KPI_VIEWERS,
    LEADERS,
    LEDGER_READERS,
    PEOPLE_VIEWERS,
    PLANNERS,
    WORKERS,
    admits,
)
from gridmap.settings import Settings

COOKIE = "gridmap_token"
oauth2 = OAuth2PasswordBearer(tokenUrl="/api/auth/token", auto_error=False)


async def get_settings(request: Request) -> Settings:  # async: no thread hop for a lookup
    """The app's settings (set by ``create_app``)."""
    settings: Settings = request.app.state.settings
    return settings


async def get_session(request: Request) -> AsyncIterator[Session]:
    """A session per request, committed when the route returns without error.

    The route uses it in a worker thread; committing and closing happen here on the event loop, so a finished
    request gives its connection back without waiting for a free thread (which, under load, could be waiting for
    that very connection).
    """
    with session_scope(request.app.state.engine) as session:
        yield session


async def get_transactions(request: Request) -> Callable[[], AbstractContextManager[Session]]:
    """Opens units of work: sessions committed on exit, for routes that run their work in one thread."""
    engine = request.app.state.engine
    return partial(session_scope, engine)


async def get_now(request: Request) -> datetime:
    """The app's clock (injectable for tests and simulations), timezone-aware."""
    now: datetime = request.app.state.clock()
    return now


SettingsDep = Annotated[Settings, Depends(get_settings)]
NowDep = Annotated[datetime, Depends(get_now)]
SessionDep = Annotated[Session, Depends(get_session)]
Transactions = Annotated[Callable[[], AbstractContextManager[Session]], Depends(get_transactions)]


NOT_SIGNED_IN = "未登录或登录已过期 / not signed in: get a token at POST /api/auth/token"


def bearer_or_cookie(request: Request, bearer: str | None) -> str | None:
    """The token of this request: the bearer token, else the web pages' HttpOnly cookie."""
    return bearer or request.cookies.get(COOKIE)


async def get_current_user(
    request: Request, transactions: Transactions, bearer: Annotated[str | None, Depends(oauth2)]
) -> User:
    """The user of an open session named by the bearer token or cookie (cached, see ``identity``)."""
    token = bearer_or_cookie(request, bearer)
    users: UserDirectory = request.app.state.users
    settings: Settings = request.app.state.settings
    now = time.time()
    claims = users.claims(token, now) if token else None
    user = None
    if claims is not None:
        idle = settings.auth.idle_minutes * 60
        user, state = users.cached(claims.subject), users.cached_session(claims.session_id)
        # A session that looks idle is read again first: another server process may have seen it used.
        if user is None or state is None or not users.fresh(state, now):
            user, state = await run_in_threadpool(users.refresh, claims, transactions, now=now, idle_seconds=idle)
        if state is None or state.revoked or now - state.last_seen > idle or (user and state.user_id != user.id):
            user = None
    if user is None or not user.is_active:
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED, detail=NOT_SIGNED_IN, headers={"WWW-Authenticate": "Bearer"}
        )
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


def _admit(user: User, allowed: set[Role]) -> User:
    if not admits(user.role, allowed):
        names = ", ".join(sorted(r.value for r in allowed))
        raise HTTPException(
            status_code=status.HTTP_403_FORBIDDEN,
            detail=f"权限不足 / forbidden: needs role {names}, you are {user.role.value}",
        )
    return user


def require_role(*roles: Role) -> Callable[[User], Awaitable[User]]:
    """A dependency admitting only ``roles`` (admins are always admitted)."""
    allowed = {*roles, Role.admin}

    async def check(user: CurrentUser) -> User:
        return _admit(user, allowed)

    return check


# The role sets come from gridmap.policy, the one place that decides who may do what.
LeaderUser = Annotated[User, Depends(require_role(*LEADERS))]
PlannerUser = Annotated[User, Depends(require_role(*PLANNERS))]
KpiUser = Annotated[User, Depends(require_role(*KPI_VIEWERS))]
LedgerUser = Annotated[User, Depends(require_role(*LEDGER_READERS))]
HouseholdEditor = Annotated[User, Depends(require_role(*HOUSEHOLD_EDITORS))]
AdminUser = Annotated[User, Depends(require_role())]


def page_role(*roles: Role) -> Callable[..., Awaitable[User]]:
    """Like :func:`require_role` for web pages: a visitor who is not signed in is sent to the login page."""
    allowed = {*roles, Role.admin}

    async def for_page(
        request: Request, transactions: Transactions, bearer: Annotated[str | None, Depends(oauth2)]
    ) -> User:
        try:
            user = await get_current_user(request, transactions, bearer)
        except HTTPException as exc:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            raise HTTPException(
                status_code=status.HTTP_303_SEE_OTHER, detail=exc.detail, headers={"Location": f"/login?next={target}"}
            ) from exc
        return _admit(user, allowed)

    return for_page


PageLeader = Annotated[User, Depends(page_role(*LEADERS))]
PagePlanner = Annotated[User, Depends(page_role(*PLANNERS))]
PageWorker = Annotated[User, Depends(page_role(*WORKERS))]
PageKpi = Annotated[User, Depends(page_role(*KPI_VIEWERS))]
PageHouseholds = Annotated[User, Depends(page_role(*HOUSEHOLD_EDITORS))]
PagePeople = Annotated[User, Depends(page_role(*PEOPLE_VIEWERS))]
