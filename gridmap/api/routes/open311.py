"""Public intake and reads: Open311 GeoReport v2, in JSON and XML, plus the reporter's rating.

Discovery, services, service definitions, create, search and read requests.

Form-encoded bodies as the standard says, or JSON. Errors are Open311 error lists with a 4xx status. POSTs are
rate-limited per client address and limited in size; an ``Idempotency-Key`` header makes retries safe. Reads show
public requests only (see :mod:`gridmap.requests.open311`).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Header, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from limits import parse
from pydantic import ValidationError
from sqlalchemy import func, select

from gridmap.api.client import client_address
from gridmap.api.deps import NowDep, SessionDep, SettingsDep, Transactions
from gridmap.api.errors import status_for
from gridmap.api.params import Moment
from gridmap.db.models import ServiceRequest
from gridmap.errors import GridmapError, InvalidInput, TooManyRequests
from gridmap.requests import open311
from gridmap.requests.categories import known_category
from gridmap.requests.fast_intake import submit_point
from gridmap.requests.link_tokens import new_token, stored_key, token_fits
from gridmap.requests.open311 import PUBLIC_CHANNEL, STATUS_NOTES
from gridmap.requests.schemas import NewRequest
from gridmap.requests.service import PUBLIC, rate_public, submit

router = APIRouter(prefix="/open311/v2", tags=["open311"])
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)]
RequestId = Annotated[int, Path(ge=1, le=2**31 - 1, description="service_request_id")]
Format = Annotated[Literal["json", "xml"], Path(description="json or xml")]
FIRST_CHANGESET = datetime(2024, 1, 1, tzinfo=ZoneInfo("UTC"))
CONTACT = "gridmap 网格化管理服务 (the 街道 command centre answers the 12345 hotline)"


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse(status_code=status, content=[{"code": status, "description": message}])


async def _guarded(request: Request, settings: SettingsDep, work: Callable[[dict[str, Any]], Awaitable[Any]]) -> Any:
    """Rate limit, size limit and body parsing around ``work``; domain errors become Open311 errors."""
    limiter = request.app.state.limiter
    client = client_address(request, settings)
    try:
        if not limiter.hit(parse(settings.requests.public_rate), "open311", client):
            raise TooManyRequests(f"too many reports from {client}; at most {settings.requests.public_rate}")
        body = await request.body()
        if len(body) > settings.requests.max_body_bytes:
            return _error(413, f"body of {len(body)} bytes exceeds {settings.requests.max_body_bytes} bytes")
        if request.headers.get("content-type", "").startswith("application/json"):
            fields = json.loads(body or b"{}")
            if not isinstance(fields, dict):
                raise InvalidInput("the JSON body must be an object")
        else:
            fields = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
        return await work(fields)
    except GridmapError as exc:
        return _error(status_for(exc), str(exc))
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        return _error(400, problems)
    except (ValueError, OverflowError, RecursionError) as exc:
        return _error(400, f"请求体格式不对 / malformed body: {str(exc)[:200]}")


def answer(fmt: str, root: str, content: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """``content`` as JSON, or as the spec's XML under ``root``."""
    if fmt == "xml":
        return Response(open311.as_xml(root, content), status, headers, media_type="text/xml; charset=utf-8")
    return JSONResponse(content, status, headers)


def _missing(fmt: str, what: str) -> Response:
    return answer(fmt, "errors", [{"code": 404, "description": what}], 404)


@router.get("/discovery.{fmt}", response_model=None)
def discovery(fmt: Format, request: Request, session: SessionDep) -> Response:
    """Where the GeoReport v2 endpoint is and which formats it speaks."""
    changed = session.scalar(select(func.max(ServiceRequest.created_at))) or FIRST_CHANGESET
    base = str(request.url_for("services", fmt="json")).rsplit("/", 1)[0]
    return answer(fmt, "discovery", open311.discovery(base, contact=CONTACT, changeset=changed))


@router.get("/services.{fmt}", response_model=None)
def services(fmt: Format, session: SessionDep) -> Response:
    """The request categories as Open311 services."""
    return answer(fmt, "services", open311.services(session))


@router.get("/services/{service_code}.{fmt}", response_model=None)
def service_definition(
    fmt: Format, session: SessionDep, service_code: Annotated[str, Path(max_length=50)]
) -> Response:
    """A service's definition (gridmap's services have no extra attributes)."""
    definition = open311.service_definition(session, service_code)
    if definition is None:
        return _missing(fmt, f"没有这类事件 {service_code[:50]} / no service {service_code[:50]}")
    return answer(fmt, "service_definition", definition)


def _number(fields: dict[str, Any], name: str) -> float | None:
    value = fields.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise InvalidInput(f"{name} 须为数字 / {name} must be a number, not {type(value).__name__}")
    return float(value)


