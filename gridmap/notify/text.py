"""Words of notifications, 简体中文 first with English, shared by the API, the pages' data and webhook messages."""

from __future__ import annotations

from typing import Any

KINDS = {
    "new_task": ("新任务", "New task"),
    "returned": ("退单", "Returned"),
    "due_soon": ("即将超时", "Due soon"),
    "overdue": ("已超时", "Overdue"),
}
STAGES = {"respond": ("响应", "response"), "accept": ("接单", "acceptance"), "resolve": ("办结", "resolution")}
STATUSES = {
    "reported": ("待点单", "reported"),
    "taken": ("处置中", "taken"),
    "escalated": ("待分单", "escalated"),
    "triaged": ("待派单", "triaged"),
    "dispatched": ("待接单", "dispatched"),
    "accepted": ("处置中", "accepted"),
    "returned": ("已退单", "returned"),
    "resolved": ("待核查", "resolved"),
    "verified": ("待评单", "verified"),
    "closed": ("已结案", "closed"),
    "reopened": ("已重办", "reopened"),
    "merged": ("已合并", "merged"),
}
ACTIONS = {"reject": ("核查不通过", "failed verification"), "return": ("退单", "returned")}


def _pair(table: dict[str, tuple[str, str]], key: str | None) -> tuple[str, str]:
    return table.get(key or "", (key or "", key or ""))


def titles(kind: str, stage: str | None, data: dict[str, Any], request_id: int) -> tuple[str, str]:
    """A one-line title in Chinese and English: 已超时 · 办结 · 垃圾乱堆 #123."""
    kind_zh, kind_en = _pair(KINDS, kind)
    if data.get("action") in ACTIONS:
        kind_zh, kind_en = _pair(ACTIONS, data["action"])
    zh, en = [kind_zh], [kind_en]
    if stage:
        stage_zh, stage_en = _pair(STAGES, stage)
        zh.append(stage_zh)
        en.append(stage_en)
    zh.append(f"{data.get('category_name') or data.get('category', '')} #{request_id}")
    en.append(f"{data.get('category_name_en') or data.get('category', '')} #{request_id}")
    return " · ".join(zh), " · ".join(en)
