"""Staff intake and the 五单 workflow: report, list (scoped to the user), read with its audit trail, act."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response, UploadFile, status
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse
from sqlalchemy import select

from gridmap.api.deps import CurrentUser, NowDep, SessionDep, SettingsDep, Transactions
from gridmap.db.models import RequestCategory, ServiceRequest
from gridmap.errors import NotFound
from gridmap.partition.codes import PREFIX_PATTERN
from gridmap.requests.categories import Category, category_terms, known_category
from gridmap.requests.detail import detail
from gridmap.requests.fast_intake import submit_point
from gridmap.requests.photos import MEDIA_TYPES, photo_folder, photo_url
from gridmap.requests.reporter_contact import ReporterPhone, RevealReason, reveal_reporter_phone
from gridmap.requests.schemas import ActionIn, NewRequest
from gridmap.requests.service import Actor, act, attach_photo, check_scope, get_request, submit
from gridmap.requests.sla import WorkCalendar
from gridmap.requests.views import describe, sla_of
from gridmap.requests.worklist import ListQuery, find, next_deadline, parse_statuses, places

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
    declined = None
    cat = known_category(str(request.app.state.engine.url), body.category)
    if cat is not None:
        req = await submit_point(request.app.state.intake_pool, body, cat, **how)
        if isinstance(req, ServiceRequest):
            return describe(req, cat, now=now, calendar=calendar, user=user)
        declined = req

    def store_report() -> tuple[dict[str, Any], bool]:
        with transactions() as session:
            req, created = submit(session, body, declined=declined, **how)
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
    status_: Annotated[
        list[str] | None, Query(alias="status", description="statuses, repeated or comma-separated: reported,taken")
    ] = None,
    category: str | None = Query(None, pattern=r"^[A-Za-z0-9_\-]{1,50}$", description="a code of GET /api/categories"),
    grid_code: str | None = Query(None, pattern=PREFIX_PATTERN, description="a grid code or a prefix (社区/街道)"),
    since: datetime | None = None,
    until: datetime | None = None,
    overdue: bool | None = None,
    todo: bool = Query(False, description="only what the caller must act on (its 待办)"),
    q: str | None = Query(None, max_length=100, description="a request number (123 or #123) or text to find"),
    sort: str | None = Query(None, pattern="^(deadline|newest)$", description="default: deadline if todo, else newest"),
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0, le=1_000_000),
) -> dict[str, Any]:
    """Requests in the caller's scope (grid workers: own grids; 社区/街道: own unit; departments: dispatched to them).

    ``total`` counts every match (before paging); items carry their place and next deadline.
    """
    query = ListQuery(
        statuses=parse_statuses(status_),
        category=category,
        grid_code=grid_code,
        since=since,
        until=until,
        overdue=overdue,
        todo=todo,
        q=q.strip() if q and q.strip() else None,
        sort=sort or ("deadline" if todo else "newest"),
        limit=limit,
        offset=offset,
    )
    calendar = WorkCalendar(settings.requests.calendar)
    total, ids = find(session, user=user, query=query, now=now, calendar=calendar)
    found = {
        req.id: (req, cat)
        for req, cat in session.execute(
            select(ServiceRequest, RequestCategory)
            .join(RequestCategory, RequestCategory.code == ServiceRequest.category)
            .where(ServiceRequest.id.in_(ids))
        )
    }
    where = places(session, ids) if ids else {}
    items = []
    for rid in ids:
        req, row = found[rid]
        cat = Category.of(row)
        item = describe(req, cat, now=now, calendar=calendar, user=user)
        sla = sla_of(req, cat, now, calendar)
        item["due"] = next_deadline(sla, created_at=req.created_at, dispatched_at=req.dispatched_at, now=now)
        items.append(item | where.get(rid, {"place": None, "place_kind": None}))
    page = {"total": total, "count": len(items), "offset": offset, "limit": limit, "now": now.isoformat()}
    return page | {"items": items}


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


@router.post("/api/requests/{request_id}/reporter-phone", response_model=ReporterPhone)
def reveal_reporter(
    request_id: int, body: RevealReason, user: CurrentUser, session: SessionDep, now: NowDep
) -> ReporterPhone:
    """The reporter's whole phone number, for 社区/街道 staff who call back, with a reason; logged (``pii_reveals``)."""
    req = get_request(session, request_id)
    check_scope(session, req, user)
    return reveal_reporter_phone(session, req, user, reason=body.reason, now=now)


PhotoName = Annotated[str, PathParam(pattern=r"^[0-9a-f]{24}\.(jpg|png|webp)$")]


@router.post("/api/requests/{request_id}/photos", status_code=status.HTTP_201_CREATED)
def upload_photo(
    request_id: int, photo: UploadFile, user: CurrentUser, session: SessionDep, settings: SettingsDep, now: NowDep
) -> dict[str, Any]:
    """Add a photo (multipart field ``photo``: JPEG, PNG or WebP); stored upright, without EXIF/GPS metadata."""
    limit = settings.requests.max_photo_bytes
    data = photo.file.read(limit + 1)
    pixels = settings.requests.max_photo_pixels
    req = attach_photo(
        session, request_id, data, user=user, home=settings.home, now=now, max_bytes=limit, max_pixels=pixels
    )
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
