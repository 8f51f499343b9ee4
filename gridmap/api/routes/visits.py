"""Visits (走访): record, photo, turn into a request; today's suggested route to the most overdue buildings."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Header, Query, Response, UploadFile, status
from fastapi import Path as PathParam
from fastapi.responses import FileResponse
from pydantic import BaseModel

from gridmap.api.deps import CurrentUser, NowDep, SessionDep, SettingsDep
from gridmap.auth.service import user_grids
from gridmap.errors import NotFound
from gridmap.fieldwork import visits
from gridmap.fieldwork.kinds import KIND_NAMES
from gridmap.fieldwork.patrols import scoped_codes
from gridmap.fieldwork.schemas import KEY, VisitIn, VisitOut, VisitToRequest
from gridmap.partition.codes import AREA_PATTERN
from gridmap.requests.photos import MEDIA_TYPES
from gridmap.settings import Settings

router = APIRouter(tags=["visits"])
VisitId = Annotated[int, PathParam(ge=1, le=2**31 - 1)]
GridParam = Annotated[str | None, Query(pattern=AREA_PATTERN, description="a grid code or a 社区/街道 prefix")]
PhotoName = Annotated[str, PathParam(pattern=r"^[0-9a-f]{24}\.(jpg|png|webp)$")]
IdempotencyKey = Annotated[
    str | None, Header(alias="Idempotency-Key", pattern=KEY, description="made by the phone: a resend stores once")
]
STATE_NAMES = {"done": "本期已完成", "partial": "进行中", "due": "待访", "overdue": "逾期"}


class VisitKindOut(BaseModel):
    """A visit kind with its plan."""

    code: str
    name_zh: str
    name_en: str
    visits_per_year: int


class RouteStop(BaseModel):
    """A building on today's route."""

    order: int
    building_id: int
    name: str
    grid_code: str | None
    state: str
    state_name: str
    last_visit: str | None
    lon: float
    lat: float


class BuildingVisits(BaseModel):
    """A building of one's grids with its 遍访 state this period."""

    building_id: int
    name: str
    grid_code: str | None
    households: int
    state: str
    state_name: str
    visited: int
    this_month: int
    last_visit: str | None


class VisitBuildings(BaseModel):
    """Today (the server's, in the service's time zone) and the buildings with their 遍访 state."""

    today: date
    buildings: list[BuildingVisits]


class SuggestedRoute(BaseModel):
    """Today's route: stops in walking order, the walking metres, and the path (GeoJSON LineString)."""

    stops: list[RouteStop]
    walking_m: float
    path: dict[str, object] | None


def local_day(now: datetime, settings: Settings) -> date:
    """Today in the service's time zone (Asia/Shanghai by default)."""
    return now.astimezone(ZoneInfo(settings.requests.calendar.timezone)).date()


def _day(day: date | None) -> str | None:
    return day.isoformat() if day else None


@router.get("/api/visit-kinds", response_model=list[VisitKindOut])
def visit_kinds(_: CurrentUser, settings: SettingsDep) -> list[VisitKindOut]:
    """Visit kinds and their plans (visits per year, from the configuration)."""
    plans = settings.fieldwork.visits_per_year
    return [
        VisitKindOut(code=k.value, name_zh=zh, name_en=en, visits_per_year=plans.get(k.value, 0))
        for k, (zh, en) in KIND_NAMES.items()
    ]


