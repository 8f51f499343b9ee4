"""What the phone sends (a patrol upload, a visit) and what the API answers (patrols as GeoJSON, visits)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from gridmap.fieldwork.kinds import VisitKind
from gridmap.partition.codes import GRID_PATTERN

KEY = r"^[A-Za-z0-9\-]{8,64}$"


class PatrolPointIn(BaseModel):
    """One position: when (the device's time), where (WGS84) and how precise (metres)."""

    model_config = ConfigDict(extra="forbid")

    t: AwareDatetime
    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)
    accuracy: float | None = Field(None, ge=0, le=100_000)


class PatrolUpload(BaseModel):
    """A patrol's start, new positions, its end once ended, and the reports (Idempotency-Keys) made during it.

    Uploads are idempotent: a position already stored (same time) is stored once, however often it is sent.
    """

    model_config = ConfigDict(extra="forbid")

    started_at: AwareDatetime
    ended_at: AwareDatetime | None = None
    grid_code: str | None = Field(None, pattern=GRID_PATTERN, description="the grid the worker chose, if any")
    points: list[PatrolPointIn] = Field(default_factory=list)
    report_keys: list[str] = Field(default_factory=list, max_length=500)


class PatrolProperties(BaseModel):
    """A patrol's numbers: duration, length, the shares of its grid passed, whether it was too short."""

    id: int
    key: str
    worker: str
    username: str
    grid_code: str | None
    grid_name: str | None
    started_at: datetime
    ended_at: datetime | None
    minutes: float | None
    length_m: float
    n_points: int
    street_share: float | None
    building_share: float | None
    short: bool
    track_purged: bool
    request_ids: list[int]


class PatrolFeature(BaseModel):
    """A GeoJSON Feature: the track (LineString; null when not shown or purged) and the patrol's numbers."""

    type: str = "Feature"
    id: int
    geometry: dict[str, Any] | None
    properties: PatrolProperties


class PatrolCollection(BaseModel):
    """GeoJSON FeatureCollection of patrols."""

    type: str = "FeatureCollection"
    features: list[PatrolFeature]
    tracks_logged: int = Field(0, description="other people's tracks shown in this answer (each reveal is logged)")


class TrackPoint(BaseModel):
    """A position of a track."""

    lon: float
    lat: float
    at: datetime
    accuracy_m: float | None


class PatrolTrack(PatrolFeature):
    """One patrol with every position and its time."""

    points: list[TrackPoint]


class PurgeResult(BaseModel):
    """What the retention purge deleted."""

    patrols: int
    points: int
    before: datetime


class VisitIn(BaseModel):
    """A visit (走访) at a building, or a household in it (单元/室)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    key: str | None = Field(
        None, pattern=KEY, description="made by the client (or the Idempotency-Key header): a resend stores it once"
    )
    building_id: int = Field(ge=1, le=2**31 - 1)
    unit: str | None = Field(None, max_length=20, description="单元, e.g. 2")
    room: str | None = Field(None, max_length=20, description="室, e.g. 301")
    visited_on: date | None = Field(None, description="the day of the visit; default: the local day of made_at")
    made_at: AwareDatetime | None = Field(
        None, description="when the visit was recorded on the phone (kept offline and uploaded later)"
    )
    kind: VisitKind = VisitKind.routine
    note: str | None = Field(None, max_length=4000)


class VisitOut(BaseModel):
    """A stored visit."""

    id: int
    building_id: int
    building: str
    grid_code: str | None
    unit: str | None
    room: str | None
    visited_on: date
    made_at: datetime | None = Field(description="when it was recorded on the phone (None: not sent)")
    kind: str
    kind_name: str
    note: str | None
    photos: list[str]
    request_id: int | None
    worker: str | None


class VisitToRequest(BaseModel):
    """Turn a visit into a request: the category; the description defaults to the visit's note."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    category: str = Field(max_length=50)
    description: str | None = Field(None, max_length=2000)
