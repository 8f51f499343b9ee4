"""Sign-in: the OAuth2 password flow for scripts, a cookie for web pages."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, status
from fastapi.responses import RedirectResponse
from fastapi.security import OAuth2PasswordRequestForm

from gridmap.api.deps import COOKIE, CurrentUser, SessionDep, SettingsDep
from gridmap.api.schemas import Me, NamedUnit, PageLink, Token
from gridmap.auth.security import create_token
from gridmap.auth.service import authenticate, user_grids
from gridmap.policy import LEADERS, ROLE_NAMES, TODO, admits, links, todo_statuses
from gridmap.requests.states import Status
from gridmap.units import display_name, unit_names, user_unit

router = APIRouter()


@router.post("/api/auth/token", response_model=Token, tags=["auth"])
def token(form: Annotated[OAuth2PasswordRequestForm, Depends()], session: SessionDep, settings: SettingsDep) -> Token:
    """Exchange username and password for a bearer token."""
    user = authenticate(session=session, username=form.username, password=form.password)
    if user is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="用户名或密码错误 / wrong username or password",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return Token(
        access_token=create_token(
            subject=user.username,
            role=user.role.value,
            secret=settings.effective_secret_key(),
            minutes=settings.token_minutes,
        )
    )


@router.post("/login", include_in_schema=False)
def login_form(
    session: SessionDep,
    settings: SettingsDep,
    username: Annotated[str, Form()],
    password: Annotated[str, Form()],
    next: Annotated[str, Form()] = "/",
) -> RedirectResponse:
    """Sign in from the login page: set the token as an HttpOnly cookie and go on."""
    user = authenticate(session=session, username=username, password=password)
    if user is None:
        return RedirectResponse("/login?error=1", status_code=status.HTTP_303_SEE_OTHER)
    target = next if next.startswith("/") and not next.startswith("//") else "/"
    response = RedirectResponse(target, status_code=status.HTTP_303_SEE_OTHER)
    response.set_cookie(
        COOKIE,
        create_token(
            subject=user.username,
            role=user.role.value,
            secret=settings.effective_secret_key(),
            minutes=settings.token_minutes,
        ),
        httponly=True,
        samesite="lax",
        max_age=settings.token_minutes * 60,
    )
    return response


@router.post("/logout", include_in_schema=False)
def logout() -> RedirectResponse:
    """Forget the cookie."""
    response = RedirectResponse("/login", status_code=status.HTTP_303_SEE_OTHER)
    response.delete_cookie(COOKIE)
    return response


@router.get("/api/me", response_model=Me, tags=["auth"])
def me(user: CurrentUser, session: SessionDep) -> Me:
    """Who I am: role and unit by name, my grids (grid workers) by name, and the pages I may open."""
    grids = sorted(user_grids(session=session, user=user))
    names = unit_names(session, grids)
    unit_code, unit_name = user_unit(session, user, grids)
    return Me(
        username=user.username,
        full_name=user.full_name,
        role=user.role.value,
        grids=grids,
        role_name=ROLE_NAMES[user.role][0],
        display_name=display_name(user, unit_name),
        display_name_en=display_name(user, unit_name, english=True),
        unit_code=unit_code,
        unit_name=unit_name,
        department=user.department,
        grid_names=[NamedUnit(code=g, name=names[g]) for g in grids],
        links=[PageLink(href=p.href, zh=p.zh, en=p.en) for p in links(user.role)],
        has_todo=user.role in TODO,
        todo_statuses=[s.value for s in Status if s in todo_statuses(user.role)],
        overview=admits(user.role, LEADERS),
    )
