"""Request and response bodies."""

from __future__ import annotations

from pydantic import BaseModel


class Token(BaseModel):
    """OAuth2 token response."""

    access_token: str
    token_type: str = "bearer"


class NamedUnit(BaseModel):
    """A grid or unit code with its name (新街口街道 香铺营社区 第1网格)."""

    code: str
    name: str


class PageLink(BaseModel):
    """A page the user may open, with its name in both languages."""

    href: str
    zh: str
    en: str


class UserPublic(BaseModel):
    """A user as others may see it."""

    username: str
    full_name: str | None
    role: str
    grids: list[str]


class Me(UserPublic):
    """The signed-in user: role and unit by name, grids by name, the pages it may open, what its 待办 holds."""

    role_name: str
    display_name: str
    display_name_en: str
    unit_code: str | None
    unit_name: str | None
    department: str | None
    grid_names: list[NamedUnit]
    links: list[PageLink]
    has_todo: bool
    todo_statuses: list[str]
    overview: bool


class Stats(BaseModel):
    """Counts for the published plan."""

    buildings: int
    residential_buildings: int
    compounds: int
    streets: int
    grids: int
    households: int
    requests: int
    plan_version: int | None
    plan_name: str | None
