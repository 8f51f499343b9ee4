"""All SQL of the people of a grid: posts, scopes, 楼长 of buildings, 街巷长 lanes, 双报到 placement, cards."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, literal_column, or_, select, text
from sqlalchemy.orm import Session

from gridmap.db.models import (
    Building,
    Compound,
    Grid,
    GridAssignment,
    GridPlan,
    GridPost,
    PastPost,
    Person,
    PersonChange,
    PiiReveal,
    PlanStatus,
    RequestCategory,
    ServiceRequest,
    Street,
)
from gridmap.policy import Scope
from gridmap.requests.states import OPEN

LANE_REACH_M = 30.0  # a blocked-lane report this close to a lane goes to its 街巷长 as well


def published_grid_of_building(session: Session, building_id: int) -> str | None:
    """The code of the published grid holding a building (None: unassigned or no published plan)."""
    return session.scalar(
        select(Grid.code)
        .join(GridAssignment, GridAssignment.grid_id == Grid.id)
        .join(GridPlan, GridPlan.id == Grid.plan_id)
        .where(GridAssignment.building_id == building_id, GridPlan.status == PlanStatus.published)
    )


def published_grid_codes(session: Session, prefix: str = "") -> list[str]:
    """Codes of the published grids starting with ``prefix`` (a 社区 or 街道 code), in order."""
    return list(
        session.scalars(
            select(Grid.code)
            .join(GridPlan, GridPlan.id == Grid.plan_id)
            .where(GridPlan.status == PlanStatus.published, Grid.code.startswith(prefix))
            .order_by(Grid.code)
        )
    )


def people_clause(scope: Scope) -> ColumnElement[bool]:
    """SQL: people in ``scope``: one of their posts is in a grid of it, or (not placed yet) their 社区 is."""
    in_grid = exists().where(GridPost.person_id == Person.id, scope.grid_clause(GridPost.grid_code))
    if scope.everything:
        return in_grid | Person.id.is_not(None)
    if scope.prefix:
        return or_(in_grid, Person.community_code.startswith(scope.prefix))
    return in_grid


def people(
    session: Session, scope: Scope, *, grid_code: str | None = None, role: str | None = None
) -> list[tuple[Person, list[GridPost]]]:
    """People in scope with all their posts, optionally only those with a post in ``grid_code`` or of ``role``."""
    query = select(Person).where(people_clause(scope))
    if grid_code or role:
        post = [GridPost.person_id == Person.id]
        if grid_code:
            post.append(GridPost.grid_code == grid_code)
        if role:
            post.append(GridPost.role == role)
        query = query.where(exists().where(*post))
    found = list(session.scalars(query.order_by(Person.name, Person.id)))
    return [(p, posts) for p, posts in zip(found, posts_of(session, [p.id for p in found]), strict=True)]


def posts_of(session: Session, person_ids: list[int]) -> list[list[GridPost]]:
    """Each person's posts, in the order of ``person_ids``."""
    by_person: dict[int, list[GridPost]] = {pid: [] for pid in person_ids}
    if person_ids:
        rows = session.scalars(
            select(GridPost).where(GridPost.person_id.in_(person_ids)).order_by(GridPost.role, GridPost.id)
        )
        for post in rows:
            by_person[post.person_id].append(post)
    return [by_person[pid] for pid in person_ids]


def place_names(
    session: Session, building_ids: Iterable[int | None], street_ids: Iterable[int | None]
) -> dict[str, str]:
    """Names of buildings (``b<id>``: 小区 + 楼栋 or address) and streets (``s<id>``) for people lists."""
    names: dict[str, str] = {}
    buildings = sorted({b for b in building_ids if b is not None})
    if buildings:
        rows = session.execute(
            select(Building.id, Compound.name, Building.name, Building.addr_street, Building.addr_housenumber)
            .outerjoin(Compound, Compound.id == Building.compound_id)
            .where(Building.id.in_(buildings))
        )
        for bid, compound, name, street, number in rows:
            own = name or " ".join(x for x in (street, number) if x) or f"楼栋 {bid}"
            names[f"b{bid}"] = f"{compound} {own}" if compound and compound not in own else own
    streets = sorted({s for s in street_ids if s is not None})
    if streets:
        for sid, name in session.execute(select(Street.id, Street.name).where(Street.id.in_(streets))):
            names[f"s{sid}"] = name or f"道路 {sid}"
    return names


def building_head(session: Session, building_id: int) -> tuple[GridPost, Person] | None:
    """The 楼长 post of a building and its person."""
    row = session.execute(
        select(GridPost, Person)
        .join(Person, Person.id == GridPost.person_id)
        .where(GridPost.role == "building_head", GridPost.building_id == building_id)
    ).first()
    return (row[0], row[1]) if row else None


