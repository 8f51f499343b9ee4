"""The GeoDataFrames the maps are drawn from, read from the database (all EPSG:4326).

Every outline is fitted to a vertex budget (:mod:`gridmap.spatial.budget`): a feature of millions of vertices,
imported before the import caps, is drawn simplified instead of making the page hundreds of MB.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry
from sqlalchemy import text
from sqlalchemy.orm import Session

from gridmap.partition.adjacency import study_area
from gridmap.spatial.budget import fitted_sql
from gridmap.spatial.crs import metric_crs


def _frame(session: Session, sql: str, **params: Any) -> gpd.GeoDataFrame:
    frame = gpd.read_postgis(text(sql), session.connection(), geom_col="geom", params=params, crs=4326)
    return frame.rename_geometry("geometry")


def plan_grids(session: Session, plan_id: int, codes: list[str] | None = None) -> gpd.GeoDataFrame:
    """Grids of a plan with their grid workers' names."""
    only = "AND g.code = ANY(:codes)" if codes is not None else ""
    geom = f"{fitted_sql('g.geom')} AS geom"
    return _frame(
        session,
        "SELECT g.code AS grid_code, g.households, g.n_buildings, g.locked, "
        "coalesce((SELECT string_agg(coalesce(u.full_name, u.username), '、' ORDER BY u.username) "
        "FROM user_grids ug JOIN users u ON u.id = ug.user_id AND u.role = 'grid_worker' "
        "WHERE ug.grid_code = g.code), '未配备') AS worker, "
        f"{geom} FROM grids g WHERE g.plan_id = :plan {only} ORDER BY g.code",
        plan=plan_id,
        codes=codes,
    )


def plan_extent(session: Session, plan_id: int) -> tuple[int, tuple[float, float, float, float] | None]:
    """How many grids a plan has and their bounds (x0, y0, x1, y1; None without grids): a city page needs no more."""
    n, x0, y0, x1, y1 = session.execute(
        text(
            "SELECT n, ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) "
            "FROM (SELECT count(*) AS n, ST_Extent(geom) AS e FROM grids WHERE plan_id = :plan) q"
        ),
        {"plan": plan_id},
    ).one()
    return int(n), None if x0 is None else (float(x0), float(y0), float(x1), float(y1))


def grid_at(session: Session, plan_id: int, lon: float, lat: float) -> dict[str, Any] | None:
    """The grid of a plan holding the point (GiST index on ``grids.geom``): code, 户数, 楼栋, 社区, staffed or not.

    Whether a 网格员 is assigned, not who: the coverage page shows no names of people.
    """
    row = session.execute(
        text(
            "SELECT g.code, g.households, g.n_buildings, EXISTS (SELECT 1 FROM user_grids ug JOIN users u "
            "ON u.id = ug.user_id AND u.role = 'grid_worker' WHERE ug.grid_code = g.code) AS staffed "
            "FROM grids g WHERE g.plan_id = :plan "
            "AND ST_Intersects(g.geom, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)) "
            "ORDER BY g.code LIMIT 1"
        ),
        {"plan": plan_id, "lon": lon, "lat": lat},
    ).mappings().first()
    return None if row is None else dict(row)


def plan_buildings(session: Session, plan_id: int, codes: list[str] | None = None) -> gpd.GeoDataFrame:
    """Residential buildings with their grid code in a plan (None: unassigned)."""
    only = "AND g.code = ANY(:codes)" if codes is not None else ""
    return _frame(
        session,
        "SELECT b.id AS building_id, b.name, b.households, b.compound_id, g.code AS grid_code, "
        # the 楼长 record (gridmap.people): the name only, its phone is personal data kept encrypted
        "coalesce((SELECT p.name FROM grid_posts r JOIN people p ON p.id = r.person_id "
        "WHERE r.role = 'building_head' AND r.building_id = b.id), '未登记 not recorded') AS head, "
        f"{fitted_sql('b.geom')} AS geom "
        "FROM buildings b "
        "LEFT JOIN grid_assignments a ON a.building_id = b.id AND a.plan_id = :plan "
        f"LEFT JOIN grids g ON g.id = a.grid_id WHERE b.is_residential {only} ORDER BY b.id",
        plan=plan_id,
        codes=codes,
    )


def unassigned_buildings(session: Session, plan_id: int) -> gpd.GeoDataFrame:
    """Residential buildings no grid of the plan holds (the coverage page draws the others from vector tiles)."""
    return _frame(
        session,
        "SELECT b.id AS building_id, b.name, b.households, b.compound_id, NULL::text AS grid_code, b.geom "
        "FROM buildings b LEFT JOIN grid_assignments a ON a.building_id = b.id AND a.plan_id = :plan "
        "WHERE b.is_residential AND a.building_id IS NULL ORDER BY b.id",
        plan=plan_id,
    )


