"""What the notifications API takes and gives."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class NotificationOut(BaseModel):
    """One 通知 of the signed-in user."""

    id: int
    kind: str = Field(description="new_task | returned | due_soon | overdue")
    kind_name: str
    kind_name_en: str
    title: str
    title_en: str
    request_id: int
    url: str
    stage: str | None = Field(description="respond | accept | resolve, for due_soon and overdue")
    stage_name: str | None
    stage_name_en: str | None
    status: str = Field(description="the request's status when this was sent")
    status_name: str
    status_name_en: str
    action: str | None
    category: str | None
    category_name: str | None
    category_name_en: str | None
    grid_code: str | None
    address: str | None
    reason: str | None
    actor: str | None
    due: str | None
    created_at: str
    read: bool
    read_at: str | None


class NotificationPage(BaseModel):
    """A page of 通知, newest first, with the total matching and the unread count."""

    total: int
    unread: int
    count: int
    items: list[NotificationOut]


class Unread(BaseModel):
    """How many 通知 are unread."""

    unread: int


class MarkRead(BaseModel):
    """Mark some 通知 read (``ids``) or all of them (``all``: true)."""

    model_config = ConfigDict(extra="forbid")

    ids: list[int] | None = Field(None, max_length=1000)
    all: bool = False


class Marked(BaseModel):
    """How many were marked read, and how many stay unread."""

    marked: int
    unread: int


class WebhookIn(BaseModel):
    """A unit's webhook: a 社区 (12 digits), 街道 (9), grid (15) code, or a department's name."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=100)
    unit_kind: str = Field(max_length=20, description="grid | community | street | department")
    unit: str = Field(min_length=1, max_length=200)
    url: str = Field(min_length=1, max_length=2000)
    format: str = Field(max_length=20, description="wecom (企业微信) | dingtalk (钉钉) | json")
    kinds: list[str] | None = Field(None, max_length=10, description="new_task, returned, due_soon, overdue")
    secret: str | None = Field(None, max_length=200, description="钉钉 加签 secret")


class DeliveryCounts(BaseModel):
    """Outbox rows of a webhook by state."""

    pending: int
    delivered: int
    failed: int


class WebhookOut(BaseModel):
    """A webhook as listed (the robot key in its URL masked)."""

    id: int
    name: str
    unit_kind: str
    unit: str
    unit_name: str
    url: str
    format: str
    format_name: str
    kinds: list[str]
    signed: bool
    active: bool
    deliveries: DeliveryCounts
    last_error: str | None
