"""Helping a reporter: the grid a point falls in (or the nearest one), address suggestions, the reporter's own view.

The report form asks these before and after a report: which grid a tapped point belongs to (so the 网格员 sees it
at once), which 小区/楼栋/门牌 match what is typed, and, for a resident holding the link given at intake, where
the request stands (status and trail in Chinese, without the names of staff or of the reporter).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from threading import Lock
from typing import Any

from sqlalchemy import func, literal, select
from sqlalchemy.orm import Session

from gridmap.db.models import (
    AdminUnit,
    Building,
    Grid,
    GridPlan,
    PlanStatus,
    RequestCategory,
    RequestEvent,
    ServiceRequest,
    Street,
)
from gridmap.errors import Conflict, NotFound
from gridmap.partition.codes import GridCode, community_of, is_grid_code, units_above
from gridmap.requests.link_tokens import WRONG_LINK, token_fits
from gridmap.requests.locate import (
    Fingerprint,
    buildings_version,
    gazetteer_frames,
    grid_at,
    landmark_frame,
    nearest_grid,
)
from gridmap.requests.photos import MAX_PHOTOS, clean_photo, photo_folder, photo_url, store_photo
from gridmap.requests.states import role_name
from gridmap.spatial.budget import fitted
from gridmap.spatial.crs import to_wgs84_lonlat
from gridmap.spatial.geocode.suggest import KINDS, Suggester
from gridmap.spatial.landmarks import spoken_places

STATUS_ZH = {
    "reported": "已上报,等待网格员处理",
    "taken": "网格员已接单,正在处理",
    "escalated": "已上报社区",
    "triaged": "社区已分单,等待街道派单",
    "dispatched": "已派单给职能部门",
    "accepted": "职能部门已接单,正在处理",
    "returned": "部门退单,等待重新派单",
    "resolved": "已办结,等待核查",
    "verified": "已核查,请您评价",
    "closed": "已结案",
    "reopened": "评价不满意,已重新处理",
    "merged": "重复上报,已合并到同一事件",
}
STATUS_EN = {
    "reported": "Reported, waiting for the grid worker",
    "taken": "Taken by the grid worker",
    "escalated": "Escalated to the community",
    "triaged": "Triaged, waiting for dispatch",
    "dispatched": "Dispatched to a department",
    "accepted": "Accepted by the department",
    "returned": "Returned by the department, to be dispatched again",
    "resolved": "Resolved, being checked",
    "verified": "Checked: please rate it",
    "closed": "Closed",
    "reopened": "Rated unsatisfactory, reopened",
    "merged": "A duplicate, merged into one case",
}
ACTION_ZH = {
    "report": "上报",
    "take": "点单",
    "escalate": "上报社区",
    "triage": "分单",
    "dispatch": "派单",
    "accept": "接单",
    "return": "退单",
    "resolve": "办结",
    "verify": "核查",
    "reject": "核查不通过",
    "rate": "评单",
    "close": "结案",
    "merge": "合并",
    "photo": "添加照片",
}
BACKDROP_LIMIT = 20_000  # features per layer: a phone's view of a few streets holds far fewer
_cache: dict[str, tuple[Fingerprint, Suggester]] = {}
_cache_lock = Lock()


def grid_names(session: Session, codes: list[str]) -> dict[str, str | None]:
    """新街口街道 香铺营社区 第1网格: grids by 街道, 社区 and number; None where the NBS names are not loaded."""
    wanted = {c for c in codes if is_grid_code(c)}
    units = {unit for c in wanted for unit in units_above(c)}
    rows = session.execute(select(AdminUnit.code, AdminUnit.name).where(AdminUnit.code.in_(units))).all()
    names = {str(code): str(name) for code, name in rows}
    out: dict[str, str | None] = {}
    for code in codes:
        community = names.get(community_of(code)) if code in wanted else None
        if community is None:
            out[code] = None
            continue
        community = community.removesuffix("居委会").removesuffix("村委会")
        grid = GridCode.parse(code)
        street = names.get(grid.street)
        out[code] = " ".join(part for part in (street, community, f"第{grid.sequence}网格") if part)
    return out


def grid_name(session: Session, code: str | None) -> str | None:
    """The name of one grid (see :func:`grid_names`)."""
    return grid_names(session, [code])[code] if code else None


def where(session: Session, *, lon: float, lat: float, coord_sys: str, snap_outside_m: float) -> dict[str, Any]:
    """The grid a point would be reported to: covering it, snapped to (within ``snap_outside_m``) or refused."""
    x, y = to_wgs84_lonlat(lon, lat, coord_sys)
    hit = grid_at(session, x, y)
    if hit is not None:
        code, distance, status = hit[0], 0.0, "inside"
    else:
        near = nearest_grid(session, x, y)
        if near is None:
            return {"status": "no_plan", "lon": x, "lat": y, "grid_code": None, "grid_name": None, "distance_m": None}
        code, distance = near
        status = "snapped" if distance <= snap_outside_m else "outside_coverage"
    return {
        "status": status,
        "lon": round(x, 7),
        "lat": round(y, 7),
        "grid_code": code,
        "grid_name": grid_name(session, code),
        "distance_m": round(distance),
    }


def suggester(session: Session) -> Suggester:
    """The suggestion index of the database's buildings, 小区 and landmarks, rebuilt when they change."""
    key, version = buildings_version(session)
    with _cache_lock:
        cached = _cache.get(key)
        if cached and cached[0] == version:
            return cached[1]
        built = Suggester(*gazetteer_frames(session), spoken_places(landmark_frame(session)))
        _cache[key] = (version, built)
        return built


