"""What the people routes take and give: phones and ID numbers only ever go out masked (or by a logged reveal)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from gridmap.partition.codes import COMMUNITY_PATTERN, GRID_PATTERN

PostRole = Literal["grid_worker", "grid_leader", "building_head", "lane_head", "party_member", "volunteer"]
Availability = Literal["weekday_day", "weekday_evening", "weekend"]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class PostIn(_In):
    """A post: its role and what it is for (a 楼长 a building, a 街巷长 a street, the others a grid)."""

    role: PostRole
    grid_code: str | None = Field(None, pattern=GRID_PATTERN)
    building_id: int | None = Field(None, ge=1, le=2**31 - 1)
    street_id: int | None = Field(None, ge=1, le=2**31 - 1)


class PersonIn(_In):
    """A person the 社区 records, with posts; phone and ID number are encrypted at rest."""

    name: str = Field(min_length=1, max_length=100)
    phone: str | None = Field(None, max_length=30)
    id_number: str | None = Field(None, max_length=18)
    office_phone: str | None = Field(None, max_length=30, description="a public office line, printed unmasked")
    community_code: str | None = Field(None, pattern=COMMUNITY_PATTERN)
    username: str | None = Field(None, max_length=100, description="the person's gridmap account, if any")
    in_service: bool = False
    work_unit: str | None = Field(None, max_length=200)
    availability: list[Availability] = Field(default_factory=list)
    posts: list[PostIn] = Field(default_factory=list, max_length=20)


class PersonPatch(_In):
    """A correction of a person record: only the fields sent change; ``null`` clears one (not the name).

    Phone and ID number are sealed again; a new home address is geocoded as a registration is (422 when it
    cannot be placed, and then nothing is changed).
    """

    name: str | None = Field(None, min_length=1, max_length=100)
    phone: str | None = Field(None, max_length=30)
    id_number: str | None = Field(None, max_length=18)
    address: str | None = Field(None, min_length=2, max_length=300, description="home address, geocoded")
    office_phone: str | None = Field(None, max_length=30)
    username: str | None = Field(None, max_length=100)
    in_service: bool | None = None
    work_unit: str | None = Field(None, max_length=200)
    availability: list[Availability] | None = None


class RemovedOut(BaseModel):
    """A person record removed: its number and when (its personal data is gone)."""

    person_id: int
    removed_at: datetime


class RegisterIn(_In):
    """双报到: a 党员 (or volunteer) registers where they live and when they are free."""

    name: str = Field(min_length=1, max_length=100)
    phone: str = Field(min_length=5, max_length=30)
    id_number: str | None = Field(None, max_length=18)
    address: str = Field(min_length=2, max_length=300, description="home address, geocoded with the gazetteer")
    kind: Literal["party_member", "volunteer"] = "party_member"
    in_service: bool = True
    work_unit: str | None = Field(None, max_length=200)
    availability: list[Availability] = Field(default_factory=list)


class PostOut(BaseModel):
    """A post with names."""

    id: int
    role: PostRole
    role_name: str
    grid_code: str | None
    grid_name: str | None
    building_id: int | None
    building_name: str | None
    street_id: int | None
    street_name: str | None
    placed_at: datetime | None


class PastPostOut(BaseModel):
    """A post given up: what it was for and from when until when."""

    post_id: int
    role: PostRole
    role_name: str
    grid_code: str | None
    building_id: int | None
    building_name: str | None
    street_id: int | None
    street_name: str | None
    placed_at: datetime | None
    ended_at: datetime
    ended_by: str


class BuildingHeadHistory(BaseModel):
    """A former 楼长 of a building: the post, and the name while the person record exists (else None)."""

    person_id: int | None
    name: str | None
    post: PastPostOut


class PersonOut(BaseModel):
    """A person as lists show them: phone and ID number masked."""

    id: int
    name: str
    phone: str | None = Field(description="masked: 138****5678")
    id_number: str | None = Field(description="masked: 3201**********123X")
    office_phone: str | None
    community_code: str | None
    in_service: bool
    work_unit: str | None
    availability: list[str]
    home: str | None = Field(description="the geocoded home building, not the address")
    home_grid_code: str | None
    posts: list[PostOut]
    past_posts: list[PastPostOut] = Field(default_factory=list, description="posts given up, latest first")


class RevealIn(_In):
    """Why a phone or ID number must be seen (logged with who and when)."""

    field: Literal["phone", "id_number"]
    reason: str = Field(min_length=2, max_length=500)


class RevealOut(BaseModel):
    """The revealed value and the log entry it made."""

    person_id: int
    field: str
    value: str | None
    logged_at: datetime


class RegisteredOut(BaseModel):
    """A registration: the person, where the address was found and the grid nearest the home."""

    person: PersonOut
    match_level: str
    home_grid_code: str | None
    distance_m: float | None


class HeadOut(BaseModel):
    """The old 楼栋长 answer, now read from the 楼长 record (phone masked)."""

    building_id: int
    head_name: str | None
    head_phone: str | None
    person_id: int | None


class GridShare(BaseModel):
    """A grid of the unit with its 党员 and volunteers placed (and the share each should get)."""

    code: str
    name: str
    party_members: int
    volunteers: int


class SuggestionOut(BaseModel):
    """A registered person, where they are placed and where the rule suggests."""

    person_id: int
    name: str
    kind: Literal["party_member", "volunteer"]
    kind_name: str
    availability: list[str]
    home: str | None
    home_grid_code: str | None
    placed_grid: str | None
    suggested_grid: str | None
    suggested_grid_name: str | None
    distance_m: float | None


class PlacementOut(BaseModel):
    """The 社区's placement board: its grids, each kind's share per grid, the rule and the suggestions."""

    unit: str
    unit_name: str
    rule: str
    shares: dict[str, int]
    grids: list[GridShare]
    people: list[SuggestionOut]


class PlaceOne(_In):
    """Put one registered person into one grid."""

    person_id: int = Field(ge=1, le=2**31 - 1)
    grid_code: str = Field(pattern=GRID_PATTERN)


class PlaceIn(_In):
    """Placements to make (e.g. the suggestions as they are, or changed by hand)."""

    placements: list[PlaceOne] = Field(min_length=1, max_length=2000)


class PlacedOut(BaseModel):
    """How many were placed."""

    placed: int


class Place(BaseModel):
    """A building or street by name."""

    id: int
    name: str


class GridPlaces(BaseModel):
    """What a 楼长 or 街巷长 post of a grid can be for."""

    buildings: list[Place]
    streets: list[Place]
