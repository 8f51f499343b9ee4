"""The page of one request (`/requests/{id}`): for every signed-in user who may see that request."""

from __future__ import annotations

from html import escape
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse

from gridmap.api.deps import SessionDep, page_role
from gridmap.db.models import Role, User
from gridmap.errors import Forbidden, NotFound
from gridmap.requests.service import check_scope, get_request
from gridmap.resources import FRONTEND

router = APIRouter(include_in_schema=False)
PageAnyone = Annotated[User, Depends(page_role(*Role))]  # whether the request is theirs to see is checked below


def _refusal(status: int, message: str) -> HTMLResponse:
    body = (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1"><title>诉求 · gridmap</title>'
        '<link rel="stylesheet" href="/static/app.css"></head><body><main class="card narrow">'
        f'<p class="error">{escape(message)}</p><p><a href="/">返回工作台 / back to the workbench</a></p>'
        "</main></body></html>"
    )
    return HTMLResponse(body, status_code=status)


@router.get("/requests/{request_id}", response_class=HTMLResponse)
def request_page(request_id: int, user: PageAnyone, session: SessionDep) -> HTMLResponse:
    """A request's description, photos, map, trail, SLA and the 五单 buttons the user may press."""
    try:
        check_scope(session, get_request(session, request_id), user)
    except NotFound as exc:
        return _refusal(404, str(exc))
    except Forbidden as exc:
        return _refusal(403, f"无权查看该诉求 / you may not open this request: {exc}")
    return HTMLResponse((FRONTEND / "request.html").read_text(encoding="utf-8"))
