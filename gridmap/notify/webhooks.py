"""Webhooks per unit and their outbox: configured by admins, sent by a background sender with retries.

A delivery is claimed (leased), sent outside any transaction and recorded after, so a slow or dead receiver
never holds a database connection, and the workflow never waits for it: actions only add outbox rows.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, case, func, select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.orm import Session

from gridmap.db.models import AdminUnit, NotifyEvent, RequestCategory, User, Webhook, WebhookDelivery
from gridmap.db.session import session_scope
from gridmap.errors import InvalidInput, NotFound
from gridmap.notify.messages import FORMATS, render, signed_url
from gridmap.notify.queries import CLAIM
from gridmap.notify.text import KINDS
from gridmap.partition.codes import UNIT_DIGITS, GridCode, unit_level
from gridmap.settings import Settings

UNIT_KINDS = {"grid": "网格", "community": "社区", "street": "街道", "department": "部门"}


def departments(session: Session) -> set[str]:
    """Department names known to the data: categories' default departments and departments' users."""
    named = set(session.scalars(select(RequestCategory.department)))
    return named | {name for name in session.scalars(select(User.department)) if name}


def _check(session: Session, unit_kind: str, unit: str, url: str, fmt: str, kinds: list[str]) -> None:
    if unit_kind not in UNIT_KINDS:
        raise InvalidInput(
            "单位类型须为 grid(网格)、community(社区)、street(街道) 或 department(部门) / unknown unit_kind"
        )
    name = UNIT_KINDS[unit_kind]
    if unit_kind != "department" and unit_level(unit) != unit_kind:
        digits = UNIT_DIGITS[unit_kind]
        raise InvalidInput(f"{name}代码须为 {digits} 位数字 / a {unit_kind} code has {digits} digits, got {unit!r}")
    if unit_kind == "department" and unit not in (known := departments(session)):
        raise InvalidInput(f"未知部门 {unit!r}，可选：{'、'.join(sorted(known))} / unknown department")
    if fmt not in FORMATS:
        raise InvalidInput("格式须为 wecom(企业微信)、dingtalk(钉钉) 或 json / format must be wecom, dingtalk or json")
    if not re.fullmatch(r"https?://[^\s/?#]+[^\s]*", url) or len(url) > 2000:
        raise InvalidInput(f"地址须为 http:// 或 https:// 开头的网址 / url must be an http(s) URL, got {url[:80]!r}")
    if unknown := set(kinds) - set(KINDS):
        raise InvalidInput(f"未知通知类型 {sorted(unknown)}，可选：{', '.join(KINDS)} / unknown kinds")


def add_webhook(
    session: Session,
    *,
    name: str,
    unit_kind: str,
    unit: str,
    url: str,
    fmt: str,
    kinds: list[str] | None = None,
    secret: str | None = None,
) -> Webhook:
    """Add a webhook for a unit (all kinds of events unless ``kinds``); :class:`InvalidInput` says what to fix."""
    name, unit, url = name.strip(), unit.strip(), url.strip()
    if not name:
        raise InvalidInput("名称不能为空 / name must not be empty")
    chosen = list(dict.fromkeys(kinds)) if kinds else list(KINDS)
    _check(session, unit_kind, unit, url, fmt, chosen)
    hook = Webhook(name=name, unit_kind=unit_kind, unit=unit, url=url, format=fmt, kinds=chosen, secret=secret or None)
    hook.active = True
    session.add(hook)
    session.flush()
    return hook


def remove_webhook(session: Session, webhook_id: int) -> None:
    """Delete a webhook and its outbox rows."""
    hook = session.get(Webhook, webhook_id)
    if hook is None:
        raise NotFound(f"没有编号为 {webhook_id} 的 webhook / webhook {webhook_id} does not exist")
    session.delete(hook)
    session.flush()


def _unit_name(session: Session, hook: Webhook) -> str:
    if hook.unit_kind == "department":
        return hook.unit
    grid = GridCode.parse(hook.unit) if hook.unit_kind == "grid" else None
    code = grid.community if grid else hook.unit
    name = session.scalar(select(AdminUnit.name).where(AdminUnit.code == code))
    label = f"{name} " if name else ""
    return f"{label}第{grid.sequence}网格" if grid else (name or hook.unit)


def list_webhooks(session: Session) -> list[dict[str, Any]]:
    """Webhooks with their unit's name and outbox counts (the URL's secret part and the 加签 secret hidden)."""
    counts: dict[int, dict[str, int]] = {}
    rows = session.execute(
        select(WebhookDelivery.webhook_id, WebhookDelivery.status, func.count()).group_by(
            WebhookDelivery.webhook_id, WebhookDelivery.status
        )
    )
    for hook_id, status, n in rows:
        counts.setdefault(hook_id, {})[status] = n
    errors = dict(
        session.execute(
            select(WebhookDelivery.webhook_id, WebhookDelivery.last_error)
            .where(WebhookDelivery.last_error.is_not(None))
            .order_by(WebhookDelivery.webhook_id, WebhookDelivery.id.desc())
            .ext(distinct_on(WebhookDelivery.webhook_id))
        ).all()
    )
    return [
        {
            "id": hook.id,
            "name": hook.name,
            "unit_kind": hook.unit_kind,
            "unit": hook.unit,
            "unit_name": _unit_name(session, hook),
            "url": _masked(hook.url),
            "format": hook.format,
            "format_name": FORMATS[hook.format],
            "kinds": hook.kinds,
            "signed": bool(hook.secret),
            "active": hook.active,
            "deliveries": {s: counts.get(hook.id, {}).get(s, 0) for s in ("pending", "delivered", "failed")},
            "last_error": errors.get(hook.id),
        }
        for hook in session.scalars(select(Webhook).order_by(Webhook.id))
    ]


def _masked(url: str) -> str:
    """A robot URL without its key (access_token=…, key=…): the key alone lets anyone post to the group."""
    return re.sub(r"((?:access_token|key|token)=)[^&]+", r"\1****", url)


@dataclass(frozen=True)
class Job:
    """One claimed delivery: where to post what."""

    delivery_id: int
    attempts: int
    fmt: str
    url: str
    body: bytes


def claim(engine: Engine, settings: Settings, *, limit: int = 10) -> list[Job]:
    """Lease up to ``limit`` due deliveries and render their bodies."""
    wall = datetime.now(UTC)
    lease = timedelta(seconds=settings.notify.webhook_timeout_seconds + 30)
    tz = ZoneInfo(settings.requests.calendar.timezone)
    with session_scope(engine) as session:
        rows = session.execute(CLAIM, {"wall": wall, "lease_until": wall + lease, "limit": limit}).all()
        hooks = {h.id: h for h in session.scalars(select(Webhook).where(Webhook.id.in_({r[1] for r in rows})))}
        events = {e.id: e for e in session.scalars(select(NotifyEvent).where(NotifyEvent.id.in_({r[2] for r in rows})))}
        jobs = []
        for delivery_id, hook_id, event_id, attempts in rows:
            hook = hooks[hook_id]
            body = render(hook.format, events[event_id], base_url=settings.notify.public_url, tz=tz)
            url = signed_url(hook.url, hook.secret) if hook.format == "dingtalk" else hook.url
            jobs.append(Job(delivery_id, attempts, hook.format, url, json.dumps(body, ensure_ascii=False).encode()))
        return jobs


def post(job: Job, timeout: float) -> str | None:
    """Send one delivery; None when the receiver took it, else why not (HTTP status, robot errcode, network)."""
    request = urllib.request.Request(
        job.url, data=job.body, method="POST", headers={"Content-Type": "application/json; charset=utf-8"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (an admin's http(s) URL)
            answer = response.read(65536)
    except urllib.error.HTTPError as exc:
        return f"HTTP {exc.code} {exc.reason}"
    except (OSError, ValueError) as exc:
        return f"{type(exc).__name__}: {exc}"[:500]
    if job.fmt in {"wecom", "dingtalk"}:  # the robots answer 200 with an errcode (a wrong key, a missing keyword)
        try:
            reply = json.loads(answer or b"{}")
        except ValueError:
            return f"not a robot reply: {answer[:200]!r}"
        if isinstance(reply, dict) and reply.get("errcode", 0) != 0:
            return f"errcode {reply.get('errcode')}: {reply.get('errmsg', '')}"[:500]
    return None


def finish(engine: Engine, settings: Settings, results: list[tuple[Job, str | None]]) -> None:
    """Record each result: delivered, or retried after an exponentially growing delay, or given up."""
    wall = datetime.now(UTC)
    limits = settings.notify
    with session_scope(engine) as session:
        for job, error in results:
            row = session.get(WebhookDelivery, job.delivery_id)
            if row is None:  # its webhook was removed meanwhile
                continue
            if error is None:
                row.status, row.delivered_at, row.last_error = "delivered", wall, None
                continue
            delay = min(limits.retry_base_seconds * 2 ** (job.attempts - 1), limits.retry_max_seconds)
            row.last_error = error
            row.next_attempt_at = wall + timedelta(seconds=delay)
            row.status = "failed" if job.attempts >= limits.max_attempts else "pending"


def pending_counts(session: Session) -> dict[str, int]:
    """Outbox rows by status."""
    status = WebhookDelivery.status
    row = session.execute(
        select(*(func.count(case((status == s, 1))) for s in ("pending", "delivered", "failed")))
    ).one()
    return dict(zip(("pending", "delivered", "failed"), (int(n) for n in row), strict=True))
