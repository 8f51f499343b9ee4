"""通知: my notifications (list, unread count, mark read, a live event stream), their page, admins' webhooks."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, StreamingResponse

from gridmap.api.deps import AdminUser, CurrentUser, NowDep, SessionDep, SettingsDep, Transactions, page_role
from gridmap.db.models import Role, User
from gridmap.errors import InvalidInput
from gridmap.notify.runner import Notifier
from gridmap.notify.schemas import Marked, MarkRead, NotificationPage, Unread, WebhookIn, WebhookOut
from gridmap.notify.service import inbox, latest_id, mark_read, unread_count
from gridmap.notify.webhooks import add_webhook, list_webhooks, remove_webhook
from gridmap.resources import FRONTEND

router = APIRouter(tags=["notifications"])
PageAnyone = Annotated[User, Depends(page_role(*Role))]


@router.get("/notifications", response_class=HTMLResponse, include_in_schema=False)
def notifications_page(_: PageAnyone) -> HTMLResponse:
    """The 通知 page: the user's notifications, marked read one by one or all at once."""
    return HTMLResponse((FRONTEND / "notifications.html").read_text(encoding="utf-8"))


@router.get("/api/notifications", response_model=NotificationPage)
def list_notifications(
    user: CurrentUser,
    session: SessionDep,
    unread: bool = False,
    limit: int = Query(50, ge=1, le=200),
    offset: int = Query(0, ge=0),
) -> dict[str, Any]:
    """My 通知, newest first (``unread=true``: only unread ones), with the total for paging."""
    total, items = inbox(session, user.id, unread_only=unread, limit=limit, offset=offset)
    return {"total": total, "unread": unread_count(session, user.id), "count": len(items), "items": items}


@router.get("/api/notifications/unread-count", response_model=Unread)
def notifications_unread(user: CurrentUser, session: SessionDep) -> dict[str, int]:
    """How many of my 通知 are unread (the header badge)."""
    return {"unread": unread_count(session, user.id)}


@router.post("/api/notifications/read", response_model=Marked)
def notifications_read(body: MarkRead, user: CurrentUser, session: SessionDep, now: NowDep) -> dict[str, int]:
    """Mark my 通知 read: ``{"ids": [...]}`` or ``{"all": true}``."""
    if body.all == (body.ids is not None):
        raise InvalidInput('请给出 ids(要标为已读的通知编号)或 "all": true 之一 / send either ids or "all": true')
    marked = mark_read(session, user.id, ids=None if body.all else body.ids, now=now)
    return {"marked": marked, "unread": unread_count(session, user.id)}


def _sse(event: str, data: dict[str, Any]) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


# Not in the OpenAPI document: an endless text/event-stream is no JSON API for clients generated from it.
@router.get("/api/notifications/stream", response_class=StreamingResponse, include_in_schema=False)
async def notifications_stream(
    request: Request, user: CurrentUser, transactions: Transactions, settings: SettingsDep
) -> StreamingResponse:
    """Server-sent events: ``unread`` on connecting, then ``notification`` whenever my 通知 change.

    A ``notification`` event carries the new items and the unread count. Idle streams hold no database
    connection; a stream ends after a few minutes and the browser reconnects.
    """
    notifier: Notifier = request.app.state.notifier
    cfg = settings.notify

    def state() -> tuple[int, int]:
        with transactions() as session:
            return latest_id(session, user.id), unread_count(session, user.id)

    def newer(after: int) -> tuple[list[dict[str, Any]], int]:
        with transactions() as session:
            _, items = inbox(session, user.id, after=after, limit=20)
            return items, unread_count(session, user.id)

    async def events() -> AsyncIterator[str]:
        loop = asyncio.get_running_loop()
        with notifier.subscribe(user.id) as woken:
            last, unread = await run_in_threadpool(state)
            yield f"retry: 5000\n\n{_sse('unread', {'unread': unread})}"
            ends = loop.time() + cfg.stream_seconds
            while loop.time() < ends:
                try:
                    await asyncio.wait_for(woken.wait(), min(cfg.keepalive_seconds, max(ends - loop.time(), 0.01)))
                except TimeoutError:
                    yield ": keepalive\n\n"
                    continue
                woken.clear()
                items, unread = await run_in_threadpool(newer, last)
                last = max([last, *(item["id"] for item in items)])
                yield _sse("notification", {"unread": unread, "items": items})

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(events(), media_type="text/event-stream", headers=headers)


@router.get("/api/webhooks", response_model=list[WebhookOut])
def webhooks(_: AdminUser, session: SessionDep) -> list[dict[str, Any]]:
    """Webhooks per unit with their outbox counts (admins)."""
    return list_webhooks(session)


@router.post("/api/webhooks", response_model=WebhookOut, status_code=status.HTTP_201_CREATED)
def create_webhook(body: WebhookIn, _: AdminUser, session: SessionDep) -> dict[str, Any]:
    """Add a 企业微信 / 钉钉 group robot or a JSON receiver for a unit (admins)."""
    hook = add_webhook(
        session,
        name=body.name,
        unit_kind=body.unit_kind,
        unit=body.unit,
        url=body.url,
        fmt=body.format,
        kinds=body.kinds,
        secret=body.secret,
    )
    return next(item for item in list_webhooks(session) if item["id"] == hook.id)


@router.delete("/api/webhooks/{webhook_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_webhook(webhook_id: int, _: AdminUser, session: SessionDep) -> None:
    """Remove a webhook and its outbox (admins)."""
    remove_webhook(session, webhook_id)
