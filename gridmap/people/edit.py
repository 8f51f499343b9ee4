"""Correcting and ending people records: edit a person, end (卸任) a post, remove a record with no current post.

Same scope as recording them (社区 and 街道 staff for their unit, admins everywhere; :data:`PEOPLE_EDITORS`).
Every change writes a ``people_changes`` row with who, when and the names of the fields, never their values.
Posts given up stay as history (``grid_post_history``); removing a person deletes the record with its sealed
phone, ID number and address, and keeps only the fact (who removed record N, when).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from gridmap.db.models import GridPost, Person, User
from gridmap.errors import Conflict, Forbidden, InvalidInput, NotFound
from gridmap.people import queries
from gridmap.people.pii import Cipher, clean_id_number, clean_phone
from gridmap.people.schemas import BuildingHeadHistory, PersonPatch
from gridmap.people.service import account_of, end_posts, past_view, record_change
from gridmap.policy import PEOPLE_EDITORS, admits, check_grid, user_scope
from gridmap.requests.locate import locate

SEALED = {"phone": "phone_enc", "id_number": "id_number_enc", "address": "address_enc"}


def editable(session: Session, user: User, person_id: int) -> Person:
    """The person ``user`` may change: 404 when there is none, 403 when it is outside the user's unit."""
    if not admits(user.role, PEOPLE_EDITORS):
        raise Forbidden("只有社区和街道可以修改人员 / only 社区 and 街道 staff may change people records")
    person = session.get(Person, person_id)
    if person is None:
        raise NotFound(f"没有这个人员 / person {person_id} does not exist")
    if not queries.person_in_scope(session, user_scope(session, user), person_id):
        raise Forbidden(f"该人员不在您的辖区 / person {person_id} is outside your unit")
    return person


def _home(session: Session, user: User, address: str, snap_outside_m: float) -> dict[str, Any]:
    """A new home address placed as a registration places it (InvalidInput when it cannot be)."""
    where = locate(session, lon=None, lat=None, coord_sys="wgs84", address=address, snap_outside_m=snap_outside_m)
    grid = queries.published_grid_of_building(session, where.building_id) if where.building_id else None
    grid = grid or where.grid_code
    if not user_scope(session, user).covers_grid(grid):
        raise InvalidInput(
            f"新住址在网格 {grid}，不在本社区/街道 / the new home is in grid {grid}, outside your unit"
        )
    return {
        "home_building_id": where.building_id,
        "home_grid_code": grid,
        "home_geom": f"SRID=4326;POINT({where.lon} {where.lat})",
    }


def update_person(
    session: Session,
    cipher: Cipher,
    user: User,
    person_id: int,
    data: PersonPatch,
    *,
    now: datetime,
    snap_outside_m: float,
) -> Person:
    """Correct a person record: every field checked (and an address placed) before any is written; audited."""
    person = editable(session, user, person_id)
    sent = data.model_fields_set
    if "name" in sent and not data.name:
        raise InvalidInput("姓名不能为空 / the name cannot be empty")
    plain = {
        "phone": clean_phone(data.phone),
        "id_number": clean_id_number(data.id_number),
        "address": data.address or None,
    }
    changes: dict[str, Any] = {}
    changed: set[str] = set()
    for field, column in SEALED.items():
        if field in sent and plain[field] != cipher.open(getattr(person, column)):
            changes[column] = cipher.seal(plain[field])
            changed.add(field)
    if "address" in changed:
        clear = {"home_building_id": None, "home_grid_code": None, "home_geom": None}
        changes |= _home(session, user, plain["address"], snap_outside_m) if plain["address"] else clear
    values: dict[str, Any] = {
        "name": data.name,
        "office_phone": clean_phone(data.office_phone),
        "in_service": bool(data.in_service),
        "work_unit": data.work_unit or None,
        "availability": list(dict.fromkeys(data.availability or [])),
    }
    if "username" in sent:
        values["user_id"] = account_of(session, data.username)
    for field, value in values.items():
        key = "username" if field == "user_id" else field
        if key in sent and getattr(person, field) != value:
            changes[field] = value
            changed.add(key)
    for column, value in changes.items():
        setattr(person, column, value)
    if changed:
        record_change(session, user, person.id, "update", changed, now=now)
    session.flush()
    return person


def end_post(session: Session, user: User, person_id: int, post_id: int, *, now: datetime) -> Person:
    """卸任: end one current post of a person (kept as history: who held it, for what, until when)."""
    person = editable(session, user, person_id)
    post = session.get(GridPost, post_id)
    if post is None or post.person_id != person.id:
        raise NotFound(f"该人员没有这个现任岗位 / person {person_id} holds no current post {post_id}")
    if post.grid_code:
        check_grid(user_scope(session, user), post.grid_code, user)
    end_posts(session, user, [post], now=now)
    return person


def remove_person(session: Session, user: User, person_id: int, *, now: datetime) -> None:
    """Delete a record with no current post: its name and sealed numbers go; the audit keeps who, when, which."""
    person = editable(session, user, person_id)
    current = queries.posts_of(session, [person.id])[0]
    if current:
        names = "、".join(sorted({p.role for p in current}))
        raise Conflict(
            f"该人员仍有现任岗位，请先卸任 / person {person_id} still holds posts ({names}): end them first"
        )
    record_change(session, user, person.id, "delete", now=now)
    session.delete(person)
    session.flush()


def building_history(session: Session, user: User, building_id: int) -> list[BuildingHeadHistory]:
    """A building's former 楼长, latest first (for viewers of its grid)."""
    grid = queries.published_grid_of_building(session, building_id)
    if grid is None:
        raise NotFound(f"楼栋 {building_id} 不在已发布的网格内 / building {building_id} is in no published grid")
    check_grid(user_scope(session, user), grid, user)
    rows = queries.building_history(session, building_id)
    places = queries.place_names(session, [building_id], [])
    return [BuildingHeadHistory(person_id=p.person_id, name=name, post=past_view(p, places)) for p, name in rows]
