"""Visits (走访 / 民情日记) and the 遍访 state of the buildings of a grid (see ``plans``).

A visit is recorded at a building or a household in it, may carry photos, and turns into a request in one step.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from gridmap.db.models import User
from gridmap.errors import Conflict, Forbidden, InvalidInput, NotFound
from gridmap.fieldwork import queries as q
from gridmap.fieldwork.kinds import KIND_NAMES, VisitKind
from gridmap.fieldwork.patrols import scope_sql
from gridmap.fieldwork.plans import BuildingState, Seen, building_state
from gridmap.fieldwork.route import street_graph, walking_order
from gridmap.fieldwork.schemas import VisitIn, VisitOut, VisitToRequest
from gridmap.policy import REPORTERS, admits, check_grid, user_scope
from gridmap.requests.photos import MAX_PHOTOS, clean_photo, store_photo
from gridmap.requests.schemas import NewRequest
from gridmap.requests.service import Actor, attach_photo, submit
from gridmap.settings import FieldworkSettings, RequestSettings

HISTORY_DAYS = 400  # visits older than this do not change any state (the longest plan is yearly)


def visit_photo_folder(home: Path, visit_id: int) -> Path:
    """Where a visit's photos are kept under the state directory."""
    return home / "visit-photos" / str(visit_id)


def visit_photo_url(visit_id: int, name: str) -> str:
    """The API address of a visit's photo."""
    return f"/api/visits/{visit_id}/photos/{name}"


def _out(row: dict[str, Any]) -> VisitOut:
    return VisitOut(
        id=row["id"],
        building_id=row["building_id"],
        building=row["building"],
        grid_code=row["grid_code"],
        unit=row["unit"],
        room=row["room"],
        visited_on=row["visited_on"],
        kind=row["kind"],
        kind_name=KIND_NAMES[VisitKind(row["kind"])][0],
        note=row["note"],
        photos=list(row["photos"] or []),
        request_id=row["request_id"],
        worker=row["worker"],
    )


def _visible(session: Session, visit_id: int, user: User) -> dict[str, Any]:
    row = q.visit(session, visit_id)
    if row is None:
        raise NotFound(f"走访记录 {visit_id} 不存在 / visit {visit_id} does not exist")
    if row["user_id"] != user.id:
        check_grid(user_scope(session, user), row["grid_code"], user)
    return row


def record(session: Session, body: VisitIn, *, user: User, now: datetime) -> VisitOut:
    """Store a visit (a retry with the same key stores it once) at a building of the user's grids."""
    if not admits(user.role, REPORTERS):
        raise Forbidden("走访由网格员或社区工作人员记录 / visits are recorded by grid workers and community staff")
    if body.visited_on > now.date() + timedelta(days=1):
        raise InvalidInput(f"走访日期 {body.visited_on} 在未来 / visited_on {body.visited_on} is in the future")
    place = q.building_place(session, body.building_id)
    if place is None:
        raise NotFound(f"楼栋 {body.building_id} 不存在 / building {body.building_id} does not exist")
    check_grid(user_scope(session, user), place["grid_code"], user)
    values = body.model_dump() | {"user_id": user.id, "grid_code": place["grid_code"], "now": now}
    values["kind"] = body.kind.value
    return _out(_visible(session, q.insert_visit(session, values), user))


def read(session: Session, visit_id: int, *, user: User) -> VisitOut:
    """A visit the user may see."""
    return _out(_visible(session, visit_id, user))


def list_visits(session: Session, *, user: User, since: date, until: date, limit: int) -> list[VisitOut]:
    """Visits in the user's scope on days [since, until)."""
    where, params = scope_sql(user_scope(session, user), user)
    where = where.replace("p.", "v.")
    found = q.list_visits(session, scope_sql=where, scope_params=params, since=since, until=until, limit=limit)
    return [_out(r) for r in found]


