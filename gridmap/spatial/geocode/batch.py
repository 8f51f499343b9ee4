"""File-mode geocoding: a query CSV in, an answer CSV out (no database)."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio

from gridmap.errors import InvalidInput
from gridmap.spatial.crs import CoordSys, to_wgs84_lonlat
from gridmap.spatial.geocode.gazetteer import Gazetteer, with_compound_names
from gridmap.spatial.geocode.grids import GridIndex
from gridmap.spatial.io import building_id, read_sources
from gridmap.spatial.landmarks import read_landmarks, spoken_places
from gridmap.spatial.validate import POLYGONAL, CleanReport, clean_layer

COLUMNS = [
    "query",
    "lon",
    "lat",
    "building_id",
    "name",
    "grid_code",
    "match_level",
    "score",
    "matched_text",
    "uncertainty_m",
    "candidates",
]


def gazetteer_layers(paths: list[Path]) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Buildings (with ``building_id`` and the name of their 小区) and 小区 of ``paths``, cleaned."""
    raw = read_sources(paths)
    report = CleanReport()
    buildings = clean_layer(raw.buildings, "buildings", POLYGONAL, report)
    buildings["building_id"] = [building_id(s) for s in buildings["source_id"]]
    compounds = clean_layer(raw.compounds, "compounds", POLYGONAL, report)
    return with_compound_names(buildings, compounds), compounds


def landmark_layer(paths: list[Path]) -> gpd.GeoDataFrame:
    """Named points of the OSM files in ``paths``, under every name people call them (see ``spoken_places``)."""
    return spoken_places(read_landmarks(paths))


def gazetteer_from_files(paths: list[Path]) -> Gazetteer:
    """The gazetteer of the buildings, 小区 and named points (landmarks) in ``paths``."""
    return Gazetteer(*gazetteer_layers(paths), landmarks=landmark_layer(paths))


def read_queries(path: Path) -> pd.DataFrame:
    """The query CSV: a ``query`` column, or ``lon,lat`` with an optional ``coord_sys``."""
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"cannot read {path}: {exc}") from exc
    if "query" not in frame.columns and not {"lon", "lat"} <= set(frame.columns):
        raise InvalidInput(
            f"{path} needs a `query` column, or `lon` and `lat` columns (has: {', '.join(frame.columns)})"
        )
    return frame


def geocode_frame(queries: pd.DataFrame, gazetteer: Gazetteer, grids: GridIndex | None) -> pd.DataFrame:
    """Answer every row of ``queries``."""
    rows: list[dict[str, object]] = []
    for record in queries.to_dict("records"):
        text = str(record.get("query", "") or "")
        if text.strip():
            match = gazetteer.lookup(text)
            entry = match.entry
            rows.append(
                {
                    "query": text,
                    "lon": entry.lon if entry else None,
                    "lat": entry.lat if entry else None,
                    "building_id": (entry.building_id or None) if entry else None,
                    "name": entry.name if entry else None,
                    "grid_code": None,
                    "match_level": match.level,
                    "score": round(match.score, 1),
                    "matched_text": match.matched_text or None,
                    "uncertainty_m": None if match.uncertainty_m is None else round(match.uncertainty_m),
                    "candidates": "；".join(dict.fromkeys(e.name for e in match.candidates)) or None,
                }
            )
        else:
            rows.append(_point_row(record))
    out = pd.DataFrame(rows, columns=COLUMNS).astype({"grid_code": object, "match_level": object})
    if grids is not None:
        found = out["lon"].notna()
        if found.any():
            hits = grids.locate(
                out.loc[found, "lon"].astype(float).to_numpy(), out.loc[found, "lat"].astype(float).to_numpy()
            )
            out.loc[found, "grid_code"] = [h.grid_code if h.status == "inside" else None for h in hits]
            outside = [h.status == "outside_coverage" for h in hits]
            idx = out.index[found][np.asarray(outside, dtype=bool)]
            out.loc[idx, "match_level"] = out.loc[idx, "match_level"].astype(str) + ";outside_coverage"
    return out


def _point_row(record: Mapping[Hashable, object]) -> dict[str, object]:
    try:
        lon, lat = float(str(record["lon"])), float(str(record["lat"]))
    except (KeyError, ValueError):
        return {"query": "", "match_level": "invalid_point", "score": 0.0}
    system = str(record.get("coord_sys") or "wgs84").lower()
    if system not in {c.value for c in CoordSys}:
        return {"query": f"{lon},{lat}", "match_level": "invalid_coord_sys", "score": 0.0}
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        return {"query": f"{lon},{lat}", "match_level": "invalid_point", "score": 0.0}
    wlon, wlat = to_wgs84_lonlat(lon, lat, system)
    return {
        "query": f"{lon},{lat}",
        "lon": round(wlon, 7),
        "lat": round(wlat, 7),
        "match_level": "point",
        "score": 100.0,
    }


def load_grids(path: Path) -> GridIndex:
    """Grid polygons from a GeoPackage written by ``gridmap partition`` (layer ``grids``)."""
    try:
        grids = pyogrio.read_dataframe(path, layer="grids")
    except Exception as exc:  # pyogrio raises several error types for unreadable files
        raise InvalidInput(f"cannot read grids from {path} (layer `grids` with `grid_code`): {exc}") from exc
    if "grid_code" not in grids.columns:
        raise InvalidInput(f"{path} layer `grids` has no `grid_code` column")
    return GridIndex(gpd.GeoDataFrame(grids, geometry="geometry"))
