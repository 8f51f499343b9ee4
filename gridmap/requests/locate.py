"""Where a request is: a point (WGS84, GCJ-02 or BD-09) or address text → WGS84 point, building and grid."""

from __future__ import annotations

from dataclasses import dataclass
from threading import Lock

import geopandas as gpd
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from gridmap.db.models import Building, Compound, Landmark
from gridmap.errors import InvalidInput
from gridmap.spatial.crs import to_wgs84_lonlat
from gridmap.spatial.geocode.gazetteer import Gazetteer, Match
from gridmap.spatial.landmarks import spoken_places

_COVERING = text(
    "SELECT g.code, p.version FROM grids g JOIN grid_plans p ON p.id = g.plan_id "
    "WHERE p.status = 'published' AND ST_Covers(g.geom, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)) "
    "ORDER BY g.code LIMIT 1"  # a point on a shared edge goes to the smallest code
)
_NEAREST = text(
    "SELECT g.code, ST_Distance(g.geom::geography, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography) "
    "FROM grids g JOIN grid_plans p ON p.id = g.plan_id WHERE p.status = 'published' "
    "ORDER BY g.geom <-> ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) LIMIT 1"
)
Fingerprint = tuple[int, int | None, int, int | None]
_cache: dict[str, tuple[Fingerprint, Gazetteer]] = {}
_cache_lock = Lock()


@dataclass(frozen=True)
class Located:
    """A request's WGS84 point, its grid at report time and how it was found."""

    lon: float
    lat: float
    grid_code: str
    plan_version: int
    building_id: int | None
    match_level: str
    matched_text: str = ""  # the span of the address text that named the place, for the 网格员 to check
    uncertainty_m: float | None = None


def grid_at(session: Session, lon: float, lat: float) -> tuple[str, int] | None:
    """The published grid covering a WGS84 point (smallest code on shared edges), with the plan version."""
    row = session.execute(_COVERING, {"lon": lon, "lat": lat}).first()
    return (str(row[0]), int(row[1])) if row else None


def nearest_grid(session: Session, lon: float, lat: float) -> tuple[str, float] | None:
    """The nearest published grid and its distance in metres."""
    row = session.execute(_NEAREST, {"lon": lon, "lat": lat}).first()
    return (str(row[0]), float(row[1])) if row else None


def grid_at_version(session: Session, code: str) -> int:
    """The version of the published plan holding grid ``code``."""
    query = text(
        "SELECT p.version FROM grids g JOIN grid_plans p ON p.id = g.plan_id "
        "WHERE p.status = 'published' AND g.code = :code LIMIT 1"
    )
    return int(session.execute(query, {"code": code}).scalar_one())


def buildings_version(session: Session) -> tuple[str, Fingerprint]:
    """The database (its URL) and a fingerprint of its buildings and landmarks: indexes of them are cached under it."""
    count, last = session.execute(select(func.count(Building.id), func.max(Building.id))).one()
    points, newest = session.execute(select(func.count(Landmark.id), func.max(Landmark.id))).one()
    return str(session.get_bind().engine.url), (int(count), last, int(points), newest)


def gazetteer_frames(session: Session) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Named buildings (with the name of their 小区) and named 小区: what the gazetteer and suggestions index."""
    query = (
        select(
            Building.id.label("building_id"),
            Building.name,
            Building.addr_street,
            Building.addr_housenumber,
            Compound.name.label("compound_name"),
            Building.geom,
        )
        .outerjoin(Compound, Compound.id == Building.compound_id)
        .where((Building.name.is_not(None)) | (Building.addr_street.is_not(None)))
    )
    frame = gpd.read_postgis(query, session.connection(), geom_col="geom", crs=4326)
    compounds = gpd.read_postgis(
        select(Compound.name, Compound.geom).where(Compound.name.is_not(None)),
        session.connection(),
        geom_col="geom",
        crs=4326,
    )
    return frame, compounds


def landmark_frame(session: Session) -> gpd.GeoDataFrame:
    """The imported landmarks (``name``, ``kind``, point), in id order."""
    query = select(Landmark.name, Landmark.kind, Landmark.geom).order_by(Landmark.id)
    return gpd.read_postgis(query, session.connection(), geom_col="geom", crs=4326)


def gazetteer(session: Session) -> Gazetteer:
    """The gazetteer of the imported buildings, 小区 and landmarks, rebuilt when buildings or landmarks change."""
    key, version = buildings_version(session)
    with _cache_lock:
        cached = _cache.get(key)
        if cached and cached[0] == version:
            return cached[1]
        built = Gazetteer(*gazetteer_frames(session), landmarks=spoken_places(landmark_frame(session)))
        _cache[key] = (version, built)
        return built


def locate(
    session: Session,
    *,
    lon: float | None,
    lat: float | None,
    coord_sys: str,
    address: str | None,
    snap_outside_m: float = 0.0,
) -> Located:
    """Point first (converted to WGS84), else the address; raises :class:`InvalidInput` when neither places it.

    A point outside every grid but within ``snap_outside_m`` of one goes to that grid (match level
    ``…;nearest_grid``); farther out it is refused as ``outside_coverage`` with the nearest grid and distance.
    """
    building: int | None = None
    span, uncertainty = "", None
    if lon is not None and lat is not None:
        lon, lat = to_wgs84_lonlat(lon, lat, coord_sys)
        level = "point"
    elif address and address.strip():
        match = gazetteer(session).lookup(address)
        if match.entry is None:
            raise InvalidInput(_not_placed(match, address))
        lon, lat, level = match.entry.lon, match.entry.lat, match.level
        building = int(match.entry.building_id) if match.entry.building_id else None  # a 小区 names no one building
        span, uncertainty = match.matched_text, match.uncertainty_m
    else:
        raise InvalidInput("请提供位置 / no location: give lon and lat (with coord_sys) or an address")
    hit = grid_at(session, lon, lat)
    if hit is None:
        near = nearest_grid(session, lon, lat)
        if near is not None and near[1] <= snap_outside_m:
            version = grid_at_version(session, near[0])
            return Located(lon, lat, near[0], version, building, f"{level};nearest_grid", span, uncertainty)
        where = f"; nearest grid {near[0]} is {near[1]:.0f} m away" if near else "; no plan is published"
        raise InvalidInput(f"outside_coverage: ({lon:.6f}, {lat:.6f}) is in no grid of the published plan{where}")
    return Located(lon, lat, hit[0], hit[1], building, level, span, uncertainty)


def _not_placed(match: Match, address: str) -> str:
    """Why an address placed no request, in words: outside the area, which places it could be, or not found."""
    if match.level == "outside_area":
        return f"outside_area: {match.note}"
    if match.level == "ambiguous":
        names = "、".join(dict.fromkeys(e.name for e in match.candidates if e.name)) or match.matched_text
        return f"地址不唯一 / ambiguous address {address!r}: 可能是 {names}; {match.note}"
    why = f" ({match.note})" if match.note else ""
    return (
        f"地址无法定位 / address not found ({match.level}){why}: {address!r}; "
        "give a point (lon, lat) or a fuller address such as 小区 + 楼号"
    )
