"""Staff intake and the 五单 workflow: report, list (scoped to the user), read with its audit trail, act."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response, UploadFile, status
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse
from sqlalchemy import func, select

from gridmap.api.deps import CurrentUser, NowDep, SessionDep, SettingsDep, Transactions
from gridmap.db.models import RequestCategory, ServiceRequest
from gridmap.errors import NotFound
from gridmap.requests.categories import Category, category_terms, known_category
from gridmap.requests.detail import detail
from gridmap.requests.fast_intake import submit_point
from gridmap.requests.photos import MEDIA_TYPES, photo_folder, photo_url
from gridmap.requests.schemas import ActionIn, NewRequest
from gridmap.requests.service import Actor, act, attach_photo, check_scope, get_request, submit
from gridmap.requests.sla import WorkCalendar
from gridmap.requests.views import describe, visible

router = APIRouter(tags=["requests"])
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)]


@router.get("/api/categories")
def categories(_: CurrentUser, session: SessionDep) -> list[dict[str, Any]]:
    """Request categories with their department and time limits (minutes)."""
    rows = session.scalars(select(RequestCategory).where(RequestCategory.active).order_by(RequestCategory.code))
    return [
        {
            "code": c.code,
            "name_zh": c.name_zh,
            "name_en": c.name_en,
            "department": c.department,
            "respond_minutes": c.respond_minutes,
            "accept_minutes": c.accept_minutes,
            "resolve_minutes": c.resolve_minutes,
            "working_hours": c.working_hours,
            "blocks_lane": c.blocks_lane,
        }
        for c in rows
    ]


@router.post("/api/requests", status_code=status.HTTP_201_CREATED)
async def report(
    body: NewRequest,
    request: Request,
    user: CurrentUser,
    transactions: Transactions,
    settings: SettingsDep,
    now: NowDep,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    """Report a problem at a point or an address; a retry with the same Idempotency-Key returns the first result.

    A point report is stored on the event loop (``fast_intake``); the rest in one worker thread that commits
    before it returns, so no transaction waits for a thread under load.
    """
    calendar = WorkCalendar(settings.requests.calendar)
    how: dict[str, Any] = {
        "actor": Actor.of(user),
        "channel": "staff",
        "now": now,
        "settings": settings.requests,
        "idempotency_key": idempotency_key,
    }
    cat = known_category(str(request.app.state.engine.url), body.category)
    if cat is not None:
        req = await submit_point(request.app.state.intake_pool, body, cat, **how)
        if req is not None:
            return describe(req, cat, now=now, calendar=calendar, user=user)

    def store_report() -> tuple[dict[str, Any], bool]:
        with transactions() as session:
            req, created = submit(session, body, **how)
            cat = category_terms(session, req.category)
            return describe(req, cat, now=now, calendar=calendar, user=user), created

    out, created = await run_in_threadpool(store_report)
    if not created:
        response.status_code = status.HTTP_200_OK
    return out


@router.get("/api/requests")
def list_requests(
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    status_: Annotated[list[str] | None, Query(alias="status")] = None,
    category: str | None = None,
    grid_code: str | None = Query(None, pattern=r"^\d{1,15}$", description="a grid code or a prefix (社区/街道)"),
    since: datetime | None = None,
    until: datetime | None = None,
    overdue: bool | None = None,
    limit: int = Query(200, ge=1, le=5000),
    offset: int = Query(0, ge=0),
) -> dict[str, Any]:
    """Requests the user may see (grid workers: own grids; departments: own cases), newest first."""
    query = (
        select(ServiceRequest, RequestCategory)
        .join(RequestCategory, RequestCategory.code == ServiceRequest.category)
        .where(visible(session, user))
    )
    if status_:
        query = query.where(ServiceRequest.status.in_(status_))
    if category:
        query = query.where(ServiceRequest.category == category)
    if grid_code:
        query = query.where(ServiceRequest.grid_code.startswith(grid_code))
    if since:
        query = query.where(ServiceRequest.created_at >= since)
    if until:
        query = query.where(ServiceRequest.created_at < until)
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    calendar = WorkCalendar(settings.requests.calendar)
    rows = session.execute(query.order_by(ServiceRequest.created_at.desc()).limit(limit).offset(offset))
    items = [describe(req, Category.of(cat), now=now, calendar=calendar, user=user) for req, cat in rows]
    if overdue is not None:
        items = [item for item in items if item["overdue"] is overdue]
    return {"total": total, "count": len(items), "items": items}


@router.get("/api/requests/{request_id}")
def read_request(
    request_id: int, user: CurrentUser, session: SessionDep, settings: SettingsDep, now: NowDep
) -> dict[str, Any]:
    """A request with its SLA state, the actions the user may take now, its trail, grid outline and merge candidates."""
    req = get_request(session, request_id)
    check_scope(session, req, user)
    cat = category_terms(session, req.category)
    return detail(session, req, cat, user=user, now=now, calendar=WorkCalendar(settings.requests.calendar))


@router.post("/api/requests/{request_id}/actions")
def request_action(
    request_id: int, body: ActionIn, user: CurrentUser, session: SessionDep, settings: SettingsDep, now: NowDep
) -> dict[str, Any]:
    """Take, escalate, triage, dispatch, accept, return, resolve, verify, reject, call back, close or merge a request.

    评单 (rate) is the reporter's, through the public link; staff record a 回访 (callback) instead.
    """
    req = act(session, request_id, body, user=user, now=now, settings=settings.requests)
    cat = category_terms(session, req.category)
    return detail(session, req, cat, user=user, now=now, calendar=WorkCalendar(settings.requests.calendar))


PhotoName = Annotated[str, PathParam(pattern=r"^[0-9a-f]{24}\.(jpg|png|webp)$")]


@router.post("/api/requests/{request_id}/photos", status_code=status.HTTP_201_CREATED)
def upload_photo(
    request_id: int, photo: UploadFile, user: CurrentUser, session: SessionDep, settings: SettingsDep, now: NowDep
) -> dict[str, Any]:
    """Add a photo (multipart field ``photo``: JPEG, PNG or WebP); stored upright, without EXIF/GPS metadata."""
    limit = settings.requests.max_photo_bytes
    data = photo.file.read(limit + 1)
    req = attach_photo(session, request_id, data, user=user, home=settings.home, now=now, max_bytes=limit)
    return {"id": req.id, "photos": req.photos}


@router.get("/api/requests/{request_id}/photos/{name}")
def read_photo(
    request_id: int, name: PhotoName, user: CurrentUser, session: SessionDep, settings: SettingsDep
) -> FileResponse:
    """A photo of a request the user may see."""
    req = get_request(session, request_id)
    check_scope(session, req, user)
    if photo_url(req.id, name) not in req.photos:
        raise NotFound(f"request {req.id} has no photo {name}")
    media = MEDIA_TYPES[name.rsplit(".", 1)[1]]
    return FileResponse(photo_folder(settings.home, req.id) / name, media_type=media)
