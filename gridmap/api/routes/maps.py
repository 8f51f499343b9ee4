"""Map pages: coverage, hot spots, blocked lanes (leaders, planners), my grid (grid workers), plan diff (planners).

Each page is a folium map rendered with local assets only, under a navigation bar.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from html import escape
from typing import Any

import folium
import geopandas as gpd
import pandas as pd
from branca.element import Element
from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse
from sqlalchemy import select

from gridmap import policy
from gridmap.api.deps import NowDep, PageLeader, PagePlanner, PageWorker, SessionDep, SettingsDep
from gridmap.api.params import Moment
from gridmap.api.threads import map_threads
from gridmap.auth.service import user_grids
from gridmap.db.models import RequestCategory, Role, User
from gridmap.errors import InvalidInput, NotFound
from gridmap.maps import analysis, data
from gridmap.maps.assets import render_offline
from gridmap.maps.base import figure
from gridmap.maps.coverage import city_coverage_map, coverage_map
from gridmap.maps.diff import plan_diff_map
from gridmap.maps.hotspots import hotspot_map
from gridmap.maps.lanes import lanes_map
from gridmap.maps.workers import my_grid_map
from gridmap.partition.handover import grid_workers
from gridmap.partition.service import published_plan
from gridmap.requests.sla import Limits, WorkCalendar, sla_state

router = APIRouter(include_in_schema=False)


def page(m: folium.Map, user: User, title: str) -> HTMLResponse:
    """The map as an offline page with the navigation bar: the pages the user's role may open (``policy``)."""
    links = " ".join(f'<a href="{escape(p.href)}">{escape(p.zh)}</a>' for p in policy.links(user.role))
    bar = (
        '<div id="gm-bar" style="position:fixed;top:0;left:0;right:0;height:44px;z-index:1100;background:#1a73e8;'
        'color:#fff;display:flex;gap:14px;align-items:center;padding:0 12px;font:14px sans-serif;overflow-x:auto">'
        f"<b>{escape(title)}</b>{links}<span style='margin-left:auto'>{escape(user.username)}</span></div>"
        "<style>#gm-bar a{color:#fff;white-space:nowrap}"
        ".folium-map{top:44px!important;height:calc(100% - 44px)!important}"
        "@media (max-width:600px){ #side-panel{display:none} }</style>"
    )
    figure(m).html.add_child(Element(bar))
    figure(m).header.add_child(Element('<meta name="viewport" content="width=device-width, initial-scale=1">'))
    return HTMLResponse(render_offline(m))


def _plan_id(session: SessionDep) -> int:
    plan = published_plan(session=session)
    if plan is None:
        raise NotFound("no published plan yet: run `gridmap partition --all --publish` or `gridmap demo`")
    return plan.id


def _window(now: datetime, days: int, since: datetime | None, until: datetime | None) -> tuple[datetime, datetime]:
    end = until or now + timedelta(seconds=1)
    return since or end - timedelta(days=days), end


def _bounds(frame: gpd.GeoDataFrame) -> tuple[float, float, float, float]:
    x0, y0, x1, y1 = frame.to_crs(4326).total_bounds
    return float(x0), float(y0), float(x1), float(y1)


# Above this many grids the coverage page draws the plan from the vector tiles (a 街道 of 300 grids embeds them:
# labels, gaps and folium tooltips; a city of 51,744 grids embedded 6.5 MB of GeoJSON and 300,000 streets).
COVERAGE_TILES_ABOVE = 2000


@router.get("/maps/coverage", response_class=HTMLResponse)
@map_threads
def coverage(
    user: PageLeader,
    session: SessionDep,
    settings: SettingsDep,
    color_by: str = Query("households", pattern="^(households|deviation)$"),
) -> HTMLResponse:
    """Grids by households or deviation, buildings by grid (vector tiles, from zoom 14), gaps, unassigned, compounds."""
    plan = _plan_id(session)
    p = settings.partition
    n_grids, bounds = data.plan_extent(session, plan)
    if n_grids > COVERAGE_TILES_ABOVE and bounds is not None:
        # a city's plan: everything from the vector tiles (the unassigned buildings asked for by the page itself)
        city = city_coverage_map(bounds, color_by=color_by, target=p.target, band=(p.min, p.max), tiles=settings.tiles)
        return page(city, user, "网格覆盖 Coverage")
    grids, loose = data.plan_grids(session, plan), data.unassigned_buildings(session, plan)
    m = coverage_map(
        grids,
        loose,
        building_tiles=True,
        study_area=data.coverage_area(session, p.study_buffer_m),
        compounds=data.compounds(session),
        streets=data.streets(session, _bounds(grids)),
        color_by=color_by,
        target=p.target,
        band=(p.min, p.max),
        tiles=settings.tiles,
    )
    return page(m, user, "网格覆盖 Coverage")


def _categories(session: SessionDep, category: list[str] | None) -> list[str] | None:
    if not category:
        return None
    known = set(session.scalars(select(RequestCategory.code)).all())
    unknown = sorted(set(category) - known)
    if unknown:
        raise InvalidInput(f"unknown categories {unknown}; use codes from GET /api/categories")
    return category


