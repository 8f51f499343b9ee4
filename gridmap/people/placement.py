"""双报到: in-service 党员 (and volunteers) register where they live; the 社区 places them into its grids.

The rule of the suggestion (:func:`suggest`), per kind (党员, 志愿者) and per 社区 or 街道 unit:

- each grid's share is ``ceil(registered / grids)``: everyone registered (placed or not) spread evenly;
- people already placed stay and count towards their grid's share;
- the others fill the free places so that the total walking distance from home to grid is least (an optimal
  assignment, :func:`scipy.optimize.linear_sum_assignment`): a person goes to the grid of their home building
  (distance 0) unless that grid is full, then to the nearest grid with room ("楼栋相邻");
- among equally near grids, one that already has people free at the same times is preferred ("活动时间相似").
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from scipy.optimize import linear_sum_assignment
from sqlalchemy.orm import Session

from gridmap.db.models import GridPost, Person, User
from gridmap.errors import Forbidden, InvalidInput
from gridmap.partition.codes import community_of
from gridmap.people import queries
from gridmap.people.pii import Cipher, clean_id_number, clean_phone
from gridmap.people.roles import AVAILABILITY, POSTS
from gridmap.people.schemas import GridShare, PlacementOut, PostIn, RegisterIn, SuggestionOut
from gridmap.people.service import add_post, record_change
from gridmap.policy import check_grid, user_scope
from gridmap.requests.locate import locate
from gridmap.units import unit_names

RULE = (
    "每个网格的名额 = ⌈登记人数 ÷ 网格数⌉（已安置的计入名额）；未安置的按住址到网格的总距离最短分配："
    "住所楼栋所在网格优先，满额时去最近的有空位网格；同样近时优先同一活动时间的网格 / "
    "each grid's share is ceil(registered / grids), people already placed count; the others go where the total "
    "home-to-grid distance is least: the grid of their home building first, the nearest grid with room when it is "
    "full; equally near grids: the one with people free at the same times"
)
SAME_TIME_BONUS_M = 1.0  # metres a shared availability is worth between equally near grids


@dataclass(frozen=True)
class Suggestion:
    """Where one registered person should go and why."""

    person_id: int
    name: str
    kind: str
    availability: tuple[str, ...]
    home_building_id: int | None
    home_grid_code: str | None
    placed_grid: str | None  # where they are now (None: not placed)
    suggested_grid: str | None
    distance_m: float | None  # home to the suggested grid


def register(
    session: Session, cipher: Cipher, user: User, data: RegisterIn, *, now: datetime, snap_outside_m: float
) -> tuple[Person, str, float | None]:
    """Record a registration: the address geocoded to a home building and its grid, the post not placed yet."""
    phone = clean_phone(data.phone)
    id_number = clean_id_number(data.id_number)
    where = locate(session, lon=None, lat=None, coord_sys="wgs84", address=data.address, snap_outside_m=snap_outside_m)
    grid = queries.published_grid_of_building(session, where.building_id) if where.building_id else None
    grid = grid or where.grid_code
    scope = user_scope(session, user)
    if not scope.covers_grid(grid):
        raise InvalidInput(
            f"住址在网格 {grid}，不在本社区/街道 / the home is in grid {grid}, outside your unit: "
            "register with the 社区 where the person lives"
        )
    near = queries.home_grid(session, where.lon, where.lat)
    person = Person(
        name=data.name,
        community_code=community_of(grid),
        phone_enc=cipher.seal(phone),
        id_number_enc=cipher.seal(id_number),
        address_enc=cipher.seal(data.address),
        in_service=data.in_service,
        work_unit=data.work_unit or None,
        availability=list(dict.fromkeys(data.availability)),
        home_building_id=where.building_id,
        home_grid_code=grid,
        home_geom=f"SRID=4326;POINT({where.lon} {where.lat})",
        created_at=now,
        created_by=user.username,
    )
    session.add(person)
    session.flush()
    record_change(session, user, person.id, "create", data.model_fields_set - {"kind"}, now=now)
    add_post(session, person, PostIn(role=data.kind), user=user, now=now)
    return person, where.match_level, near[1] if near else None


def suggest(session: Session, prefix: str) -> tuple[list[str], dict[str, int], list[Suggestion]]:
    """The unit's grids, each kind's share per grid, and a suggestion for every registered person (see module)."""
    codes = queries.published_grid_codes(session, prefix)
    rows = queries.registered_posts(session, prefix)
    distances = queries.grid_distances(session, sorted({p.id for _, p in rows}), codes)
    shares: dict[str, int] = {}
    out: list[Suggestion] = []
    for kind in ("party_member", "volunteer"):
        mine = [(post, person) for post, person in rows if post.role == kind]
        if not mine or not codes:
            shares[kind] = 0
            out += [_suggestion(post, person, None, None) for post, person in mine]
            continue
        share = math.ceil(len(mine) / len(codes))
        shares[kind] = share
        load = {c: 0 for c in codes}
        times: dict[str, set[str]] = {c: set() for c in codes}
        for post, person in mine:
            if post.grid_code in load:
                load[post.grid_code] += 1
                times[post.grid_code] |= set(person.availability or [])
        waiting = [(post, person) for post, person in mine if post.grid_code not in load]
        slots = [c for c in codes for _ in range(max(share - load[c], 0))]
        chosen = _assign(waiting, slots, distances, times)
        for post, person in mine:
            if post.grid_code in load:
                out.append(_suggestion(post, person, post.grid_code, distances.get(person.id, {}).get(post.grid_code)))
            else:
                grid = chosen.get(person.id)
                out.append(_suggestion(post, person, grid, distances.get(person.id, {}).get(grid) if grid else None))
    return codes, shares, out


def _assign(
    waiting: list[tuple[GridPost, Person]],
    slots: list[str],
    distances: dict[int, dict[str, float]],
    times: dict[str, set[str]],
) -> dict[int, str]:
    """Person id → grid: the least total distance with one person per free slot."""
    if not waiting or not slots:
        return {}
    far = 1e9  # a person without a geocoded home: anywhere, after everyone else
    cost = np.empty((len(waiting), len(slots)))
    for i, (_, person) in enumerate(waiting):
        theirs = set(person.availability or [])
        for j, code in enumerate(slots):
            metres = distances.get(person.id, {}).get(code, far)
            cost[i, j] = metres - (SAME_TIME_BONUS_M if theirs & times[code] else 0.0) + j * 1e-6  # stable ties
    rows, cols = linear_sum_assignment(cost)
    return {waiting[i][1].id: slots[j] for i, j in zip(rows, cols, strict=True)}


def _suggestion(post: GridPost, person: Person, grid: str | None, metres: float | None) -> Suggestion:
    return Suggestion(
        person_id=person.id,
        name=person.name,
        kind=post.role,
        availability=tuple(person.availability or []),
        home_building_id=person.home_building_id,
        home_grid_code=person.home_grid_code,
        placed_grid=post.grid_code,
        suggested_grid=grid,
        distance_m=round(metres, 1) if metres is not None else None,
    )


def place(session: Session, user: User, placements: list[tuple[int, str]], *, now: datetime) -> int:
    """Place registered people into grids of the user's unit (all checked before any is written)."""
    scope = user_scope(session, user)
    rows = {person.id: post for post, person in queries.registered_posts(session, scope.prefix or "")}
    for person_id, grid in placements:
        if person_id not in rows:
            raise InvalidInput(
                f"人员 {person_id} 未在本社区登记 / person {person_id} has not registered with your unit"
            )
        if not queries.grid_exists(session, grid):
            raise InvalidInput(f"网格 {grid} 不在已发布方案中 / grid {grid} is not in the published plan")
        check_grid(scope, grid, user)
    for person_id, grid in placements:
        post = rows[person_id]
        post.grid_code, post.placed_at, post.placed_by = grid, now, user.username
        record_change(session, user, person_id, "place", ["grid_code"], now=now, post_id=post.id)
    session.flush()
    return len(placements)


