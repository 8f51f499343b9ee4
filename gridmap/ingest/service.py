"""``gridmap import``: read, clean, model households, upsert — all in one transaction."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
from pyproj import CRS
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from gridmap.db.convert import to_db
from gridmap.db.models import AdminLevel, AdminUnit, Building, Compound, Landmark, Street
from gridmap.partition.codes import unit_at
from gridmap.partition.households import estimate_households
from gridmap.partition.pipeline import is_barrier
from gridmap.settings import Settings
from gridmap.spatial.crs import CoordSys
from gridmap.spatial.io import read_sources
from gridmap.spatial.landmarks import read_landmarks
from gridmap.spatial.validate import CleanReport, clean_layers

Progress = Callable[[str, int, int], None]
BATCH = 1000


@dataclass
class ImportResult:
    """What an import stored and what cleaning changed."""

    buildings: int = 0
    residential: int = 0
    households: int = 0
    households_by_source: dict[str, int] = field(default_factory=dict)
    streets: int = 0
    compounds: int = 0
    communities: int = 0
    landmarks: int = 0
    fixes: list[str] = field(default_factory=list)


def _none(value: Any) -> Any:
    return None if value is None or (not isinstance(value, str) and pd.isna(value)) else value


def _batches(rows: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(rows), BATCH):
        yield rows[start : start + BATCH]


def upsert(
    session: Session,
    model: Any,
    rows: list[dict[str, Any]],
    key: str,
    progress: Progress | None = None,
    label: str = "",
) -> None:
    """Insert ``rows`` of ``model``, updating the rows whose ``key`` exists, in batches."""
    done = 0
    for chunk in _batches(rows):
        stmt = insert(model).values(chunk)
        update = {c: stmt.excluded[c] for c in chunk[0] if c != key}
        session.execute(stmt.on_conflict_do_update(index_elements=[key], set_=update))
        done += len(chunk)
        if progress:
            progress(label, done, len(rows))


def import_files(
    *,
    session: Session,
    settings: Settings,
    paths: list[Path],
    households_field: str | None = None,
    crs: CRS | CoordSys | None = None,
    strict: bool = False,
    progress: Progress | None = None,
    encoding: str | None = None,
) -> ImportResult:
    """Import ``paths``; the caller's transaction makes it all-or-nothing (``encoding``: see ``read_layered``)."""
    report = CleanReport()
    raw = read_sources(
        paths, households_field=households_field, crs=crs, encoding=encoding, limits=settings.imports
    )
    layers = clean_layers(raw, report, strict=strict)
    streets, compounds, communities = layers.streets, layers.compounds, layers.communities
    buildings = estimate_households(layers.buildings, compounds, settings.households)
    result = ImportResult(fixes=report.lines())

    result.communities = _store_communities(session, communities)
    community_of = _community_codes(buildings, communities)

    compound_rows = [
        {"source_id": r.source_id, "name": _none(r.name), "geom": to_db(r.geometry)} for r in compounds.itertuples()
    ]
    upsert(session, Compound, compound_rows, "source_id", progress, "小区 compounds")
    ids = {s: i for s, i in session.execute(select(Compound.source_id, Compound.id))}
    compound_ids = [ids[s] for s in compounds["source_id"]]

    building_rows = [
        {
            "source_id": r.source_id,
            "name": _none(r.name),
            "addr_street": _none(r.addr_street),
            "addr_housenumber": _none(r.addr_housenumber),
            "building_type": _none(r.building),
            "levels": _none(r.levels),
            "footprint_m2": float(r.footprint_m2),
            "is_residential": bool(r.is_residential),
            "households": int(r.households),
            "households_source": r.households_source,
            "compound_id": compound_ids[r.compound_idx] if r.compound_idx >= 0 else None,
            "community_code": community_of[i],
            "geom": to_db(r.geometry),
        }
        for i, r in enumerate(buildings.itertuples())
    ]
    upsert(session, Building, building_rows, "source_id", progress, "楼栋 buildings")

    barrier = is_barrier(streets["street_class"], settings.partition).tolist() if len(streets) else []
    street_rows = [
        {
            "source_id": r.source_id,
            "name": _none(r.name),
            "street_class": str(r.street_class),
            "is_barrier": bool(barrier[i]),
            "geom": to_db(r.geometry),
        }
        for i, r in enumerate(streets.itertuples())
    ]
    upsert(session, Street, street_rows, "source_id", progress, "道路 streets")
    result.landmarks = _store_landmarks(session, paths, progress)
    session.flush()

    result.buildings, result.streets, result.compounds = len(buildings), len(streets), len(compounds)
    residential = buildings[buildings["is_residential"]]
    result.residential, result.households = len(residential), int(residential["households"].sum())
    result.households_by_source = {
        str(k): int(v) for k, v in residential.groupby("households_source")["households"].sum().items()
    }
    return result


def _store_landmarks(session: Session, paths: list[Path], progress: Progress | None) -> int:
    """Named OSM points as landmarks, by node id: importing the same extract again updates, never duplicates."""
    landmarks = read_landmarks(paths)
    rows = [
        {
            "source_id": r.source_id,
            "osm_id": int(r.osm_id),
            "name": str(r.name),
            "kind": str(r.kind),
            "source": str(r.source),
            "geom": to_db(r.geometry),
        }
        for r in landmarks.itertuples()
    ]
    upsert(session, Landmark, rows, "source_id", progress, "地标 landmarks")
    return len(rows)


def _store_communities(session: Session, communities: gpd.GeoDataFrame) -> int:
    rows = []
    known = set(session.scalars(select(AdminUnit.code)).all())
    for r in communities.itertuples():
        street = unit_at(r.code, "street")
        parent = street if street in known else None
        rows.append(
            {
                "code": r.code,
                "name": _none(r.name) or r.code,
                "level": AdminLevel.community,
                "parent_code": parent,
                "geom": to_db(r.geometry),
            }
        )
    if rows:
        upsert(session, AdminUnit, rows, "code")
    return len(rows)


def _community_codes(buildings: gpd.GeoDataFrame, communities: gpd.GeoDataFrame) -> list[str | None]:
    if communities.empty or buildings.empty:
        return [None] * len(buildings)
    points = gpd.GeoDataFrame(geometry=buildings.geometry.representative_point().values, crs=buildings.crs)
    hits = gpd.sjoin(points, communities[["code", "geometry"]], predicate="within", how="left")
    hits = hits[~hits.index.duplicated(keep="first")]
    return [_none(c) for c in hits["code"].tolist()]
