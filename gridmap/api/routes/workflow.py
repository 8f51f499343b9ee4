"""What the 五单 pages need to label and offer: departments to dispatch to, names of statuses, actions and roles."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from gridmap.api.deps import CurrentUser, SessionDep
from gridmap.requests.departments import known_departments
from gridmap.requests.states import ACTION_NAMES, ROLE_NAMES, STATUS_NAMES

router = APIRouter(tags=["requests"])


@router.get("/api/departments")
def departments(_: CurrentUser, session: SessionDep) -> list[dict[str, Any]]:
    """Departments a case can be dispatched to (派单): those with accounts and the categories' default ones."""
    return [{"name": d.name, "accounts": d.accounts, "categories": d.categories} for d in known_departments(session)]


@router.get("/api/workflow/names")
def workflow_names(_: CurrentUser) -> dict[str, dict[str, dict[str, str]]]:
    """简体中文 and English names of statuses, actions and roles, as the pages show them."""

    def table(names: dict[Any, tuple[str, str]]) -> dict[str, dict[str, str]]:
        return {str(code): {"zh": zh, "en": en} for code, (zh, en) in names.items()}

    return {"statuses": table(STATUS_NAMES), "actions": table(ACTION_NAMES), "roles": table(ROLE_NAMES)}