def board(session: Session, user: User, unit: str | None) -> PlacementOut:
    """The placement board of ``unit`` (default: the user's own 社区/街道), with names for people."""
    scope = user_scope(session, user)
    code = unit or user.unit_code
    if code is None:
        raise InvalidInput("请指定社区或街道代码 / give unit: a 社区 (12 digits) or 街道 (9 digits) code")
    if not (scope.everything or (scope.prefix and code.startswith(scope.prefix))):
        raise Forbidden(f"该单位不在您的辖区 / unit {code} is outside your scope")
    codes, shares, suggestions = suggest(session, code)
    names = unit_names(session, [code, *codes])
    places = queries.place_names(session, [s.home_building_id for s in suggestions], [])
    counts = {c: {"party_member": 0, "volunteer": 0} for c in codes}
    for s in suggestions:
        if s.placed_grid in counts:
            counts[s.placed_grid][s.kind] += 1
    return PlacementOut(
        unit=code,
        unit_name=names[code],
        rule=RULE,
        shares=shares,
        grids=[
            GridShare(code=c, name=names[c], party_members=n["party_member"], volunteers=n["volunteer"])
            for c, n in counts.items()
        ],
        people=[
            SuggestionOut(
                person_id=s.person_id,
                name=s.name,
                kind=s.kind,  # registered posts are of these two kinds (the query asks for them)
                kind_name=POSTS[s.kind][0],
                availability=[AVAILABILITY[a][0] for a in s.availability if a in AVAILABILITY],
                home=places.get(f"b{s.home_building_id}") if s.home_building_id else None,
                home_grid_code=s.home_grid_code,
                placed_grid=s.placed_grid,
                suggested_grid=s.suggested_grid,
                suggested_grid_name=names.get(s.suggested_grid) if s.suggested_grid else None,
                distance_m=s.distance_m,
            )
            for s in suggestions
        ],
    )
