"""The people of a grid: records and posts (社区/街道), masked lists and CSV, logged reveals, 双报到."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response

from gridmap.api.deps import NowDep, SessionDep, SettingsDep, require_role
from gridmap.api.schemas import NamedUnit
from gridmap.db.models import User
from gridmap.partition.codes import GRID_PATTERN, UNIT_PATTERN
from gridmap.people import edit, placement, service
from gridmap.people.pii import Cipher
from gridmap.people.schemas import (
    BuildingHeadHistory,
    GridPlaces,
    PersonIn,
    PersonOut,
    PersonPatch,
    PlacedOut,
    PlaceIn,
    PlacementOut,
    PostRole,
    RegisteredOut,
    RegisterIn,
    RemovedOut,
    RevealIn,
    RevealOut,
)
from gridmap.policy import PEOPLE_EDITORS, PEOPLE_VIEWERS, PII_REVEALERS
from gridmap.settings import Settings

router = APIRouter(prefix="/api/people", tags=["people"])
Viewer = Annotated[User, Depends(require_role(*PEOPLE_VIEWERS))]
Editor = Annotated[User, Depends(require_role(*PEOPLE_EDITORS))]
Revealer = Annotated[User, Depends(require_role(*PII_REVEALERS))]
GridCode = Annotated[str | None, Query(pattern=GRID_PATTERN)]
PersonId = Annotated[int, Path(ge=1, le=2**31 - 1, description="the person's number")]
PostId = Annotated[int, Path(ge=1, le=2**31 - 1)]


def cipher_for(request: Request, settings: Settings) -> Cipher:
    """The app's personal-data cipher (made once per app from the configured or generated key)."""
    cipher: Cipher | None = getattr(request.app.state, "pii_cipher", None)
    if cipher is None:
        cipher = Cipher(settings.effective_pii_key())
        request.app.state.pii_cipher = cipher
    return cipher


async def get_cipher(request: Request, settings: SettingsDep) -> Cipher:
    """Dependency: the personal-data cipher."""
    return cipher_for(request, settings)


CipherDep = Annotated[Cipher, Depends(get_cipher)]


@router.get("", response_model=list[PersonOut])
def list_people(
    session: SessionDep, cipher: CipherDep, user: Viewer, grid_code: GridCode = None, role: PostRole | None = None
) -> list[PersonOut]:
    """People in the caller's scope with their posts; phones and ID numbers masked (``138****5678``)."""
    return service.list_people(session, cipher, user, grid_code=grid_code, role=role)


