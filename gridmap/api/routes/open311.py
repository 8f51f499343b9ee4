"""Public intake: Open311 GeoReport v2 (services, create and read requests) plus the reporter's rating.

Form-encoded bodies as the standard says, or JSON. Errors are Open311 error lists with a 4xx status. POSTs are
rate-limited per client address and limited in size; an ``Idempotency-Key`` header makes retries safe.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from limits import parse
from pydantic import ValidationError
from sqlalchemy import select

from gridmap.api.client import client_address
from gridmap.api.deps import NowDep, SessionDep, SettingsDep, Transactions
from gridmap.api.errors import status_for
from gridmap.db.models import RequestCategory, ServiceRequest
from gridmap.errors import GridmapError, InvalidInput, TooManyRequests
from gridmap.requests.categories import known_category
from gridmap.requests.fast_intake import submit_point
from gridmap.requests.schemas import NewRequest
from gridmap.requests.service import PUBLIC, rate_public, submit
from gridmap.requests.states import OPEN, Status
from gridmap.requests.views import lonlat

router = APIRouter(prefix="/open311/v2", tags=["open311"])
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)]
RequestId = Annotated[int, Path(ge=1, le=2**31 - 1, description="service_request_id")]
PUBLIC_CHANNEL = "open311"
PUBLIC_DECIMALS = 3  # 0.001° is about 100 m north-south (90 m east-west here): the street, not the door
STATUS_NOTES = {s.value: s.value for s in Status} | {
    "reported": "已上报",
    "taken": "网格员已接单",
    "escalated": "已上报社区",
    "triaged": "社区已分单",
    "dispatched": "已派单",
    "accepted": "部门已接单",
    "returned": "部门退单,待重新派单",
    "resolved": "已办结,待核查",
    "verified": "已核查,待评价",
    "closed": "已结案",
    "reopened": "评价不满意,已重新打开",
    "merged": "重复上报,已合并",
}


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


@router.get("/services.json")
def services(session: SessionDep) -> list[dict[str, Any]]:
    """The request categories as Open311 services."""
    rows = session.scalars(select(RequestCategory).where(RequestCategory.active).order_by(RequestCategory.code))
    return [
        {
            "service_code": c.code,
            "service_name": c.name_zh,
            "description": c.name_en,
            "metadata": False,
            "type": "realtime",
            "keywords": "blocks_lane" if c.blocks_lane else "",
            "group": c.department,
        }
        for c in rows
    ]


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
            "idempotency_key": idempotency_key,
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
        body = [
            {
                "service_request_id": str(req.id),
                "service_notice": notice,
                "rating_token": req.rating_token,
                "track_url": track_url(request, req),
            }
        ]
        return JSONResponse(status_code=201 if created else 200, content=body)

    return await _guarded(request, settings, work)


def track_url(request: Request, req: ServiceRequest) -> str:
    """The reporter's link to follow (and later rate) the request: only they hold the token."""
    return str(request.url_for("public_track_page", request_id=req.id).include_query_params(token=req.rating_token))


@router.get("/requests/{request_id}.json", response_model=None)
def read(request_id: RequestId, session: SessionDep) -> Any:
    """A public request's view: no reporter data, the point rounded to about 100 m (staff reports are not public)."""
    req = session.get(ServiceRequest, request_id)
    if req is None or req.channel != PUBLIC_CHANNEL:
        return _error(404, f"没有公开事件 {request_id} / no public request {request_id}")
    cat = session.get_one(RequestCategory, req.category)
    lon, lat = lonlat(req)
    return [
        {
            "service_request_id": str(req.id),
            "status": "open" if Status(req.status) in OPEN else "closed",
            "status_notes": STATUS_NOTES[req.status],
            "service_name": cat.name_zh,
            "service_code": cat.code,
            "description": req.description,
            "agency_responsible": req.department,
            "requested_datetime": req.created_at.isoformat(),
            "updated_datetime": (req.updated_at or req.created_at).isoformat(),
            # the address a resident typed names a home as exactly as a point: left out, like the point's decimals
            "address": None,
            "lat": None if lat is None else round(lat, PUBLIC_DECIMALS),
            "long": None if lon is None else round(lon, PUBLIC_DECIMALS),
            "media_url": next((p for p in req.photos if not p.startswith("/api/")), None),  # staff-only photos stay
        }
    ]


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
