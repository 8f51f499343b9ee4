"""Reporting (上报): the phone form for staff, the residents' public form and track page, and what they ask.

Pages: ``/report`` (网格员, 社区), ``/public/report`` and ``/public/requests/{id}#token=…`` (no login), and the
service worker ``/sw.js`` that keeps the form working offline (served from the root so its scope covers them).
The form reports through ``POST /api/requests`` (staff) or Open311 (residents); the routes here answer where a
point falls, address suggestions while typing, the map backdrop and a resident's view of the request.
Public reads are rate-limited per client (``GRIDMAP_REQUESTS__PUBLIC_READ_RATE``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response, UploadFile, status
from fastapi.responses import FileResponse, HTMLResponse
from limits import parse

from gridmap.api.client import client_address
from gridmap.api.deps import CurrentUser, NowDep, SessionDep, SettingsDep, page_role
from gridmap.api.geojson import BBOX, feature_collection, parse_bbox
from gridmap.api.threads import map_threads
from gridmap.db.models import User
from gridmap.errors import InvalidInput, TooManyRequests
from gridmap.policy import REPORTERS
from gridmap.requests import reporting
from gridmap.resources import FRONTEND
from gridmap.settings import Settings
from gridmap.spatial.crs import CoordSys

router = APIRouter(tags=["reporting"])
PageReporter = Annotated[User, Depends(page_role(*REPORTERS))]
Typed = Annotated[str, Query(min_length=1, max_length=100, description="what was typed so far: 小区, 楼栋 or 门牌")]
Limit = Annotated[int, Query(ge=1, le=20)]
Lon = Annotated[float, Query(ge=-180, le=180)]
Lat = Annotated[float, Query(ge=-90, le=90)]
Zoom = Annotated[int | None, Query(ge=0, le=22, description="map zoom: geometries simplified to about a pixel")]
RequestId = Annotated[int, Path(ge=1, le=2**31 - 1, description="the request's number")]
MAX_BOX_DEGREES = 0.1  # about 10 km: a phone's map never asks for more
NO_TOKEN = "缺少事件链接的令牌,请打开上报后收到的链接 / the link's token is missing: open the link you were given"


def link_token(
    header: Annotated[str | None, Header(alias="X-Request-Token", min_length=1, max_length=100)] = None,
    query: Annotated[
        str | None, Query(alias="token", min_length=1, max_length=100, description="older links; prefer the header")
    ] = None,
) -> str:
    """The resident's link token, from the ``X-Request-Token`` header or (links made before) ``?token=``.

    The track page sends the header from the link's ``#token=`` fragment, which no server, log or referrer sees.
    """
    token = header or query
    if not token:
        raise InvalidInput(NO_TOKEN)
    return token


LinkToken = Annotated[str, Depends(link_token)]


def _page(name: str) -> HTMLResponse:
    return HTMLResponse((FRONTEND / name).read_text(encoding="utf-8"))


def _limit_reads(request: Request, settings: Settings) -> None:
    client = client_address(request, settings)
    rate = settings.requests.public_read_rate
    if not request.app.state.limiter.hit(parse(rate), "public-read", client):
        raise TooManyRequests(f"请求过于频繁,请稍后再试 / too many requests from {client}; at most {rate}")


@router.get("/report", response_class=HTMLResponse, include_in_schema=False)
def report_page(_: PageReporter) -> HTMLResponse:
    """The report form for 网格员 and 社区 staff (phone-first, works offline)."""
    return _page("report.html")


@router.get("/public/report", response_class=HTMLResponse, include_in_schema=False)
def public_report_page() -> HTMLResponse:
    """The residents' report form (no login; Open311 intake)."""
    return _page("public_report.html")


@router.get("/public/requests/{request_id}", response_class=HTMLResponse, include_in_schema=False)
def public_track_page(request_id: RequestId) -> HTMLResponse:
    """A resident's page of their request: status, trail and the rating once it is checked."""
    return _page("public_track.html")


@router.get("/sw.js", include_in_schema=False)
def service_worker() -> FileResponse:
    """The service worker, from the root so that its scope covers ``/report`` and ``/public/report``."""
    return FileResponse(
        FRONTEND / "static" / "sw.js",
        media_type="text/javascript",
        headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": "/"},
    )