@router.get("/maps/hotspots", response_class=HTMLResponse)
@map_threads
def hotspots(
    user: PageLeader,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    category: list[str] | None = Query(None),
    days: int = Query(30, ge=1, le=366),
    since: Moment = None,
    until: Moment = None,
    top: int = Query(10, ge=1, le=50),
) -> HTMLResponse:
    """Request density and Gi* hot spots (H3 cells, FDR 5%) for a category and time window."""
    start, end = _window(now, days, since, until)
    plan = _plan_id(session)
    grids = data.plan_grids(session, plan)
    reqs = data.requests(session, since=start, until=end, categories=_categories(session, category))
    area = data.coverage_area(session, settings.partition.study_buffer_m)
    cells = analysis.gi_star_cells(reqs, area) if area is not None else gpd.GeoDataFrame()
    label = f"{start:%m-%d}–{end:%m-%d}" + (f" · {','.join(category)}" if category else "")
    m = hotspot_map(
        reqs,
        cells,
        bounds=_bounds(grids),
        streets=data.streets(session, _bounds(grids)),
        grids=grids,
        top=top,
        subtitle=label,
        tiles=settings.tiles,
    )
    return page(m, user, f"诉求热点 Hot spots ({len(reqs)})")


@router.get("/maps/lanes", response_class=HTMLResponse)
@map_threads
def lanes(
    user: PageLeader,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    days: int = Query(30, ge=1, le=366),
    since: Moment = None,
    until: Moment = None,
    min_reports: int = Query(3, ge=1),
    min_days: int = Query(3, ge=1),
    radius_m: float = Query(30.0, gt=0, le=200),
) -> HTMLResponse:
    """Lane-blocking requests on street segments, coloured by reports per 100 m; worst lanes listed."""
    start, end = _window(now, days, since, until)
    plan = _plan_id(session)
    bounds = _bounds(data.plan_grids(session, plan))
    streets = data.streets(session, bounds)
    reqs = data.requests(session, since=start, until=end, lane_blocking=True)
    lanes_only = streets[streets["street_class"].isin(analysis.LANE_CLASSES)]
    segments = analysis.lane_reports(
        reqs,
        lanes_only,
        radius_m=radius_m,
        min_reports=min_reports,
        min_days=min_days,
        timezone=settings.requests.calendar.timezone,
    )
    rule = (
        f"反复发生: ≥{min_reports}次且≥{min_days}天 / recurring: ≥{min_reports} reports on ≥{min_days} days; "
        f"{start:%m-%d}–{end:%m-%d}"
    )
    m = lanes_map(
        segments, analysis.worst_lanes(segments), bounds=bounds, streets=streets, rule=rule, tiles=settings.tiles
    )
    return page(m, user, f"堵巷 Blocked lanes ({len(reqs)})")


def _when(value: Any) -> datetime | None:
    if value is None or pd.isna(value):
        return None
    stamp: datetime = pd.Timestamp(value).to_pydatetime()
    return stamp


def _overdue(frame: pd.DataFrame, now: datetime, calendar: WorkCalendar) -> list[bool]:
    flags = []
    for r in frame.to_dict("records"):
        limits = Limits(
            int(r["respond_minutes"]), int(r["accept_minutes"]), int(r["resolve_minutes"]), bool(r["working_hours"])
        )
        created = _when(r["created_at"])
        assert created is not None
        state = sla_state(
            limits=limits,
            created_at=created,
            responded_at=_when(r["responded_at"]),
            dispatched_at=_when(r["dispatched_at"]),
            accepted_at=_when(r["accepted_at"]),
            resolved_at=_when(r["resolved_at"]),
            now=now,
            calendar=calendar,
        )
        flags.append(state.escalation != "none")
    return flags


@router.get("/maps/my-grid", response_class=HTMLResponse)
@map_threads
def my_grid(user: PageWorker, session: SessionDep, settings: SettingsDep, now: NowDep) -> HTMLResponse:
    """A grid worker's own grids, their buildings and open requests (coloured by status, overdue outlined)."""
    plan = _plan_id(session)
    codes = user_grids(session=session, user=user) if user.role is Role.grid_worker else None
    grids = data.plan_grids(session, plan, codes)
    if grids.empty:
        raise NotFound("您还没有分配网格 / no grid is assigned to you: ask an administrator")
    reqs = data.requests(
        session,
        since=now - timedelta(days=3650),
        until=now + timedelta(seconds=1),
        grid_codes=list(grids["grid_code"]),
        open_only=True,
    )
    reqs["overdue"] = _overdue(reqs, now, WorkCalendar(settings.requests.calendar))
    m = my_grid_map(
        grids,
        data.plan_buildings(session, plan, list(grids["grid_code"])),
        reqs,
        streets=data.streets(session, _bounds(grids)),
        tiles=settings.tiles,
    )
    return page(m, user, f"我的网格 My grid · {len(reqs)} 待办")


@router.get("/maps/plan-diff", response_class=HTMLResponse)
@map_threads
def plan_diff(user: PagePlanner, session: SessionDep, settings: SettingsDep, plan_id: int) -> HTMLResponse:
    """A draft against the published plan, changed buildings highlighted."""
    published = _plan_id(session)
    old, new = data.plan_buildings(session, published), data.plan_buildings(session, plan_id)
    merged = new.rename(columns={"grid_code": "draft_code"})
    merged["published_code"] = old.set_index("building_id")["grid_code"].reindex(merged["building_id"]).to_numpy()
    m = plan_diff_map(
        data.plan_grids(session, published),
        data.plan_grids(session, plan_id),
        merged,
        streets=data.streets(session, _bounds(merged)),
        tiles=settings.tiles,
        workers=grid_workers(session),
    )
    return page(m, user, f"方案对比 Plan diff · 草稿 {plan_id}")