@router.post("/requests.json", status_code=201, response_model=None)
async def create(
    request: Request,
    transactions: Transactions,
    settings: SettingsDep,
    now: NowDep,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    """Create a request (``service_code``, ``lat``/``long`` or ``address_string``, ``description``…).

    A point report of a cached category is stored on the event loop (``fast_intake``), anything else in a worker
    thread: the event loop never waits for the database on a synchronous call.
    """

    async def work(fields: dict[str, Any]) -> Any:
        name = " ".join(str(fields.get(k, "")).strip() for k in ("last_name", "first_name")).strip() or None
        data = NewRequest(
            category=str(fields.get("service_code", "")),
            description=fields.get("description"),
            lon=_number(fields, "long"),
            lat=_number(fields, "lat"),
            coord_sys=fields.get("coord_sys") or "wgs84",
            address=fields.get("address_string"),
            photos=[fields["media_url"]] if fields.get("media_url") else [],
            reporter_name=name,
            reporter_phone=fields.get("phone") or None,
        )
        how: dict[str, Any] = {
            "actor": PUBLIC,
            "channel": PUBLIC_CHANNEL,
            "now": now,
            "settings": settings.requests,
            "idempotency_key": stored_key(request.app.state.link_key, idempotency_key),
            "rating_token": new_token(request.app.state.link_key, idempotency_key),
        }
        made = None
        if (cat := known_category(str(request.app.state.engine.url), data.category)) is not None:
            made = await submit_point(request.app.state.intake_pool, data, cat, **how)
        if isinstance(made, ServiceRequest):
            req, created = made, True
        else:

            def general() -> tuple[ServiceRequest, bool]:
                with transactions() as session:
                    return submit(session, data, declined=made, **how)

            req, created = await run_in_threadpool(general)
        notice = f"重复上报,已合并到事件 {req.duplicate_of}" if req.duplicate_of else "已受理 / received"
        # the token is answered to the report that made it, and to its retries (derived again from their key)
        token = how["rating_token"] if created or token_fits(req.rating_token, how["rating_token"]) else None
        body = [
            {
                "service_request_id": str(req.id),
                "service_notice": notice,
                "rating_token": token,
                "track_url": track_url(request, req.id, token),
            }
        ]
        return JSONResponse(status_code=201 if created else 200, content=body)

    return await _guarded(request, settings, work)


def track_url(request: Request, request_id: int, token: str | None) -> str | None:
    """The reporter's link to follow (and later rate) the request: only they hold the token (None: no link)."""
    if token is None:
        return None
    # in the fragment: the browser keeps it, no request line, access log or Referer carries it
    return f"{request.url_for('public_track_page', request_id=request_id)}#token={quote(token, safe='')}"


def _local(value: datetime | None, settings: SettingsDep) -> datetime | None:
    """A W3C date-time; one without a UTC offset is read in the service's time zone (China Standard Time)."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=ZoneInfo(settings.requests.calendar.timezone))


@router.get("/requests.{fmt}", response_model=None)
def search(
    fmt: Format,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    service_request_id: Annotated[str | None, Query(max_length=2000, description="ids, comma separated")] = None,
    service_code: Annotated[str | None, Query(max_length=2000, description="codes, comma separated")] = None,
    start_date: Moment = None,
    end_date: Moment = None,
    status: Annotated[str | None, Query(max_length=20, description="open, closed or both")] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=open311.MAX_PAGE)] = open311.MAX_PAGE,
) -> Response:
    """Public requests, newest first, in pages of up to 1000 with a ``Link`` to the next.

    By ids (which override every other filter), or by service codes, status and a period of at most 90 days (the
    most recent 90 days by default).
    """
    try:
        query = open311.Search(
            ids=open311.parse_ids(service_request_id),
            codes=open311.parse_list(service_code, name="service_code"),
            start=_local(start_date, settings),
            end=_local(end_date, settings),
            statuses=open311.parse_list(status, ("open", "closed"), name="status"),
            page=page,
            page_size=page_size,
        )
        rows, total = open311.search_requests(session, query, now=now)
    except InvalidInput as exc:
        return answer(fmt, "errors", [{"code": 400, "description": str(exc)}], 400)
    headers = {"X-Total-Count": str(total)}
    if page * page_size < total:
        headers["Link"] = f'<{request.url.include_query_params(page=page + 1)}>; rel="next"'
    return answer(fmt, "service_requests", rows, headers=headers)


@router.get("/requests/{request_id}.{fmt}", response_model=None)
def read(request_id: RequestId, fmt: Format, session: SessionDep) -> Response:
    """A public request's view: no reporter data, the point rounded to about 100 m (staff reports are not public)."""
    view = open311.public_request(session, request_id)
    if view is None:
        return _missing(fmt, f"没有公开事件 {request_id} / no public request {request_id}")
    return answer(fmt, "service_requests", [view])


@router.post("/requests/{request_id}/rating.json", response_model=None)
async def rate(
    request_id: RequestId, request: Request, transactions: Transactions, settings: SettingsDep, now: NowDep
) -> Any:
    """评单: the reporter rates a verified request 1-5★ with the ``rating_token`` given at intake."""

    async def work(fields: dict[str, Any]) -> Any:
        stars = int(_number(fields, "stars") or 0)
        if not 1 <= stars <= 5:
            raise InvalidInput("stars must be 1 to 5")
        return await run_in_threadpool(store_rating, stars, fields)

    def store_rating(stars: int, fields: dict[str, Any]) -> Any:
        with transactions() as session:
            req = rate_public(
                session,
                request_id,
                str(fields.get("token", "")),
                stars,
                fields.get("comment"),
                now=now,
                settings=settings.requests,
            )
            return [{"service_request_id": str(req.id), "status": req.status, "status_notes": STATUS_NOTES[req.status]}]

    return await _guarded(request, settings, work)