@router.get("/api/geocode/suggest")
def suggest(_: CurrentUser, session: SessionDep, q: Typed, limit: Limit = 8) -> list[dict[str, Any]]:
    """小区, 地标 (landmarks), 楼栋 and 门牌 whose name contains ``q``, with their points (for the address box)."""
    return reporting.suggestions(session, q, limit)


@router.get("/api/geocode/where")
def where(
    _: CurrentUser, session: SessionDep, settings: SettingsDep, lon: Lon, lat: Lat, coord_sys: CoordSys = CoordSys.wgs84
) -> dict[str, Any]:
    """The grid a point would go to (``inside``, ``snapped`` to the nearest, or ``outside_coverage`` + distance)."""
    return reporting.where(
        session, lon=lon, lat=lat, coord_sys=coord_sys, snap_outside_m=settings.requests.snap_outside_m
    )


@router.get("/public/api/geocode/suggest")
def public_suggest(
    request: Request, session: SessionDep, settings: SettingsDep, q: Typed, limit: Limit = 8
) -> list[dict[str, Any]]:
    """Address suggestions for the residents' form (rate-limited)."""
    _limit_reads(request, settings)
    return reporting.suggestions(session, q, limit)


@router.get("/public/api/geocode/where")
def public_where(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    lon: Lon,
    lat: Lat,
    coord_sys: CoordSys = CoordSys.wgs84,
) -> dict[str, Any]:
    """The grid of a point, for the residents' form (rate-limited)."""
    _limit_reads(request, settings)
    return reporting.where(
        session, lon=lon, lat=lat, coord_sys=coord_sys, snap_outside_m=settings.requests.snap_outside_m
    )


@router.get("/public/api/grids")
@map_threads
def public_grids(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    """Outlines of the published grids (code and name), the frame of the report map."""
    _limit_reads(request, settings)
    return feature_collection(reporting.published_grids(session), ["grid_code", "grid_name"])


@router.get("/public/api/backdrop")
@map_threads
def public_backdrop(
    request: Request, session: SessionDep, settings: SettingsDep, bbox: str | None = BBOX, zoom: Zoom = None
) -> Response:
    """Buildings and streets in ``bbox`` (at most 0.1° a side): the report map's backdrop when there are no tiles."""
    _limit_reads(request, settings)
    try:
        box = parse_bbox(bbox)
    except ValueError as exc:
        raise InvalidInput(f"bbox 格式错误 / bad bbox {bbox!r}: give minlon,minlat,maxlon,maxlat") from exc
    if box is None or not (0 < box[2] - box[0] <= MAX_BOX_DEGREES and 0 < box[3] - box[1] <= MAX_BOX_DEGREES):
        raise InvalidInput(
            f"bbox 必填且每边不超过 {MAX_BOX_DEGREES}° / bbox is required, min before max, at most "
            f"{MAX_BOX_DEGREES}° a side"
        )
    return feature_collection(reporting.backdrop(session, box, zoom), ["layer", "name"])


@router.get("/public/api/requests/{request_id}")
def public_track(
    request_id: RequestId,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    token: LinkToken,
) -> dict[str, Any]:
    """A request as its reporter sees it with the link from intake (status, trail; no names of people)."""
    _limit_reads(request, settings)
    return reporting.track(session, request_id, token)


@router.post("/public/api/requests/{request_id}/photos", status_code=status.HTTP_201_CREATED)
def public_photo(
    request_id: RequestId,
    photo: UploadFile,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    token: LinkToken,
) -> dict[str, Any]:
    """A resident's photo of the report just made (multipart field ``photo``; rate-limited like Open311 intake)."""
    client = client_address(request, settings)
    if not request.app.state.limiter.hit(parse(settings.requests.public_rate), "open311", client):
        raise TooManyRequests(f"提交过于频繁 / too many reports from {client}; at most {settings.requests.public_rate}")
    limit = settings.requests.max_photo_bytes
    data = photo.file.read(limit + 1)
    pixels = settings.requests.max_photo_pixels
    req = reporting.attach_public_photo(
        session, request_id, token, data, home=settings.home, now=now, max_bytes=limit, max_pixels=pixels
    )
    return {"id": req.id, "photos": len(req.photos)}