_LOOSE = (
    "FROM buildings b WHERE b.is_residential AND NOT EXISTS "
    "(SELECT 1 FROM grid_assignments a WHERE a.building_id = b.id AND a.plan_id = :plan)"
)


def unassigned_sample(session: Session, plan_id: int, limit: int) -> tuple[gpd.GeoDataFrame, int]:
    """At most ``limit`` of the residential buildings no grid of the plan holds, and how many there are in all.

    A city's coverage page draws a few and counts the rest (a new 区 imported before partitioning has all of them).
    The count alone is one parallel anti-join (a count over the limited rows would walk the buildings one by one).
    """
    total = int(session.scalar(text(f"SELECT count(*) {_LOOSE}"), {"plan": plan_id}) or 0)
    frame = _frame(
        session,
        "SELECT b.id AS building_id, b.name, b.households, b.compound_id, NULL::text AS grid_code, b.geom "
        f"{_LOOSE} ORDER BY b.id LIMIT :n",
        plan=plan_id,
        n=limit if total else 0,
    )
    return frame, total


def streets(session: Session, bounds: tuple[float, float, float, float] | None = None) -> gpd.GeoDataFrame:
    """Streets (id, name, class, barrier), optionally within ``bounds``."""
    where = "WHERE geom && ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326)" if bounds else ""
    x0, y0, x1, y1 = bounds or (0, 0, 0, 0)
    return _frame(
        session,
        f"SELECT id AS street_id, name, street_class, is_barrier, {fitted_sql('geom')} AS geom FROM streets {where} "
        "ORDER BY id",
        x0=x0,
        y0=y0,
        x1=x1,
        y1=y1,
    )


def compounds(session: Session) -> gpd.GeoDataFrame:
    """小区 outlines with names."""
    return _frame(
        session,
        f"SELECT id, coalesce(name, '小区 ' || id) AS name, {fitted_sql('geom')} AS geom FROM compounds ORDER BY id",
    )


def coverage_area(session: Session, buffer_m: float) -> BaseGeometry | None:
    """What the grids must cover: 社区 polygons when loaded, else the residential buildings' hull + buffer."""
    communities = _frame(
        session, f"SELECT {fitted_sql('geom')} AS geom FROM admin_units WHERE level = 'community' AND geom IS NOT NULL"
    )
    homes = _frame(session, f"SELECT {fitted_sql('geom')} AS geom FROM buildings WHERE is_residential")
    if homes.empty:
        return None
    crs = metric_crs(homes)
    area = study_area(
        homes.to_crs(crs).geometry.to_numpy(),
        buffer_m,
        communities.to_crs(crs).geometry.to_numpy() if len(communities) else None,
    )
    back = gpd.GeoSeries([area], crs=crs).to_crs(4326).iloc[0]
    assert isinstance(back, BaseGeometry)
    return shapely.make_valid(back)


def requests(
    session: Session,
    *,
    since: datetime,
    until: datetime,
    categories: list[str] | None = None,
    lane_blocking: bool = False,
    grid_codes: list[str] | None = None,
    open_only: bool = False,
) -> gpd.GeoDataFrame:
    """Requests (not merged duplicates) reported in [since, until) with category names."""
    filters = ["r.created_at >= :since", "r.created_at < :until", "r.status <> 'merged'", "r.geom IS NOT NULL"]
    if categories:
        filters.append("r.category = ANY(:categories)")
    if lane_blocking:
        filters.append("c.blocks_lane")
    if grid_codes is not None:
        filters.append("r.grid_code = ANY(:codes)")
    if open_only:
        filters.append("r.status NOT IN ('closed', 'merged')")
    frame = _frame(
        session,
        "SELECT r.id, r.category, c.name_zh AS category_name, r.status, r.grid_code, r.created_at, r.responded_at, "
        "r.resolved_at, r.dispatched_at, r.accepted_at, c.respond_minutes, c.accept_minutes, c.resolve_minutes, "
        "c.working_hours, r.geom FROM requests r "
        f"JOIN request_categories c ON c.code = r.category WHERE {' AND '.join(filters)} ORDER BY r.id",
        since=since,
        until=until,
        categories=categories,
        codes=grid_codes,
    )
    frame["created_at"] = pd.to_datetime(frame["created_at"], utc=True)
    return frame
