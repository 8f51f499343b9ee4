"""People records and their posts, masked views, the reveal log, masked CSV exports and the 楼长 of a building."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from gridmap.db.models import GridPost, PastPost, Person, User
from gridmap.errors import Forbidden, InvalidInput, NotFound
from gridmap.partition.codes import community_of, unit_level
from gridmap.people import queries
from gridmap.people.pii import Cipher, clean_id_number, clean_phone, shown
from gridmap.people.roles import POSTS
from gridmap.people.schemas import (
    GridPlaces,
    PastPostOut,
    PersonIn,
    PersonOut,
    Place,
    PostIn,
    PostOut,
    RevealOut,
)
from gridmap.policy import PII_REVEALERS, Scope, admits, check_grid, user_scope
from gridmap.privacy import mask_id_number, mask_phone
from gridmap.units import unit_names


def account_of(session: Session, username: str | None) -> int | None:
    """The id of the gridmap account ``username`` (None for none); InvalidInput when there is no such account."""
    if not username:
        return None
    found = session.scalar(select(User.id).where(User.username == username))
    if found is None:
        raise InvalidInput(f"没有这个账号 / no user {username!r}: give an existing user name or leave it empty")
    return int(found)


def check_post(session: Session, scope: Scope, user: User, post: PostIn) -> PostIn:
    """A post with its grid filled in (a 楼长's from the building), refused outside ``user``'s scope."""
    grid = post.grid_code
    if post.role == "building_head":
        if post.building_id is None:
            raise InvalidInput("楼长须指定楼栋 / a building_head post needs building_id")
        grid = queries.published_grid_of_building(session, post.building_id)
        if grid is None:
            raise InvalidInput(f"楼栋 {post.building_id} 不在已发布的网格内 / building is in no published grid")
    elif post.role == "lane_head":
        if post.street_id is None or not queries.street_exists(session, post.street_id):
            raise InvalidInput("街巷长须指定存在的道路 / a lane_head post needs an existing street_id")
    elif post.role not in ("party_member", "volunteer") and grid is None:
        raise InvalidInput(f"{POSTS[post.role][0]}须指定网格 / a {post.role} post needs grid_code")
    if grid is not None:
        if not queries.grid_exists(session, grid):
            raise InvalidInput(f"网格 {grid} 不在已发布方案中 / grid {grid} is not in the published plan")
        check_grid(scope, grid, user)
    return post.model_copy(update={"grid_code": grid})


def create_person(session: Session, cipher: Cipher, user: User, data: PersonIn, *, now: datetime) -> Person:
    """Record a person and their posts (all checked first: nothing is written when one is refused)."""
    scope = user_scope(session, user)
    posts = [check_post(session, scope, user, p) for p in data.posts]
    unit = user.unit_code if unit_level(user.unit_code) == "community" else None
    community = data.community_code or next((community_of(p.grid_code) for p in posts if p.grid_code), None) or unit
    if community is not None and not (scope.everything or (scope.prefix and community.startswith(scope.prefix))):
        raise Forbidden(f"该社区不在您的辖区 / 社区 {community} is outside your scope")
    person = Person(
        name=data.name,
        community_code=community,
        user_id=account_of(session, data.username),
        phone_enc=cipher.seal(clean_phone(data.phone)),
        id_number_enc=cipher.seal(clean_id_number(data.id_number)),
        office_phone=clean_phone(data.office_phone),
        in_service=data.in_service,
        work_unit=data.work_unit or None,
        availability=list(data.availability),
        created_at=now,
        created_by=user.username,
    )
    session.add(person)
    session.flush()
    record_change(session, user, person.id, "create", data.model_fields_set - {"posts"}, now=now)
    for post in posts:
        add_post(session, person, post, user=user, now=now)
    return person


def record_change(
    session: Session,
    user: User,
    person_id: int,
    action: str,
    fields: Iterable[str] = (),
    *,
    now: datetime,
    post_id: int | None = None,
) -> None:
    """Audit one change of a people record by ``user`` (the names of the fields, never their values)."""
    queries.log_change(
        session,
        at=now,
        user_id=user.id,
        username=user.username,
        role=user.role.value,
        person_id=person_id,
        action=action,
        fields=fields,
        post_id=post_id,
    )


def end_posts(session: Session, user: User, posts: Iterable[GridPost], *, now: datetime) -> None:
    """End posts (kept as history), each audited; a person left without a 社区 keeps the post's 社区 in scope."""
    for post in queries.end_posts(session, posts, by=user.username, now=now):
        person = session.get(Person, post.person_id)
        if person is not None and person.community_code is None and post.grid_code:
            person.community_code = community_of(post.grid_code)
        record_change(session, user, post.person_id, "end_post", [post.role], now=now, post_id=post.id)
    session.flush()


def add_post(session: Session, person: Person, post: PostIn, *, user: User, now: datetime) -> GridPost:
    """Give ``person`` a checked post; a building's or lane's previous head gives the post up (kept as history)."""
    if post.role == "building_head" and post.building_id is not None:
        end_posts(session, user, queries.current_heads(session, "building_head", post.building_id), now=now)
    if post.role == "lane_head" and post.street_id is not None:
        end_posts(session, user, queries.current_heads(session, "lane_head", post.street_id), now=now)
    by = user.username
    row = GridPost(
        person_id=person.id,
        role=post.role,
        grid_code=post.grid_code,
        building_id=post.building_id,
        street_id=post.street_id,
        placed_at=now if post.grid_code else None,
        placed_by=by if post.grid_code else None,
    )
    session.add(row)
    session.flush()
    return row


def past_view(past: PastPost, places: dict[str, str]) -> PastPostOut:
    """A post given up, places by name."""
    return PastPostOut(
        post_id=past.post_id,
        role=past.role,  # written from a checked post
        role_name=POSTS[past.role][0],
        grid_code=past.grid_code,
        building_id=past.building_id,
        building_name=places.get(f"b{past.building_id}") if past.building_id else None,
        street_id=past.street_id,
        street_name=places.get(f"s{past.street_id}") if past.street_id else None,
        placed_at=past.placed_at,
        ended_at=past.ended_at,
        ended_by=past.ended_by,
    )


def views(session: Session, cipher: Cipher, rows: list[tuple[Person, list[GridPost]]]) -> list[PersonOut]:
    """People as lists show them: phones and ID numbers masked, places by name, posts given up as history."""
    grids = {p.grid_code for _, posts in rows for p in posts if p.grid_code}
    names = unit_names(session, grids)
    history = queries.history_of(session, [person.id for person, _ in rows])
    past = [p for h in history for p in h]
    places = queries.place_names(
        session,
        [p.building_id for _, posts in rows for p in posts]
        + [person.home_building_id for person, _ in rows]
        + [p.building_id for p in past],
        [p.street_id for _, posts in rows for p in posts] + [p.street_id for p in past],
    )
    out = []
    for (person, posts), ended in zip(rows, history, strict=True):
        phone, id_number = cipher.open(person.phone_enc), cipher.open(person.id_number_enc)
        out.append(
            PersonOut(
                id=person.id,
                name=person.name,
                phone=shown(phone, person.phone_enc, mask_phone(phone)),
                id_number=shown(id_number, person.id_number_enc, mask_id_number(id_number)),
                office_phone=person.office_phone,
                community_code=person.community_code,
                in_service=person.in_service,
                work_unit=person.work_unit,
                availability=list(person.availability or []),
                home=places.get(f"b{person.home_building_id}") if person.home_building_id else None,
                home_grid_code=person.home_grid_code,
                posts=[
                    PostOut(
                        id=p.id,
                        role=p.role,  # the check constraint keeps it one of PostRole
                        role_name=POSTS[p.role][0],
                        grid_code=p.grid_code,
                        grid_name=names.get(p.grid_code) if p.grid_code else None,
                        building_id=p.building_id,
                        building_name=places.get(f"b{p.building_id}") if p.building_id else None,
                        street_id=p.street_id,
                        street_name=places.get(f"s{p.street_id}") if p.street_id else None,
                        placed_at=p.placed_at,
                    )
                    for p in posts
                ],
                past_posts=[past_view(p, places) for p in ended],
            )
        )
    return out


def grids_in_scope(session: Session, user: User) -> list[tuple[str, str]]:
    """Codes and names of the published grids the user may see."""
    scope = user_scope(session, user)
    codes = [c for c in queries.published_grid_codes(session) if scope.covers_grid(c)]
    names = unit_names(session, codes)
    return [(c, names[c]) for c in codes]


def view(session: Session, cipher: Cipher, person: Person) -> PersonOut:
    """One person as lists show them."""
    return views(session, cipher, [(person, queries.posts_of(session, [person.id])[0])])[0]


def list_people(
    session: Session, cipher: Cipher, user: User, *, grid_code: str | None = None, role: str | None = None
) -> list[PersonOut]:
    """People in the user's scope, masked."""
    scope = user_scope(session, user)
    if grid_code:
        check_grid(scope, grid_code, user)
    return views(session, cipher, queries.people(session, scope, grid_code=grid_code, role=role))


CSV_COLUMNS = (
    "编号",
    "姓名",
    "岗位",
    "网格",
    "楼栋/道路",
    "手机(脱敏)",
    "身份证号(脱敏)",
    "办公电话",
    "在职",
    "工作单位",
)


def export_csv(people: list[PersonOut]) -> str:
    """The people as CSV (UTF-8 with BOM for Excel), phones and ID numbers masked as in the lists."""
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for p in people:
        posts: list[PostOut | None] = list(p.posts) or [None]
        for post in posts:
            writer.writerow(
                [
                    p.id,
                    p.name,
                    post.role_name if post else "",
                    (post.grid_name or post.grid_code or "") if post else "",
                    (post.building_name or post.street_name or "") if post else "",
                    p.phone or "",
                    p.id_number or "",
                    p.office_phone or "",
                    "是" if p.in_service else "否",
                    p.work_unit or "",
                ]
            )
    return buffer.getvalue()


def reveal(
    session: Session, cipher: Cipher, user: User, person_id: int, *, field: str, reason: str, now: datetime
) -> RevealOut:
    """A person's phone or ID number in full, for roles that need it, after logging who, when and why."""
    if not admits(user.role, PII_REVEALERS):
        raise Forbidden("只有社区和街道可以查看完整号码 / only 社区 and 街道 staff may reveal a phone or ID number")
    person = session.get(Person, person_id)
    scope = user_scope(session, user)
    if person is None or not session.scalar(
        select(Person.id).where(Person.id == person_id, queries.people_clause(scope))
    ):
        raise NotFound(f"没有这个人员或不在您的辖区 / person {person_id} does not exist in your scope")
    if len(reason.strip()) < 2:
        raise InvalidInput("请写明查看原因 / give the reason for seeing the number")
    queries.log_reveal(
        session,
        at=now,
        user_id=user.id,
        username=user.username,
        role=user.role.value,
        person_id=person.id,
        field=field,
        reason=reason.strip(),
    )
    token = person.phone_enc if field == "phone" else person.id_number_enc
    return RevealOut(person_id=person.id, field=field, value=cipher.open(token), logged_at=now)


def set_building_head(
    session: Session,
    cipher: Cipher,
    user: User,
    building_id: int,
    *,
    name: str | None,
    phone: str | None,
    now: datetime,
) -> tuple[Person | None, str | None]:
    """The old ``PUT /api/buildings/{id}/head``: make (or end) the building's 楼长 record; the masked phone."""
    grid = queries.published_grid_of_building(session, building_id)
    check_grid(user_scope(session, user), grid, user)
    current = queries.building_head(session, building_id)
    if not name:
        end_posts(session, user, queries.current_heads(session, "building_head", building_id), now=now)
        return None, None
    clean = clean_phone(phone)
    if current is not None and current[1].name == name:
        person = current[1]
        person.phone_enc = cipher.seal(clean)
        record_change(session, user, person.id, "update", ["phone"], now=now)
    else:
        person = Person(
            name=name,
            community_code=community_of(grid) if grid else None,
            phone_enc=cipher.seal(clean),
            created_at=now,
            created_by=user.username,
        )
        session.add(person)
        session.flush()
        record_change(session, user, person.id, "create", ["name", "phone"], now=now)
        post = PostIn(role="building_head", building_id=building_id)
        add_post(session, person, post.model_copy(update={"grid_code": grid}), user=user, now=now)
    session.flush()
    return person, mask_phone(clean)


def grid_places(session: Session, user: User, code: str) -> GridPlaces:
    """The buildings and streets of a grid in the user's scope, by name (for the 楼长/街巷长 form)."""
    check_grid(user_scope(session, user), code, user)
    buildings, streets = queries.grid_places(session, code)
    names = queries.place_names(session, buildings, [])
    return GridPlaces(
        buildings=[Place(id=b, name=names[f"b{b}"]) for b in buildings],
        streets=[Place(id=s, name=n) for s, n in streets],
    )
