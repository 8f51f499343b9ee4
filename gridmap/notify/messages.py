"""Webhook bodies: 企业微信 and 钉钉 group-robot markdown, and a plain JSON event."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import urllib.parse
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from gridmap.db.models import NotifyEvent
from gridmap.notify.text import STAGES, STATUSES, titles

FORMATS = {"wecom": "企业微信群机器人", "dingtalk": "钉钉群机器人", "json": "JSON"}


def _local(value: str | datetime | None, tz: ZoneInfo) -> str | None:
    if value is None:
        return None
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M")


def _link(base_url: str | None, request_id: int) -> str:
    return f"{base_url.rstrip('/')}/requests/{request_id}" if base_url else f"/requests/{request_id}"


def as_json(event: NotifyEvent, *, base_url: str | None, tz: ZoneInfo) -> dict[str, Any]:
    """The plain JSON event (no personal data: no reporter, no description)."""
    data = event.data or {}
    title, title_en = titles(event.kind, event.stage, data, event.request_id)
    return {
        "event": event.kind,
        "title": title,
        "title_en": title_en,
        "request_id": event.request_id,
        "url": _link(base_url, event.request_id),
        "status": event.status,
        "status_name": STATUSES.get(event.status, (event.status,))[0],
        "stage": event.stage,
        "category": data.get("category"),
        "category_name": data.get("category_name"),
        "grid_code": data.get("grid_code"),
        "address": data.get("address"),
        "department": data.get("department"),
        "action": data.get("action"),
        "reason": data.get("reason"),
        "due": data.get("due"),
        "at": event.created_at.isoformat(),
        "at_local": _local(event.created_at, tz),
    }


def _markdown(event: NotifyEvent, *, base_url: str | None, tz: ZoneInfo) -> tuple[str, str]:
    body = as_json(event, base_url=base_url, tz=tz)
    lines = [f"**{body['title']}**"]
    facts = [
        ("状态", body["status_name"]),
        ("阶段", STAGES[event.stage][0] if event.stage in STAGES else None),
        ("截止", _local(body["due"], tz)),
        ("网格", body["grid_code"]),
        ("地址", body["address"]),
        ("部门", body["department"]),
        ("原因", body["reason"]),
        ("时间", body["at_local"]),
    ]
    lines += [f"> {name}：{value}" for name, value in facts if value]
    lines.append(f"[查看诉求 #{event.request_id}]({body['url']})")
    return body["title"], "\n".join(lines)


def render(fmt: str, event: NotifyEvent, *, base_url: str | None, tz: ZoneInfo) -> dict[str, Any]:
    """The body a webhook of format ``fmt`` is sent."""
    if fmt == "json":
        return as_json(event, base_url=base_url, tz=tz)
    title, text = _markdown(event, base_url=base_url, tz=tz)
    if fmt == "wecom":
        return {"msgtype": "markdown", "markdown": {"content": text}}
    return {"msgtype": "markdown", "markdown": {"title": title, "text": text}}


def signed_url(url: str, secret: str | None, *, now_ms: int | None = None) -> str:
    """A 钉钉 robot URL with its 加签 (timestamp and HMAC-SHA256 sign) when the robot has a secret."""
    if not secret:
        return url
    stamp = now_ms if now_ms is not None else int(time.time() * 1000)
    digest = hmac.new(secret.encode(), f"{stamp}\n{secret}".encode(), hashlib.sha256).digest()
    sign = urllib.parse.quote_plus(base64.b64encode(digest))
    return f"{url}{'&' if '?' in url else '?'}timestamp={stamp}&sign={sign}"
