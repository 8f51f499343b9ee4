"""Web pages: the login page and the home page (简体中文 first, English toggle)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from gridmap.api.deps import COOKIE, PageKpi, PagePeople, PagePlanner, Transactions, get_current_user
from gridmap.resources import FRONTEND

router = APIRouter(include_in_schema=False)


@router.get("/login", response_class=HTMLResponse)
def login_page() -> HTMLResponse:
    """The sign-in form."""
    return HTMLResponse((FRONTEND / "login.html").read_text(encoding="utf-8"))


@router.get("/", response_class=HTMLResponse, response_model=None)
async def home(request: Request, transactions: Transactions) -> HTMLResponse | RedirectResponse:
    """The home page, or the login page when not signed in."""
    token = request.cookies.get(COOKIE)
    if not token:
        return RedirectResponse("/login")
    try:
        await get_current_user(request, transactions, None)
    except HTTPException:
        return RedirectResponse("/login")
    return HTMLResponse((FRONTEND / "index.html").read_text(encoding="utf-8"))


@router.get("/planner", response_class=HTMLResponse)
def planner(_: PagePlanner) -> HTMLResponse:
    """Planners redraw boundaries on a draft plan."""
    return HTMLResponse((FRONTEND / "planner.html").read_text(encoding="utf-8"))


@router.get("/dashboard", response_class=HTMLResponse)
def dashboard(_: PageKpi) -> HTMLResponse:
    """Leaders' KPI dashboard with charts and the hot-spot map."""
    return HTMLResponse((FRONTEND / "dashboard.html").read_text(encoding="utf-8"))


@router.get("/people", response_class=HTMLResponse)
def people_page(_: PagePeople) -> HTMLResponse:
    """网格人员: each grid's people (masked); for 社区/街道 the 双报到 form and the placement board."""
    return HTMLResponse((FRONTEND / "people.html").read_text(encoding="utf-8"))