def suggestions(session: Session, typed: str, limit: int) -> list[dict[str, Any]]:
    """What to offer for ``typed``: label, kind (and its Chinese word), point and building."""
    return [
        {
            "label": s.label,
            "kind": s.kind,
            "kind_zh": KINDS[s.kind],
            "lon": round(s.lon, 7),
            "lat": round(s.lat, 7),
            "building_id": int(s.building_id) if s.building_id else None,
        }
        for s in suggester(session).suggest(typed, limit)
    ]


def _with_token(session: Session, request_id: int, token: str, *, lock: bool = False) -> ServiceRequest:
    """The request whose rating token is ``token``; one answer for a wrong token and a missing request."""
    query = select(ServiceRequest).where(ServiceRequest.id == request_id)
    req = session.scalar(query.with_for_update() if lock else query)
    if req is None or not token_fits(req.rating_token, token):
        raise NotFound(WRONG_LINK)
    return req


def track(session: Session, request_id: int, token: str) -> dict[str, Any]:
    """The reporter's view of a request: status and trail in Chinese, no names of staff or reporter."""
    req = _with_token(session, request_id, token)
    cat = session.get_one(RequestCategory, req.category)
    rows = session.scalars(
        select(RequestEvent).where(RequestEvent.request_id == req.id).order_by(RequestEvent.at, RequestEvent.id)
    ).all()
    trail = [
        {
            "at": e.at.isoformat(),
            "action": e.action,
            "action_zh": ACTION_ZH.get(e.action, e.action),
            "role_zh": role_name(e.actor_role),
            "status": e.to_status,
            # a department is a unit, not a person: the resident may know who handles the case
            "department": (e.data or {}).get("department") if e.action == "dispatch" else None,
        }
        for e in rows
    ]
    original = session.get(ServiceRequest, req.duplicate_of) if req.duplicate_of else None
    return {
        "id": req.id,
        "category": req.category,
        "category_name": cat.name_zh,
        "category_name_en": cat.name_en,
        "description": req.description,
        "status": req.status,
        "status_zh": STATUS_ZH.get(req.status, req.status),
        "status_en": STATUS_EN.get(req.status, req.status),
        "grid_name": grid_name(session, req.grid_code),
        "grid_code": req.grid_code,
        "department": req.department if req.dispatched_at else None,
        "created_at": req.created_at.isoformat(),
        "updated_at": (req.updated_at or req.created_at).isoformat(),
        "photos": len(req.photos),
        "rating": req.rating,
        "rating_comment": req.rating_comment,
        "can_rate": req.status == "verified" and req.rating is None,
        "merged_into": None
        if original is None
        else {"status": original.status, "status_zh": STATUS_ZH.get(original.status, original.status)},
        "trail": trail,
    }


def attach_public_photo(
    session: Session,
    request_id: int,
    token: str,
    data: bytes,
    *,
    home: Path,
    now: datetime,
    max_bytes: int,
    max_pixels: int,
) -> ServiceRequest:
    """A resident's photo of the report just made (still 已上报 or merged), authorised by the link's token."""
    req = _with_token(session, request_id, token, lock=True)
    if req.status not in {"reported", "merged"}:
        raise Conflict("事件已在处理中,不能再添加照片 / the request is being handled: photos can no longer be added")
    if len(req.photos) >= MAX_PHOTOS:
        raise Conflict(f"每个事件最多 {MAX_PHOTOS} 张照片 / request {req.id} already has {MAX_PHOTOS} photos")
    cleaned, extension = clean_photo(data, max_bytes=max_bytes, max_pixels=max_pixels)
    url = photo_url(req.id, store_photo(cleaned, extension, photo_folder(home, req.id)))
    if url not in req.photos:
        req.photos = [*req.photos, url]
        session.add(
            RequestEvent(
                request_id=req.id,
                at=now,
                action="photo",
                from_status=req.status,
                to_status=req.status,
                actor_id=None,
                actor="public",
                actor_role="public",
                data={"photo": url},
            )
        )
        session.flush()
    return req


def backdrop(session: Session, box: tuple[float, float, float, float], zoom: int | None) -> list[tuple[Any, ...]]:
    """Buildings and streets in ``box`` for the report map: (layer, name, GeoJSON) rows, simplified to the zoom."""
    tolerance = 0.0 if zoom is None or zoom >= 17 else 360 / 256 / 2**zoom / 2  # half a pixel, in degrees
    envelope = func.ST_MakeEnvelope(*box, 4326)
    homes = select(
        literal("building").label("layer"),
        Building.name,
        func.ST_AsGeoJSON(func.ST_SimplifyPreserveTopology(fitted(Building.geom), tolerance), 6),
    ).where(func.ST_Intersects(Building.geom, envelope))
    roads = select(
        literal("street").label("layer"),
        Street.name,
        func.ST_AsGeoJSON(func.ST_Simplify(fitted(Street.geom), tolerance), 6),
    ).where(func.ST_Intersects(Street.geom, envelope))
    return [tuple(r) for r in session.execute(homes.limit(BACKDROP_LIMIT))] + [
        tuple(r) for r in session.execute(roads.limit(BACKDROP_LIMIT))
    ]


def published_grids(session: Session) -> list[tuple[Any, ...]]:
    """Outlines of the published grids (code, name) for the report map: public, as posted in every 社区."""
    rows = session.execute(
        select(Grid.code, func.ST_AsGeoJSON(func.ST_SimplifyPreserveTopology(fitted(Grid.geom), 0.00001), 6))
        .join(GridPlan, GridPlan.id == Grid.plan_id)
        .where(GridPlan.status == PlanStatus.published)
        .order_by(Grid.code)
    ).all()
    names = grid_names(session, [str(code) for code, _ in rows])
    return [(code, names[code], geom) for code, geom in rows]