def end_posts(session: Session, posts: Iterable[GridPost], *, by: str, now: datetime) -> list[GridPost]:
    """Give posts up: each is kept in ``grid_post_history`` (who, what, from, until) and leaves ``grid_posts``."""
    ended = list(posts)
    for post in ended:
        session.add(
            PastPost(
                post_id=post.id,
                person_id=post.person_id,
                role=post.role,
                grid_code=post.grid_code,
                building_id=post.building_id,
                street_id=post.street_id,
                placed_at=post.placed_at,
                placed_by=post.placed_by,
                ended_at=now,
                ended_by=by,
            )
        )
        session.delete(post)
    session.flush()
    return ended


def current_heads(session: Session, role: str, place_id: int) -> list[GridPost]:
    """The current 楼长 (``building_head``, by building) or 街巷长 (``lane_head``, by street) posts of a place."""
    column = GridPost.building_id if role == "building_head" else GridPost.street_id
    return list(session.scalars(select(GridPost).where(GridPost.role == role, column == place_id)))


def history_of(session: Session, person_ids: list[int]) -> list[list[PastPost]]:
    """Each person's ended posts, latest first, in the order of ``person_ids``."""
    by_person: dict[int, list[PastPost]] = {pid: [] for pid in person_ids}
    if person_ids:
        query = select(PastPost).where(PastPost.person_id.in_(person_ids))
        for past in session.scalars(query.order_by(PastPost.ended_at.desc(), PastPost.id.desc())):
            if past.person_id is not None:
                by_person[past.person_id].append(past)
    return [by_person[pid] for pid in person_ids]


def building_history(session: Session, building_id: int) -> list[tuple[PastPost, str | None]]:
    """A building's former 楼长 posts, latest first, with the person's name while the record exists."""
    rows = session.execute(
        select(PastPost, Person.name)
        .outerjoin(Person, Person.id == PastPost.person_id)
        .where(PastPost.role == "building_head", PastPost.building_id == building_id)
        .order_by(PastPost.ended_at.desc(), PastPost.id.desc())
    )
    return [(past, name) for past, name in rows]


def person_in_scope(session: Session, scope: Scope, person_id: int) -> bool:
    """Whether a person is in ``scope`` (see :func:`people_clause`)."""
    return session.scalar(select(Person.id).where(Person.id == person_id, people_clause(scope))) is not None


def log_change(
    session: Session,
    *,
    at: datetime,
    user_id: int,
    username: str,
    role: str,
    person_id: int,
    action: str,
    fields: Iterable[str] = (),
    post_id: int | None = None,
) -> None:
    """Write one audit row of a people record: names of fields only, never their values."""
    session.add(
        PersonChange(
            at=at,
            user_id=user_id,
            username=username,
            role=role,
            person_id=person_id,
            action=action,
            fields=sorted(set(fields)),
            post_id=post_id,
        )
    )
    session.flush()


def street_exists(session: Session, street_id: int) -> bool:
    """Whether a street id exists."""
    return session.get(Street, street_id) is not None


def grid_exists(session: Session, code: str) -> bool:
    """Whether ``code`` is a grid of the published plan."""
    return code in published_grid_codes(session, code)


def lane_clause(user_id: int) -> ColumnElement[bool]:
    """SQL on requests: open blocked-lane reports within :data:`LANE_REACH_M` of a lane ``user_id`` heads (街巷长)."""
    near = (
        select(GridPost.id)
        .join(Person, Person.id == GridPost.person_id)
        .join(Street, Street.id == GridPost.street_id)
        .where(
            GridPost.role == "lane_head",
            Person.user_id == user_id,
            func.ST_DWithin(
                func.Geography(ServiceRequest.geom), func.Geography(Street.geom), literal_column(str(LANE_REACH_M))
            ),
        )
        .correlate(ServiceRequest)
        .exists()
    )
    lane_kinds = select(RequestCategory.code).where(RequestCategory.blocks_lane).correlate(None).scalar_subquery()
    blocking = ServiceRequest.category.in_(lane_kinds)
    return and_(ServiceRequest.status.in_(sorted(OPEN)), blocking, near)


def on_users_lane(session: Session, request_id: int, user_id: int) -> bool:
    """Whether an open request is a blocked-lane report of a lane ``user_id`` heads."""
    query = select(ServiceRequest.id).where(ServiceRequest.id == request_id, lane_clause(user_id))
    return session.scalar(query) is not None


def heads_lanes(session: Session, user_id: int) -> bool:
    """Whether the user's person record heads a lane (then its 待办 includes that lane's blocked-lane reports)."""
    query = select(GridPost.id).join(Person, Person.id == GridPost.person_id)
    return session.scalar(query.where(Person.user_id == user_id, GridPost.role == "lane_head").limit(1)) is not None


def log_reveal(
    session: Session,
    *,
    at: datetime,
    user_id: int,
    username: str,
    role: str,
    field: str,
    reason: str,
    person_id: int | None = None,
    request_id: int | None = None,
) -> None:
    """Write one row of the reveal log: a person's number, or (``request_id``) a request's reporter's."""
    session.add(
        PiiReveal(
            at=at,
            user_id=user_id,
            username=username,
            role=role,
            person_id=person_id,
            request_id=request_id,
            field=field,
            reason=reason,
        )
    )
    session.flush()


