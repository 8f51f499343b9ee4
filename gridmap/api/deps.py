"""Dependencies: settings, sessions, the current user and role checks."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy import select
from sqlalchemy.orm import Session

from gridmap.auth.security import read_token
from gridmap.db.models import Role, User
from gridmap.db.session import session_scope
from gridmap.settings import Settings

COOKIE = "gridmap_token"
oauth2 = OAuth2PasswordBearer(tokenUrl="/api/auth/token", auto_error=False)


async def get_settings(request: Request) -> Settings:  # async: no thread hop for a lookup
    """The app's settings (set by ``create_app``)."""
    settings: Settings = request.app.state.settings
    return settings


def get_session(request: Request) -> Iterator[Session]:
    """A session per request, committed when the route returns without error."""
    with session_scope(request.app.state.engine) as session:
        yield session


async def get_now(request: Request) -> datetime:
    """The app's clock (injectable for tests and simulations), timezone-aware."""
    now: datetime = request.app.state.clock()
    return now


SettingsDep = Annotated[Settings, Depends(get_settings)]
NowDep = Annotated[datetime, Depends(get_now)]
SessionDep = Annotated[Session, Depends(get_session)]


def get_current_user(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    bearer: Annotated[str | None, Depends(oauth2)],
) -> User:
    """The user of the bearer token or, for web pages, of the HttpOnly cookie."""
    token = bearer or request.cookies.get(COOKIE)
    username = read_token(token, settings.effective_secret_key()) if token else None
    user = session.scalar(select(User).where(User.username == username)) if username else None
    if user is None or not user.is_active:
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail="未登录或登录已过期 / not signed in: get a token at POST /api/auth/token",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


def require_role(*roles: Role) -> Callable[[User], User]:
    """A dependency admitting only ``roles`` (admins are always admitted)."""
    allowed = {*roles, Role.admin}

    def check(user: CurrentUser) -> User:
        if user.role not in allowed:
            names = ", ".join(sorted(r.value for r in allowed))
            raise HTTPException(
                status_code=status.HTTP_403_FORBIDDEN,
                detail=f"权限不足 / forbidden: needs role {names}, you are {user.role.value}",
            )
        return user

    return check


LeaderUser = Annotated[User, Depends(require_role(Role.leader, Role.planner))]
PlannerUser = Annotated[User, Depends(require_role(Role.planner))]
KpiUser = Annotated[User, Depends(require_role(Role.leader, Role.planner, Role.community, Role.command))]
AdminUser = Annotated[User, Depends(require_role())]


def page_role(*roles: Role) -> Callable[..., User]:
    """Like :func:`require_role` for web pages: a visitor who is not signed in is sent to the login page."""
    check = require_role(*roles)

    def for_page(
        request: Request,
        session: SessionDep,
        settings: SettingsDep,
        bearer: Annotated[str | None, Depends(oauth2)],
    ) -> User:
        try:
            user = get_current_user(request, session, settings, bearer)
        except HTTPException as exc:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            raise HTTPException(
                status_code=status.HTTP_303_SEE_OTHER, detail=exc.detail, headers={"Location": f"/login?next={target}"}
            ) from exc
        return check(user)

    return for_page


PageLeader = Annotated[User, Depends(page_role(Role.leader, Role.planner))]
PagePlanner = Annotated[User, Depends(page_role(Role.planner))]
PageWorker = Annotated[User, Depends(page_role(Role.grid_worker))]
PageKpi = Annotated[User, Depends(page_role(Role.leader, Role.planner, Role.community, Role.command))]
