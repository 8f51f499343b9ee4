"""Storing notifications once (event, inboxes, webhook outbox in one transaction) and reading a user's inbox."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from gridmap.db.models import Notification, NotifyEvent, RequestEvent, ServiceRequest
from gridmap.notify.queries import RECORD, RECORD_NO_OUTBOX
from gridmap.notify.recipients import recipients
from gridmap.notify.text import KINDS, STAGES, STATUSES, titles
from gridmap.requests.categories import cached_category

SILENT_ACTIONS = frozenset({"take", "accept", "close", "merge", "photo", "report"})  # own work, or nothing left to do


def snapshot(session: Session, req: ServiceRequest, **extra: object) -> dict[str, Any]:
    """What a notification shows of a request, as it was then (names, place, department)."""
    cat = cached_category(session, req.category)
    out: dict[str, Any] = {
        "category": req.category,
        "category_name": cat.name_zh if cat else req.category,
        "category_name_en": cat.name_en if cat else req.category,
        "grid_code": req.grid_code,
        "address": req.address,
        "department": req.department,
    }
    return out | {k: v for k, v in extra.items() if v is not None}


def record(
    session: Session,
    req: ServiceRequest,
    *,
    kind: str,
    key: str,
    users: list[int],
    now: datetime,
    data: dict[str, Any],
    stage: str | None = None,
    since: datetime | None = None,
    webhooks: bool = True,
) -> int | None:
    """Store an event once by ``key`` with a 通知 for each user and its webhook deliveries; None if known already.

    One round trip; ``webhooks=False`` leaves the outbox out (a scan pass that found no active webhook).
    """
    params = {
        "key": key,
        "request_id": req.id,
        "kind": kind,
        "stage": stage,
        "since": since,
        "status": req.status,
        "now": now,
        "data": json.dumps(data, ensure_ascii=False),
        "users": users,
        "wall": datetime.now(UTC),  # the outbox runs on real time, whatever clock the workflow has
        "grid": req.grid_code,
        "department": req.department,
        "dispatched": req.dispatched_at is not None,
    }
    event_id = session.scalar(RECORD if webhooks else RECORD_NO_OUTBOX, params)
    if event_id is None:
        return None
    return int(event_id)


def on_transition(session: Session, req: ServiceRequest, event: RequestEvent) -> int | None:
    """After a workflow action: tell whoever must act next (退单 and 核查不通过 come as returned, with the reason)."""
    if event.action in SILENT_ACTIONS or (req.simulated and event.actor_id is None):
        return None  # the simulator writing history tells nobody
    users = recipients(session, req, event.to_status, exclude=event.actor_id)
    kind = "returned" if event.action in {"return", "reject"} else "new_task"
    data = snapshot(session, req, action=event.action, reason=event.reason, actor=event.actor)
    return record(session, req, kind=kind, key=f"event:{event.id}", users=users, now=event.at, data=data)


def _item(note: Notification, event: NotifyEvent) -> dict[str, Any]:
    data = event.data or {}
    title, title_en = titles(event.kind, event.stage, data, event.request_id)
    kind_zh, kind_en = KINDS.get(event.kind, (event.kind, event.kind))
    stage_zh, stage_en = STAGES.get(event.stage or "", (None, None))
    status_zh, status_en = STATUSES.get(event.status, (event.status, event.status))
    return {
        "id": note.id,
        "kind": event.kind,
        "kind_name": kind_zh,
        "kind_name_en": kind_en,
        "title": title,
        "title_en": title_en,
        "request_id": event.request_id,
        "url": f"/requests/{event.request_id}",
        "stage": event.stage,
        "stage_name": stage_zh,
        "stage_name_en": stage_en,
        "status": event.status,
        "status_name": status_zh,
        "status_name_en": status_en,
        "action": data.get("action"),
        "category": data.get("category"),
        "category_name": data.get("category_name"),
        "category_name_en": data.get("category_name_en"),
        "grid_code": data.get("grid_code"),
        "address": data.get("address"),
        "reason": data.get("reason"),
        "actor": data.get("actor"),
        "due": data.get("due"),
        "created_at": note.created_at.isoformat(),
        "read": note.read_at is not None,
        "read_at": note.read_at.isoformat() if note.read_at else None,
    }


def unread_count(session: Session, user_id: int) -> int:
    """How many of the user's notifications are unread."""
    query = select(func.count()).where(Notification.user_id == user_id, Notification.read_at.is_(None))
    return int(session.scalar(query) or 0)


def inbox(
    session: Session, user_id: int, *, unread_only: bool = False, limit: int = 50, offset: int = 0, after: int = 0
) -> tuple[int, list[dict[str, Any]]]:
    """The user's notifications, newest first (only those with an id above ``after``): the total and one page."""
    where = [Notification.user_id == user_id, Notification.id > after]
    if unread_only:
        where.append(Notification.read_at.is_(None))
    total = int(session.scalar(select(func.count()).select_from(Notification).where(*where)) or 0)
    rows = session.execute(
        select(Notification, NotifyEvent)
        .join(NotifyEvent, NotifyEvent.id == Notification.event_id)
        .where(*where)
        .order_by(Notification.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    return total, [_item(note, event) for note, event in rows]


def latest_id(session: Session, user_id: int) -> int:
    """The id of the user's newest notification (0: none yet)."""
    return int(session.scalar(select(func.max(Notification.id)).where(Notification.user_id == user_id)) or 0)


def mark_read(session: Session, user_id: int, *, ids: list[int] | None, now: datetime) -> int:
    """Mark the user's notifications ``ids`` (None: all) read; returns how many were unread."""
    query = update(Notification).where(Notification.user_id == user_id, Notification.read_at.is_(None))
    if ids is not None:
        query = query.where(Notification.id.in_(ids))
    return session.execute(query.values(read_at=now)).rowcount  # type: ignore[attr-defined,no-any-return]
