"""What a client sends: a new request and an action on one."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from gridmap.requests.photos import MAX_PHOTOS
from gridmap.requests.states import Action
from gridmap.spatial.crs import CoordSys


class NewRequest(BaseModel):
    """A report: a category, a description and a location (a point or address text)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    category: str = Field(max_length=50, description="a code from GET /api/categories, e.g. blocked_lane")
    description: str | None = Field(None, max_length=2000)
    lon: float | None = Field(None, ge=-180, le=180)
    lat: float | None = Field(None, ge=-90, le=90)
    coord_sys: CoordSys = Field(CoordSys.wgs84, description="wgs84, gcj02 (Amap, Tencent), bd09 (Baidu), cgcs2000")
    address: str | None = Field(None, max_length=300, description="地址, e.g. 南京市玄武区洪武北路40号")
    photos: list[str] = Field(default_factory=list, max_length=MAX_PHOTOS, description="photo URLs")
    reporter_name: str | None = Field(None, max_length=100)
    reporter_phone: str | None = Field(None, max_length=30, pattern=r"^[0-9+\- ]{5,30}$")


class ActionIn(BaseModel):
    """An action on a request with what it needs (size for triage, department for dispatch, stars for rate…)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    action: Action
    reason: str | None = Field(None, max_length=1000)
    size: str | None = Field(None, pattern=r"^(small|big)$")
    department: str | None = Field(None, max_length=200)
    stars: int | None = Field(None, ge=1, le=5)
    duplicate_of: int | None = None