@router.post(
    "/api/visits",
    response_model=VisitOut,
    status_code=status.HTTP_201_CREATED,
    responses={200: {"model": VisitOut, "description": "a resend: the visit first stored under this key"}},
)
def record_visit(
    body: VisitIn,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> VisitOut:
    """Record a visit at a building (or 单元/室) of your grids.

    Send an ``Idempotency-Key`` header (or ``key``): a resend after a lost answer returns the visit first stored
    (200) and stores nothing twice. ``made_at`` is the phone's time of the visit (it may have waited offline): at
    most ``visit_clock_skew_minutes`` ahead of the server and ``visit_max_age_days`` old, else 422.
    """
    zone = ZoneInfo(settings.requests.calendar.timezone)
    out, created = visits.record(
        session, body, user=user, now=now, settings=settings.fieldwork, zone=zone, key=idempotency_key
    )
    if not created:
        response.status_code = status.HTTP_200_OK
    return out


@router.get("/api/visits", response_model=list[VisitOut])
def list_visits(
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    days: int = Query(31, ge=1, le=400, description="the last this many days"),
    limit: int = Query(200, ge=1, le=1000),
) -> list[VisitOut]:
    """Visits in your scope, newest first."""
    today = local_day(now, settings)
    return visits.list_visits(
        session, user=user, since=today - timedelta(days=days - 1), until=today + timedelta(days=2), limit=limit
    )


@router.post("/api/visits/{visit_id}/photos", response_model=VisitOut, status_code=status.HTTP_201_CREATED)
def upload_visit_photo(
    visit_id: VisitId, photo: UploadFile, user: CurrentUser, session: SessionDep, settings: SettingsDep
) -> VisitOut:
    """Add a photo (JPEG, PNG or WebP, the request photos' limits); stored without EXIF/GPS metadata."""
    limit = settings.requests.max_photo_bytes
    data = photo.file.read(limit + 1)
    return visits.add_photo(
        session,
        visit_id,
        data,
        user=user,
        home=settings.home,
        max_bytes=limit,
        max_pixels=settings.requests.max_photo_pixels,
    )


@router.get("/api/visits/{visit_id}/photos/{name}")
def read_visit_photo(
    visit_id: VisitId, name: PhotoName, user: CurrentUser, session: SessionDep, settings: SettingsDep
) -> FileResponse:
    """A photo of a visit you may see."""
    found = visits.read(session, visit_id, user=user)
    if visits.visit_photo_url(visit_id, name) not in found.photos:
        raise NotFound(f"走访记录 {visit_id} 没有照片 {name} / visit {visit_id} has no photo {name}")
    path = visits.visit_photo_folder(settings.home, visit_id) / name
    return FileResponse(path, media_type=MEDIA_TYPES[name.rsplit(".", 1)[1]])


@router.post("/api/visits/{visit_id}/request", response_model=VisitOut)
def visit_to_request(
    visit_id: VisitId, body: VisitToRequest, user: CurrentUser, session: SessionDep, settings: SettingsDep, now: NowDep
) -> VisitOut:
    """转为诉求: a request at the visit's building with its note and photos (again: the same request)."""
    return visits.to_request(
        session, visit_id, body, user=user, now=now, home=settings.home, settings=settings.requests
    )


@router.get("/api/visits/buildings", response_model=VisitBuildings)
def visit_buildings(
    user: CurrentUser, session: SessionDep, settings: SettingsDep, now: NowDep, grid_code: GridParam = None
) -> VisitBuildings:
    """The buildings of your grids (社区/街道: of your unit) with their 遍访 state, most overdue first."""
    codes = scoped_codes(session, user, grid_code)
    today = local_day(now, settings)
    found = visits.states(session, codes, today=today, plans=settings.fieldwork.visits_per_year)
    rank = {"overdue": 0, "due": 1, "partial": 2, "done": 3}
    found.sort(key=lambda x: (rank[x[1].state], x[0]["name"]))
    return VisitBuildings(
        today=today,
        buildings=[
            BuildingVisits(
                building_id=b["building_id"],
                name=b["name"],
                grid_code=b["grid_code"],
                households=b["households"],
                state=s.state,
                state_name=STATE_NAMES[s.state],
                visited=s.visited,
                this_month=s.this_month,
                last_visit=_day(s.last_visit),
            )
            for b, s in found
        ],
    )


@router.get("/api/visits/route", response_model=SuggestedRoute)
def suggested_route(
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    lon: float | None = Query(None, ge=-180, le=180),
    lat: float | None = Query(None, ge=-90, le=90),
) -> SuggestedRoute:
    """Today's route for a grid worker: the most overdue buildings of own grids, in walking order from here."""
    codes = user_grids(session=session, user=user)
    if not codes:
        raise NotFound("您还没有分配网格 / no grid is assigned to you: ask an administrator")
    start = (lon, lat) if lon is not None and lat is not None else None
    chosen, metres, path = visits.suggested_route(
        session, codes, today=local_day(now, settings), settings=settings.fieldwork, start=start
    )
    stops = [
        RouteStop(
            order=n + 1,
            building_id=b["building_id"],
            name=b["name"],
            grid_code=b["grid_code"],
            state=state.state,
            state_name=STATE_NAMES[state.state],
            last_visit=_day(state.last_visit),
            lon=b["lon"],
            lat=b["lat"],
        )
        for n, (b, state) in enumerate(chosen)
    ]
    line = {"type": "LineString", "coordinates": [list(p) for p in path]} if len(path) > 1 else None
    return SuggestedRoute(stops=stops, walking_m=round(metres, 1), path=line)
