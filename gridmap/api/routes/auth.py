"""Sign-in: the OAuth2 password flow for scripts, a cookie for web pages; sign-out revokes the session.

Failed attempts lock the account and the client address for a while (see ``gridmap.auth.signin``): the token
endpoint answers 429 with ``Retry-After``, the login form a short page saying how long to wait.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.security import OAuth2PasswordRequestForm

from gridmap.api.client import client_address, is_https
from gridmap.api.deps import COOKIE, CurrentUser, SessionDep, SettingsDep, Transactions, bearer_or_cookie, oauth2
from gridmap.api.identity import UserDirectory
from gridmap.api.schemas import Me, NamedUnit, PageLink, Token
from gridmap.auth.security import create_token
from gridmap.auth.service import user_grids
from gridmap.auth.signin import SignInResult, sign_in, sign_out
from gridmap.policy import LEADERS, ROLE_NAMES, TODO, admits, links, todo_statuses
from gridmap.requests.states import Status
from gridmap.settings import Settings
from gridmap.units import display_name, unit_names, user_unit

router = APIRouter()


def _attempt(
    request: Request, transactions: Transactions, settings: Settings, username: str, password: str, via: str
) -> tuple[SignInResult, str | None]:
    """Try to sign in (committed on its own: a failure is logged even though the request fails)."""
    with transactions() as session:
        result = sign_in(
            session=session,
            username=username,
            password=password,
            client=client_address(request, settings),
            via=via,
            settings=settings.auth,
            token_minutes=settings.token_minutes,
            now=datetime.now(UTC),
        )
    if result.user is None or result.session_id is None:
        return result, None
    token = create_token(
        subject=result.user.username,
        role=result.user.role.value,
        secret=settings.effective_secret_key(),
        minutes=settings.token_minutes,
        session_id=result.session_id,
    )
    return result, token


def _wait_text(seconds: int) -> str:
    minutes = max(1, -(-seconds // 60))
    return f"登录失败次数过多,请 {minutes} 分钟后再试 / too many failed sign-ins: try again in {minutes} minute(s)"


@router.post(
    "/api/auth/token",
    response_model=Token,
    tags=["auth"],
    responses={401: {"description": "wrong username or password"}, 429: {"description": "locked for a while"}},
)
def token(
    request: Request,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    transactions: Transactions,
    settings: SettingsDep,
) -> Token:
    """Exchange username and password for a bearer token (locked for a while after repeated failures)."""
    result, access = _attempt(request, transactions, settings, form.username, form.password, "token")
    if result.outcome == "locked":
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            detail=_wait_text(result.retry_after),
            headers={"Retry-After": str(result.retry_after)},
        )
    if access is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="用户名或密码错误 / wrong username or password",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return Token(access_token=access)


LOCKED_PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>请稍后再试 · gridmap</title><link rel="stylesheet" href="/static/app.css"></head>
<body><main class="card narrow"><h1>请稍后再试 / Try again later</h1><p class="error">{message}</p>
<p><a href="/login">返回登录 / back to sign-in</a></p></main></body></html>
"""


@router.post("/login", include_in_schema=False, response_model=None)
def login_form(
    request: Request,
    transactions: Transactions,
    settings: SettingsDep,
    username: Annotated[str, Form()],
    password: Annotated[str, Form()],
    next: Annotated[str, Form()] = "/",
) -> Response:
    """Sign in from the login page: set the token as an HttpOnly cookie and go on."""
    result, access = _attempt(request, transactions, settings, username, password, "form")
    if result.outcome == "locked":
        return HTMLResponse(
            LOCKED_PAGE.format(message=html.escape(_wait_text(result.retry_after))),
            status_code=status.HTTP_429_TOO_MANY_REQUESTS,
            headers={"Retry-After": str(result.retry_after)},
        )
    if access is None:
        return RedirectResponse("/login?error=1", status_code=status.HTTP_303_SEE_OTHER)
    target = next if next.startswith("/") and not next.startswith(("//", "/\\")) else "/"
    response = RedirectResponse(target, status_code=status.HTTP_303_SEE_OTHER)
    response.set_cookie(
        COOKIE,
        access,
        httponly=True,
        samesite="lax",
        secure=is_https(request, settings),
        max_age=settings.token_minutes * 60,
    )
    return response


def _end_session(request: Request, transactions: Transactions, settings: Settings, token: str | None) -> bool:
    """Revoke the session of ``token``, if it names one; drop it from this process's cache at once."""
    users: UserDirectory = request.app.state.users
    claims = users.claims(token, datetime.now(UTC).timestamp()) if token else None
    if claims is None:
        return False
    with transactions() as session:
        ended = sign_out(
            session=session,
            session_id=claims.session_id,
            client=client_address(request, settings),
            via="form" if token == request.cookies.get(COOKIE) else "token",
            now=datetime.now(UTC),
        )
    users.forget_session(claims.session_id)
    return ended


@router.post("/logout", include_in_schema=False)
def logout(request: Request, transactions: Transactions, settings: SettingsDep) -> RedirectResponse:
    """Sign out of the web pages: revoke the cookie's session and forget the cookie."""
    _end_session(request, transactions, settings, request.cookies.get(COOKIE))
    response = RedirectResponse("/login", status_code=status.HTTP_303_SEE_OTHER)
    response.delete_cookie(COOKIE, httponly=True, samesite="lax", secure=is_https(request, settings))
    return response


@router.post("/api/auth/logout", status_code=status.HTTP_204_NO_CONTENT, tags=["auth"])
def api_logout(
    request: Request,
    _: CurrentUser,
    transactions: Transactions,
    settings: SettingsDep,
    bearer: Annotated[str | None, Depends(oauth2)],
) -> Response:
    """Revoke the session of this bearer token (or cookie): the token is refused from now on."""
    _end_session(request, transactions, settings, bearer_or_cookie(request, bearer))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


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
