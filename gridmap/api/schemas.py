"""Request and response bodies."""

from __future__ import annotations

from pydantic import BaseModel


class Token(BaseModel):
    """OAuth2 token response."""

    access_token: str
    token_type: str = "bearer"


class UserPublic(BaseModel):
    """A user as others may see it."""

    username: str
    full_name: str | None
    role: str
    grids: list[str]


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
