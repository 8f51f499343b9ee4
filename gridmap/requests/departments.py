"""Departments a case can be dispatched to (派单): those with a department account and categories' defaults."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from gridmap.db.models import RequestCategory, Role, User
from gridmap.errors import InvalidInput


@dataclass
class Department:
    """A department by name, with how many active accounts it has and the categories it handles by default."""

    name: str
    accounts: int = 0
    categories: list[str] = field(default_factory=list)


def known_departments(session: Session) -> list[Department]:
    """Every department known from users with role department and from the categories, sorted by name."""
    found: dict[str, Department] = {}
    users = session.scalars(
        select(User.department).where(User.role == Role.department, User.is_active, User.department.is_not(None))
    )
    for name in users:
        if name:
            found.setdefault(name, Department(name)).accounts += 1
    rows = session.execute(select(RequestCategory.department, RequestCategory.name_zh).where(RequestCategory.active))
    for name, category_name in rows:
        found.setdefault(name, Department(name)).categories.append(category_name)
    return sorted(found.values(), key=lambda d: d.name)


def check_department(session: Session, name: str | None) -> str:
    """``name`` when it is a known department; :class:`InvalidInput` naming the known ones otherwise."""
    names = [d.name for d in known_departments(session)]
    if not name:
        raise InvalidInput(f"派单需要选择部门：{'、'.join(names)} / dispatch needs a department: {', '.join(names)}")
    if name not in names:
        raise InvalidInput(
            f"没有名为「{name}」的部门，请从以下部门中选择：{'、'.join(names)} / "
            f"unknown department {name!r}; choose one of GET /api/departments: {', '.join(names)}"
        )
    return name
