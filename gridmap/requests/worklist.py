"""Lists of requests: the user's scope, filters, search, the caller's 待办, overdue, by deadline, paged on the server.

Sorting by deadline and filtering by lateness need every matching request's deadlines, which depend on the
working calendar: they are computed for all matches at once with :mod:`deadlines` (a few columns per row, no
ORM objects), then only the page is read in full.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import ColumnElement, Select, func, literal_column, or_, select, text
from sqlalchemy.orm import Session

from gridmap.db.models import RequestCategory, ServiceRequest, User
from gridmap.errors import InvalidInput
from gridmap.policy import todo_clause, user_scope
from gridmap.requests.deadlines import deadlines
from gridmap.requests.sla import SlaState, WorkCalendar
from gridmap.requests.states import Status

SORTS = ("deadline", "newest")
NUMBER = re.compile(r"^#?(\d{1,12})$")
WARN_SHARE = 0.25  # amber when less than a quarter of a stage's time is left


@dataclass(frozen=True)
class ListQuery:
    """What a list asks for (every part optional)."""

    statuses: tuple[Status, ...] = ()
    category: str | None = None
    grid_code: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    overdue: bool | None = None
    todo: bool = False
    q: str | None = None
    sort: str = "newest"
    limit: int = 50
    offset: int = 0


def parse_statuses(values: list[str] | None) -> tuple[Status, ...]:
    """``status=reported,taken`` or repeated ``status=``; :class:`InvalidInput` naming the valid ones."""
    names = [v.strip() for value in values or [] for v in value.split(",") if v.strip()]
    unknown = sorted(set(names) - {s.value for s in Status})
    if unknown:
        valid = ", ".join(s.value for s in Status)
        raise InvalidInput(f"未知状态 / unknown status {', '.join(unknown)}; use: {valid}")
    return tuple(dict.fromkeys(Status(n) for n in names))


def _search(q: str) -> ColumnElement[bool]:
    """A request by number (123 or #123), or by text in its address, description or category name."""
    pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"  # wildcards are text
    # Text without case (Chinese, digits) is matched with LIKE: case-folding every row costs a search 8×.
    caseless = q.lower() == q.upper()
    columns = (ServiceRequest.address, ServiceRequest.description, RequestCategory.name_zh)
    words: list[ColumnElement[bool]] = [
        c.like(pattern, escape="\\") if caseless else c.ilike(pattern, escape="\\") for c in columns
    ]
    if number := NUMBER.match(q):
        words.append(ServiceRequest.id == int(number.group(1)))
    return or_(*words)


def _where(session: Session, user: User, query: ListQuery) -> list[ColumnElement[bool]]:
    where = [user_scope(session, user).clause()]
    if query.todo:
        where.append(todo_clause(user.role))
    if query.statuses:
        where.append(ServiceRequest.status.in_([s.value for s in query.statuses]))
    if query.category:
        where.append(ServiceRequest.category == query.category)
    if query.grid_code:
        where.append(ServiceRequest.grid_code.startswith(query.grid_code))
    if query.since:
        where.append(ServiceRequest.created_at >= query.since)
    if query.until:
        where.append(ServiceRequest.created_at < query.until)
    if query.q:
        if "\x00" in query.q:
            raise InvalidInput("搜索词含有无效字符 / the search text contains a NUL character")
        where.append(_search(query.q))
    return where


def _joined(columns: Select[Any] | Any, where: list[ColumnElement[bool]]) -> Select[Any]:
    joined = columns.select_from(ServiceRequest).join(RequestCategory, RequestCategory.code == ServiceRequest.category)
    return joined.where(*where)


_ID = "requests.id"
STAMPS = ("created_at", "responded_at", "dispatched_at", "accepted_at", "resolved_at")
LIMITS = ("respond_minutes", "accept_minutes", "resolve_minutes")


def _pack(expression: str) -> ColumnElement[bytes]:
    """All matching rows' values of ``expression`` (a fixed-size binary form) as one byte string, in scan order."""
    return literal_column(f"string_agg({expression}, ''::bytea)")


def find(
    session: Session, *, user: User, query: ListQuery, now: datetime, calendar: WorkCalendar
) -> tuple[int, list[int]]:
    """The number of matching requests and the ids of the asked page, in order."""
    where = _where(session, user, query)
    if query.sort == "newest" and query.overdue is None:  # no deadlines needed: the database pages
        page = session.execute(  # the total rides along with the page: one scan instead of two
            _joined(select(ServiceRequest.id, func.count().over()), where)
            .order_by(ServiceRequest.created_at.desc(), ServiceRequest.id.desc())
            .limit(query.limit)
            .offset(query.offset)
        ).all()
        if page:
            return int(page[0][1]), [int(rid) for rid, _ in page]
        total = session.scalar(_joined(select(func.count(ServiceRequest.id)), where)) or 0
        return int(total), []
    # One row of packed binary arrays instead of a row per request: no per-row objects in Python (ten thousand
    # rows as Python values cost a list ten times its SQL). A stage not reached is NaN.
    packed = [_pack(f"int4send({_ID})")] + [
        _pack(f"float8send(coalesce(date_part('epoch', requests.{c}), 'NaN'))") for c in STAMPS
    ] + [_pack(f"int4send(request_categories.{c})") for c in LIMITS] + [
        _pack("CASE WHEN request_categories.working_hours THEN '\\x01'::bytea ELSE '\\x00'::bytea END")
    ]
    row = session.execute(_joined(select(*packed), where)).one()
    if row[0] is None:
        return 0, []
    ids_ = np.frombuffer(row[0], dtype=">i4").astype(np.int64)
    created, responded, dispatched, accepted, resolved = (np.frombuffer(v, dtype=">f8").astype(float) for v in row[1:6])
    m_respond, m_accept, m_resolve = (np.frombuffer(v, dtype=">i4").astype(float) for v in row[6:9])
    hours = np.frombuffer(row[9], dtype=np.uint8).astype(bool)
    respond_due = deadlines(calendar, created, m_respond, hours)
    accept_due = deadlines(calendar, dispatched, m_accept, hours)
    resolve_due = deadlines(calendar, created, m_resolve, hours)
    # The same rules as sla.sla_state: a stage is pending until done; a pending stage past its due is late.
    pending = np.stack(
        [
            np.where(np.isnan(responded), respond_due, np.nan),
            np.where(np.isnan(accepted), accept_due, np.nan),
            np.where(np.isnan(resolved), resolve_due, np.nan),
        ]
    )
    has_due = ~np.isnan(pending).all(axis=0)
    next_due = np.where(has_due, np.nanmin(np.where(has_due, pending, 0.0), axis=0), np.inf)
    late = next_due < now.timestamp()
    t_created = created
    numbers = ids_
    keep = np.ones(len(numbers), dtype=bool) if query.overdue is None else late == query.overdue
    # Deadline: soonest first, ties (and no deadline left) by number; newest: by report time, latest first.
    keys = (numbers, next_due) if query.sort == "deadline" else (-numbers, -t_created)
    order = np.lexsort(keys)
    order = order[keep[order]]
    page = order[query.offset : query.offset + query.limit]
    return int(keep.sum()), [int(i) for i in numbers[page]]


def next_deadline(
    sla: SlaState, *, created_at: datetime, dispatched_at: datetime | None, now: datetime
) -> dict[str, Any] | None:
    """The soonest deadline still pending: its stage, time left, share left and state (ok, warning, overdue)."""
    stages = (
        ("respond", sla.respond, created_at),
        ("accept", sla.accept, dispatched_at),
        ("resolve", sla.resolve, created_at),
    )
    pending = [(s.due, name, start) for name, s, start in stages if s.due is not None and s.done_at is None and start]
    if not pending:
        return None
    due, name, start = min(pending, key=lambda p: p[0])
    left = (due - now).total_seconds()
    share = left / max((due - start).total_seconds(), 1.0)
    state = "overdue" if left < 0 else "warning" if share < WARN_SHARE else "ok"
    return {"stage": name, "at": due.isoformat(), "seconds_left": int(left), "share_left": round(share, 3)} | {
        "state": state
    }


PLACES = text(
    """
    SELECT r.id, coalesce(b.name, nb.name) AS building, coalesce(bc.name, nbc.name, pc.name) AS compound,
           coalesce(b.addr_street, nb.addr_street) AS addr_street,
           coalesce(b.addr_housenumber, nb.addr_housenumber) AS housenumber, r.address, s.name AS street
    FROM requests r
    LEFT JOIN buildings b ON b.id = r.building_id
    LEFT JOIN compounds bc ON bc.id = b.compound_id
    LEFT JOIN LATERAL (SELECT b2.name, b2.addr_street, b2.addr_housenumber, b2.compound_id FROM buildings b2
                       WHERE r.building_id IS NULL AND ST_Covers(b2.geom, r.geom) LIMIT 1) nb ON true
    LEFT JOIN compounds nbc ON nbc.id = nb.compound_id
    LEFT JOIN LATERAL (SELECT c.name FROM compounds c WHERE c.name IS NOT NULL AND ST_Covers(c.geom, r.geom)
                       LIMIT 1) pc ON true
    LEFT JOIN LATERAL (SELECT st.name FROM streets st WHERE st.name IS NOT NULL AND r.geom IS NOT NULL
                       ORDER BY st.geom <-> r.geom LIMIT 1) s ON true
    WHERE r.id = ANY(:ids)
    """
)


def places(session: Session, ids: list[int]) -> dict[int, dict[str, str | None]]:
    """Where each request is, for people: 小区 and 楼栋, else the address, else the nearest named street."""
    out: dict[int, dict[str, str | None]] = {}
    for row in session.execute(PLACES, {"ids": ids}):
        door = " ".join(p for p in (row.addr_street, row.housenumber) if p) or None
        building = row.building or door
        if row.compound or building:
            name = " ".join(p for p in (row.compound, building) if p)
            out[row.id] = {"place": name, "place_kind": "building" if building else "compound"}
        elif row.address:
            out[row.id] = {"place": row.address, "place_kind": "address"}
        else:
            out[row.id] = {"place": row.street, "place_kind": "street" if row.street else None}
    return out