# ---------------------------------------------------------------- 双报到


def home_grid(session: Session, lon: float, lat: float) -> tuple[str, float] | None:
    """The published grid nearest a home (0 m when it covers it) and the distance in metres."""
    row = session.execute(
        text(
            "SELECT g.code, ST_Distance(g.geom::geography, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography) "
            "FROM grids g JOIN grid_plans p ON p.id = g.plan_id WHERE p.status = 'published' "
            "ORDER BY g.geom <-> ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), g.code LIMIT 1"
        ),
        {"lon": lon, "lat": lat},
    ).first()
    return (str(row[0]), float(row[1])) if row else None


def grid_distances(session: Session, person_ids: list[int], codes: list[str]) -> dict[int, dict[str, float]]:
    """Metres from each person's home to each of the published grids ``codes``."""
    if not person_ids or not codes:
        return {}
    rows = session.execute(
        text(
            "SELECT p.id, g.code, ST_Distance(g.geom::geography, p.home_geom::geography) FROM people p "
            "CROSS JOIN grids g JOIN grid_plans gp ON gp.id = g.plan_id AND gp.status = 'published' "
            "WHERE p.id = ANY(:ids) AND g.code = ANY(:codes) AND p.home_geom IS NOT NULL"
        ),
        {"ids": person_ids, "codes": codes},
    )
    out: dict[int, dict[str, float]] = {}
    for pid, code, metres in rows:
        out.setdefault(int(pid), {})[str(code)] = float(metres)
    return out


def registered_posts(session: Session, prefix: str) -> list[tuple[GridPost, Person]]:
    """党员 and 志愿者 posts of a 社区/街道 (placed or not), people with their home."""
    rows = session.execute(
        select(GridPost, Person)
        .join(Person, Person.id == GridPost.person_id)
        .where(
            GridPost.role.in_(["party_member", "volunteer"]),
            or_(
                GridPost.grid_code.startswith(prefix),
                and_(GridPost.grid_code.is_(None), Person.community_code.startswith(prefix)),
            ),
        )
        .order_by(GridPost.placed_at.is_(None), Person.created_at, Person.id)
    )
    return [(post, person) for post, person in rows]


# ---------------------------------------------------------------- the 网格公示牌


def card_grid(session: Session, code: str) -> dict[str, Any] | None:
    """A published grid's outline (WKB), households and buildings count."""
    row = session.execute(
        select(Grid.id, Grid.households, Grid.n_buildings, func.ST_AsBinary(Grid.geom))
        .join(GridPlan, GridPlan.id == Grid.plan_id)
        .where(GridPlan.status == PlanStatus.published, Grid.code == code)
    ).first()
    if row is None:
        return None
    return {"id": row[0], "households": row[1], "n_buildings": row[2], "wkb": bytes(row[3])}


def card_features(
    session: Session, grid_id: int
) -> tuple[list[tuple[int, bytes]], list[tuple[str | None, bool, bytes]]]:
    """The grid's buildings (id, WKB) and the streets within 60 m of it (name, barrier, WKB clipped to its box)."""
    buildings = session.execute(
        select(Building.id, func.ST_AsBinary(Building.geom))
        .join(GridAssignment, GridAssignment.building_id == Building.id)
        .where(GridAssignment.grid_id == grid_id)
    ).all()
    box = select(func.ST_Expand(func.ST_Envelope(Grid.geom), 0.0008)).where(Grid.id == grid_id).scalar_subquery()
    streets = session.execute(
        select(Street.name, Street.is_barrier, func.ST_AsBinary(func.ST_Intersection(Street.geom, box))).where(
            func.ST_Intersects(Street.geom, box)
        )
    ).all()
    return [(int(b), bytes(w)) for b, w in buildings], [(n, bool(x), bytes(w)) for n, x, w in streets]


def grid_places(session: Session, code: str) -> tuple[list[int], list[tuple[int, str]]]:
    """The residential buildings of a published grid and the named streets crossing it (id, name)."""
    buildings = session.scalars(
        select(Building.id)
        .join(GridAssignment, GridAssignment.building_id == Building.id)
        .join(Grid, Grid.id == GridAssignment.grid_id)
        .join(GridPlan, GridPlan.id == Grid.plan_id)
        .where(GridPlan.status == PlanStatus.published, Grid.code == code, Building.is_residential)
        .order_by(Building.id)
    )
    outline = (
        select(Grid.geom)
        .join(GridPlan, GridPlan.id == Grid.plan_id)
        .where(GridPlan.status == PlanStatus.published, Grid.code == code)
        .scalar_subquery()
    )
    streets = session.execute(
        select(Street.id, Street.name)
        .where(Street.name.is_not(None), func.ST_Intersects(Street.geom, outline))
        .order_by(Street.name, Street.id)
    )
    return list(buildings), [(int(i), str(n)) for i, n in streets]
