"""Field-work map pages: 走访覆盖 (buildings by 遍访 state) and 巡查覆盖 (streets by days patrolled, a track)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import geopandas as gpd
import shapely
from fastapi import APIRouter, Depends, Query
from fastapi.responses import HTMLResponse

from gridmap.api.deps import NowDep, SessionDep, SettingsDep, page_role
from gridmap.api.routes.maps import page
from gridmap.db.models import Role, User
from gridmap.errors import NotFound
from gridmap.fieldwork import patrols, visits
from gridmap.fieldwork import queries as q
from gridmap.fieldwork.patrols import scoped_codes
from gridmap.maps import data
from gridmap.maps.base import base_map
from gridmap.maps.fieldwork import patrol_map, visit_map
from gridmap.partition.codes import AREA_PATTERN
from gridmap.policy import FIELDWORK_VIEWERS, VISIT_MAP_VIEWERS
from gridmap.settings import Settings
from gridmap.units import unit_names

router = APIRouter(include_in_schema=False)
VisitViewer = Annotated[User, Depends(page_role(*VISIT_MAP_VIEWERS))]
PatrolViewer = Annotated[User, Depends(page_role(*FIELDWORK_VIEWERS))]
GridParam = Annotated[str | None, Query(pattern=AREA_PATTERN, description="a grid code or a 社区/街道 prefix")]


def _codes_or_none(session: SessionDep, user: User, grid_code: str | None) -> list[str] | None:
    try:
        return scoped_codes(session, user, grid_code)
    except NotFound:
        return None


def _empty(session: SessionDep, user: User, settings: Settings, title: str) -> HTMLResponse:
    """A page for a unit without grids: the data's extent, and why it is empty."""
    extent = q.published_extent(session) or (73.5, 18.0, 135.0, 53.5)
    m = base_map(extent, tiles=settings.tiles)
    return page(m, user, f"{title} · 本辖区没有网格 / no grids in your unit")


def _streets(session: SessionDep, grids: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    x0, y0, x1, y1 = (float(v) for v in grids.total_bounds)
    return data.streets(session, (x0, y0, x1, y1))


def _frame(records: list[dict[str, object]]) -> gpd.GeoDataFrame:
    geoms = [shapely.from_wkt(str(r.pop("wkt"))) for r in records]
    return gpd.GeoDataFrame(records, geometry=geoms, crs=4326)


@router.get("/maps/visits", response_class=HTMLResponse)
def visits_page(
    user: VisitViewer, session: SessionDep, settings: SettingsDep, now: NowDep, grid_code: GridParam = None
) -> HTMLResponse:
    """Buildings coloured by 遍访 state this period; per grid the share of households visited."""
    codes = _codes_or_none(session, user, grid_code)
    if codes is None:
        return _empty(session, user, settings, "走访覆盖 Visits")
    today = now.astimezone(ZoneInfo(settings.requests.calendar.timezone)).date()
    found = visits.states(session, codes, today=today, plans=settings.fieldwork.visits_per_year)
    buildings = _frame(
        [
            b
            | {
                "state": s.state,
                "visited_text": f"{s.visited}/{s.households} 户 (本月 {s.this_month})",
                "last_visit": s.last_visit.isoformat() if s.last_visit else "—",
                "visited": s.visited,
            }
            for b, s in found
        ]
    )
    grids = _frame(q.grid_outlines(session, codes))
    names = unit_names(session, codes)
    grids["name"] = [names[c] for c in grids["grid_code"]]
    shares = []
    for code, total in zip(grids["grid_code"], grids["households"], strict=True):
        mine = buildings[buildings["grid_code"] == code]
        done, homes = int(mine["visited"].sum()), int(mine["households"].sum()) or int(total)
        shares.append(f"{done}/{homes} 户 ({done / homes:.0%})" if homes else "—")
    grids["share_text"] = shares
    route: list[tuple[float, float, str]] = []
    path: list[tuple[float, float]] = []
    if user.role is Role.grid_worker:  # the worker's own route of the day
        stops, _, path = visits.suggested_route(session, codes, today=today, settings=settings.fieldwork, start=None)
        route = [(b["lon"], b["lat"], str(b["name"])) for b, _ in stops]
    m = visit_map(grids, buildings, streets=_streets(session, grids), tiles=settings.tiles, route=route, path=path)
    return page(m, user, f"走访覆盖 Visits · {today:%Y-%m}")


@router.get("/maps/patrols", response_class=HTMLResponse)
def patrols_page(
    user: PatrolViewer,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    day: date | None = Query(None, description="the day (default: today), Asia/Shanghai"),
    days: int = Query(1, ge=1, le=31, description="1: that day; 7: the week ending that day"),
    grid_code: GridParam = None,
    track: int | None = Query(None, ge=1, le=2**31 - 1, description="a patrol whose track to show (logged)"),
) -> HTMLResponse:
    """Streets of each grid coloured by the days patrolled, grids without a patrol today, a worker's track."""
    zone = ZoneInfo(settings.requests.calendar.timezone)
    today = now.astimezone(zone).date()
    last = day or today
    until = datetime.combine(last + timedelta(days=1), time(), zone)
    since = until - timedelta(days=days)
    codes = _codes_or_none(session, user, grid_code)
    if codes is None:
        return _empty(session, user, settings, "巡查覆盖 Patrols")
    fw = settings.fieldwork
    pieces = _frame(q.street_days(session, codes, since=since, until=until, tz=str(zone), street_m=fw.street_buffer_m))
    grids = _frame(q.grid_outlines(session, codes))
    names = unit_names(session, codes)
    start_today = datetime.combine(today, time(), zone)
    todays = q.patrolled_grids(session, codes, since=start_today, until=start_today + timedelta(days=1))
    counts = q.patrolled_grids(session, codes, since=since, until=until)
    grids["name"] = [names[c] for c in grids["grid_code"]]
    grids["no_patrol_today"] = [c not in todays for c in grids["grid_code"]]
    grids["patrols_text"] = [
        f"{counts.get(c, 0)} 次 · {'今日未巡查' if c not in todays else '今日已巡查'}" for c in grids["grid_code"]
    ]
    shown = None
    if track is not None:
        reason = f"巡查覆盖地图查看轨迹 / patrol map, {last:%Y-%m-%d}"
        feature = patrols.track(session, track, user=user, now=now, settings=fw, reason=reason)
        if feature.geometry:
            shown = gpd.GeoDataFrame(
                [{"worker": feature.properties.worker}], geometry=[shapely.geometry.shape(feature.geometry)], crs=4326
            )
    listed = patrols.list_patrols(
        session, user=user, now=now, settings=fw, since=since, until=until, grid_code=grid_code, reason=None
    )
    links = []
    for f in listed.features:
        p = f.properties
        when = p.started_at.astimezone(zone)
        query = urlencode(
            {"day": last.isoformat(), "days": days, "track": p.id} | ({"grid_code": grid_code} if grid_code else {})
        )
        short = " · 不足时长 short" if p.short else ""
        label = f"{p.worker} · {when:%m-%d %H:%M} · {p.minutes or 0:.0f} 分钟 · {p.grid_name or '—'}{short}"
        links.append({"href": f"/maps/patrols?{query}", "label": label})
    m = patrol_map(grids, pieces, track=shown, streets=_streets(session, grids), tiles=settings.tiles, patrols=links)
    missing = int(grids["no_patrol_today"].sum())
    return page(m, user, f"巡查覆盖 Patrols · {since.date():%m-%d}–{last:%m-%d} · 今日未巡查 {missing} 网格")