def add_photo(
    session: Session, visit_id: int, data: bytes, *, user: User, home: Path, max_bytes: int, max_pixels: int
) -> VisitOut:
    """Add a photo to a visit (cleaned of EXIF/GPS like a request's photo)."""
    row = _visible(session, visit_id, user)
    photos = list(row["photos"] or [])
    if len(photos) >= MAX_PHOTOS:
        raise Conflict(f"走访记录最多 {MAX_PHOTOS} 张照片 / a visit has at most {MAX_PHOTOS} photos")
    cleaned, extension = clean_photo(data, max_bytes=max_bytes, max_pixels=max_pixels)
    url = visit_photo_url(visit_id, store_photo(cleaned, extension, visit_photo_folder(home, visit_id)))
    if url not in photos:
        q.set_visit_photos(session, visit_id, [*photos, url])
    return read(session, visit_id, user=user)


def to_request(
    session: Session,
    visit_id: int,
    body: VisitToRequest,
    *,
    user: User,
    now: datetime,
    home: Path,
    settings: RequestSettings,
) -> VisitOut:
    """Turn a visit into a request at its building, with its note and photos (once: again returns the same)."""
    row = _visible(session, visit_id, user)
    if row["request_id"] is not None:
        return _out(row)
    place = q.building_place(session, row["building_id"])
    assert place is not None
    where = "".join(
        x for x in (place["label"], row["unit"] and f"{row['unit']}单元", row["room"] and f"{row['room']}室") if x
    )
    description = body.description or row["note"] or f"走访发现 / found on a visit: {where}"
    data = NewRequest(
        category=body.category, description=description, lon=place["lon"], lat=place["lat"], address=where
    )
    req, _ = submit(
        session,
        data,
        actor=Actor.of(user),
        channel="staff",
        now=now,
        settings=settings,
        idempotency_key=f"visit-{visit_id}",
    )
    for url in row["photos"] or []:
        name = str(url).rsplit("/", 1)[1]
        attach_photo(
            session,
            req.id,
            (visit_photo_folder(home, visit_id) / name).read_bytes(),
            user=user,
            home=home,
            now=now,
            max_bytes=settings.max_photo_bytes,
            max_pixels=settings.max_photo_pixels,
        )
    q.set_visit_request(session, visit_id, req.id)
    return read(session, visit_id, user=user)


def states(
    session: Session, codes: list[str], *, today: date, plans: dict[str, int]
) -> list[tuple[dict[str, Any], BuildingState]]:
    """The buildings of grids ``codes`` with their 遍访 state today."""
    buildings = q.grid_buildings(session, codes)
    seen: dict[int, list[Seen]] = defaultdict(list)
    since = today - timedelta(days=HISTORY_DAYS)
    for v in q.building_visits(session, [b["building_id"] for b in buildings], since=since):
        seen[v["building_id"]].append(Seen(v["unit"], v["room"], v["kind"], v["visited_on"]))
    return [(b, building_state(b["households"], seen[b["building_id"]], today, plans)) for b in buildings]


RANK = {"overdue": 0, "due": 1, "partial": 2, "done": 3}


def suggested_route(
    session: Session,
    codes: list[str],
    *,
    today: date,
    settings: FieldworkSettings,
    start: tuple[float, float] | None,
) -> tuple[list[tuple[dict[str, Any], BuildingState]], float, list[tuple[float, float]]]:
    """Today's route, its walking metres and path: the most overdue buildings in walking order from ``start``.

    Overdue before due before partly visited; within each, the longest unvisited and the most households first.
    """
    ranked = [x for x in states(session, codes, today=today, plans=settings.visits_per_year) if x[1].state != "done"]
    ranked.sort(key=lambda x: (RANK[x[1].state], x[1].last_visit or date.min, -x[0]["households"]))
    chosen = ranked[: settings.route_stops]
    if not chosen:
        return [], 0.0, []
    xs, ys = [b["lon"] for b, _ in chosen], [b["lat"] for b, _ in chosen]
    pad = 0.004  # ~400 m of streets around the stops
    box = (min(xs) - pad, min(ys) - pad, max(xs) + pad, max(ys) + pad)
    graph = street_graph([s["wkt"] for s in q.street_lines(session, box)])
    order, metres, path = walking_order(graph, [(b["lon"], b["lat"]) for b, _ in chosen], start)
    return [chosen[i] for i in order], metres, path
