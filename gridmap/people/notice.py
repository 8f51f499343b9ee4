"""What a 网格公示牌 shows, read from the database: the grid, its features, its people (phones masked or office)."""

from __future__ import annotations

from urllib.parse import urlencode

from sqlalchemy import select
from sqlalchemy.orm import Session

from gridmap.db.models import Role, User, UserGrid
from gridmap.errors import NotFound
from gridmap.people import queries
from gridmap.people.card import CardData, StaffLine
from gridmap.people.pii import Cipher
from gridmap.people.roles import POSTS, STAFF
from gridmap.policy import Scope
from gridmap.privacy import mask_phone
from gridmap.units import unit_names

REPORT_PATH = "/public/report"


def report_url(base: str, code: str) -> str:
    """The public report page with the grid named (``grid=``), for the QR code."""
    return f"{base.rstrip('/')}{REPORT_PATH}?{urlencode({'grid': code})}"


def card_data(
    session: Session, cipher: Cipher, code: str, *, base_url: str, supervision_phone: str, title: str
) -> CardData:
    """The card of published grid ``code``; :class:`NotFound` when there is none."""
    grid = queries.card_grid(session, code)
    if grid is None:
        raise NotFound(f"网格 {code} 不在已发布方案中 / grid {code} is not in the published plan")
    buildings, streets = queries.card_features(session, grid["id"])
    people = queries.people(session, Scope(everything=True), grid_code=code)
    places = queries.place_names(session, [p.building_id for _, posts in people for p in posts], [])
    staff: list[StaffLine] = []
    counts = {"党员": 0, "志愿者": 0}
    for person, posts in people:
        phone = person.office_phone or mask_phone(cipher.open(person.phone_enc)) or ""
        for post in posts:
            if post.grid_code != code:
                continue
            if post.role in STAFF:
                where = places.get(f"b{post.building_id}", "") if post.building_id else ""
                staff.append(StaffLine(POSTS[post.role][0], person.name, where, phone))
            else:
                counts[POSTS[post.role][0]] += 1
    if not any(s.post == "网格员" for s in staff):  # the grid workers' accounts, when no record names them yet
        accounts = session.execute(
            select(User.full_name, User.username)
            .join(UserGrid, UserGrid.user_id == User.id)
            .where(UserGrid.grid_code == code, User.role == Role.grid_worker, User.is_active)
        )
        staff += [StaffLine("网格员", name or "（姓名待登记）") for name, _ in accounts]
    order = {POSTS[r][0]: i for i, r in enumerate(STAFF)}
    staff.sort(key=lambda s: (order.get(s.post, 9), s.where, s.name))
    return CardData(
        code=code,
        name=unit_names(session, [code])[code],
        households=int(grid["households"]),
        n_buildings=int(grid["n_buildings"]),
        outline=grid["wkb"],
        buildings=[w for _, w in buildings],
        streets=streets,
        staff=staff,
        report_url=report_url(base_url, code),
        supervision_phone=supervision_phone,
        title=title,
        counts=counts,
    )