@router.get("/export.csv", response_class=Response, responses={200: {"content": {"text/csv": {}}}})
def export_people(
    session: SessionDep, cipher: CipherDep, user: Viewer, grid_code: GridCode = None, role: PostRole | None = None
) -> Response:
    """The same list as CSV, masked as on screen (an export never carries full numbers)."""
    rows = service.list_people(session, cipher, user, grid_code=grid_code, role=role)
    return Response(
        service.export_csv(rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="people.csv"'},
    )


@router.post("", response_model=PersonOut, status_code=201)
def create_person(session: SessionDep, cipher: CipherDep, user: Editor, body: PersonIn, now: NowDep) -> PersonOut:
    """Record a person (网格员, 网格长, 楼长, 街巷长, 党员, 志愿者) with posts in the caller's grids."""
    person = service.create_person(session, cipher, user, body, now=now)
    return service.view(session, cipher, person)


@router.patch("/{person_id}", response_model=PersonOut)
def update_person(
    person_id: PersonId,
    session: SessionDep,
    cipher: CipherDep,
    settings: SettingsDep,
    user: Editor,
    body: PersonPatch,
    now: NowDep,
) -> PersonOut:
    """Correct a person: only the fields sent change (``null`` clears one), audited without values.

    Phone, ID number and address are sealed again; a new address is geocoded (422 when it cannot be placed, and
    then nothing is changed).
    """
    person = edit.update_person(
        session, cipher, user, person_id, body, now=now, snap_outside_m=settings.requests.snap_outside_m
    )
    return service.view(session, cipher, person)


@router.delete("/{person_id}/posts/{post_id}", response_model=PersonOut)
def end_post(person_id: PersonId, post_id: PostId, session: SessionDep, cipher: CipherDep, user: Editor,
             now: NowDep) -> PersonOut:
    """卸任: end a current post; it stays in the person's ``past_posts`` (and the building's 楼长 history)."""
    person = edit.end_post(session, user, person_id, post_id, now=now)
    return service.view(session, cipher, person)


@router.delete("/{person_id}", response_model=RemovedOut)
def remove_person(person_id: PersonId, session: SessionDep, user: Editor, now: NowDep) -> RemovedOut:
    """Remove a record with no current post (409 while it holds one), with its name and sealed numbers.

    The audit keeps who removed which record number when.
    """
    edit.remove_person(session, user, person_id, now=now)
    return RemovedOut(person_id=person_id, removed_at=now)


@router.get("/buildings/{building_id}/history", response_model=list[BuildingHeadHistory])
def building_history(session: SessionDep, user: Viewer, building_id: PostId) -> list[BuildingHeadHistory]:
    """A building's former 楼长, latest first: who (while their record exists), from when until when."""
    return edit.building_history(session, user, building_id)


@router.post("/{person_id}/reveal", response_model=RevealOut)
def reveal(
    person_id: PersonId,
    session: SessionDep,
    cipher: CipherDep,
    user: Revealer,
    body: RevealIn,
    now: NowDep,
) -> RevealOut:
    """The full phone or ID number of a person, with a reason; logged (who, when, why) in ``pii_reveals``."""
    return service.reveal(session, cipher, user, person_id, field=body.field, reason=body.reason, now=now)


@router.post("/register", response_model=RegisteredOut, status_code=201)
def register(
    session: SessionDep, cipher: CipherDep, settings: SettingsDep, user: Editor, body: RegisterIn, now: NowDep
) -> RegisteredOut:
    """双报到: record a 党员 (or volunteer) with home address (geocoded to a building and grid) and free times."""
    person, level, metres = placement.register(
        session, cipher, user, body, now=now, snap_outside_m=settings.requests.snap_outside_m
    )
    return RegisteredOut(
        person=service.view(session, cipher, person),
        match_level=level,
        home_grid_code=person.home_grid_code,
        distance_m=metres,
    )


@router.get("/placement", response_model=PlacementOut)
def placement_board(
    session: SessionDep, user: Editor, unit: Annotated[str | None, Query(pattern=UNIT_PATTERN)] = None
) -> PlacementOut:
    """Registered 党员 and volunteers of the caller's 社区 with the suggested grid of each (the rule in ``rule``)."""
    return placement.board(session, user, unit)


@router.post("/placement", response_model=PlacedOut)
def place(session: SessionDep, user: Editor, body: PlaceIn, now: NowDep) -> PlacedOut:
    """Place registered people into grids of the caller's unit (all or nothing)."""
    pairs = [(p.person_id, p.grid_code) for p in body.placements]
    return PlacedOut(placed=placement.place(session, user, pairs, now=now))


@router.get("/grids", response_model=list[NamedUnit])
def grids_in_scope(session: SessionDep, user: Viewer) -> list[NamedUnit]:
    """The published grids in the caller's scope, by name (what the people page lists)."""
    return [NamedUnit(code=c, name=n) for c, n in service.grids_in_scope(session, user)]


@router.get("/grids/{code}/places", response_model=GridPlaces)
def grid_places(session: SessionDep, user: Viewer, code: Annotated[str, Path(pattern=GRID_PATTERN)]) -> GridPlaces:
    """The buildings and named streets of a grid (what a 楼长 or 街巷长 post is for)."""
    return service.grid_places(session, user, code)
