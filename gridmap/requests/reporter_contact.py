"""A reporter's whole phone number: masked in every view, shown by a logged reveal to those who call back.

社区 and the 街道 command centre call the resident back (回访) and may need the number; they ask for it with a
reason, and ``pii_reveals`` keeps who saw whose number, when and why (PIPL), as it does for the people records.
Everyone else (grid workers, departments, leaders) sees the masked number only.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from gridmap.db.models import Role, ServiceRequest, User
from gridmap.errors import Forbidden, InvalidInput
from gridmap.people.queries import log_reveal

CALLS_BACK = frozenset({Role.community, Role.command})
NOT_A_CALLER = (
    "只有社区和街道指挥中心可以查看上报人的完整号码 / only 社区 and 街道 command-centre staff may see a reporter's "
    "whole phone number"
)


class RevealReason(BaseModel):
    """Why the reporter's number must be seen (logged with who and when)."""

    reason: str = Field(min_length=2, max_length=500, description="e.g. 回访居民")


class ReporterPhone(BaseModel):
    """The reporter's whole number and when its reveal was logged."""

    request_id: int
    phone: str
    logged_at: datetime


def may_reveal(user: User) -> bool:
    """Whether the user's role calls residents back, and so may ask for their whole number."""
    return user.role in CALLS_BACK


def reveal_reporter_phone(
    session: Session, req: ServiceRequest, user: User, *, reason: str, now: datetime
) -> ReporterPhone:
    """The whole number of a request's reporter, after logging the reveal (the caller checked the request's scope)."""
    if not may_reveal(user):
        raise Forbidden(NOT_A_CALLER)
    if len(reason.strip()) < 2:
        raise InvalidInput("请写明查看原因 / give the reason for seeing the number")
    if not req.reporter_phone:
        raise InvalidInput(f"诉求 {req.id} 的上报人未留电话 / the reporter of request {req.id} left no phone number")
    log_reveal(
        session, at=now, user_id=user.id, username=user.username, role=user.role.value, field="phone",
        reason=reason.strip(), request_id=req.id,
    )
    return ReporterPhone(request_id=req.id, phone=req.reporter_phone, logged_at=now)
