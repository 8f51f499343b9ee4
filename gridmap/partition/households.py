"""Which buildings are residential and how many households each holds.

The model, in order of preference:

1. ``surveyed`` — a count given by the user (``--households-field``);
2. ``osm`` — the OSM tag ``building:flats``;
3. ``estimated`` — houses (``house``, ``detached`` …) hold ``house_households``;
   every other residential building holds ``footprint_m2 × levels ÷ dwelling_m2``
   (rounded, at least ``min_households``), with ``levels`` from ``building:levels``
   or ``default_levels`` when missing.

A building is residential when its type says so (``residential``, ``apartments``,
``house`` …), when it has a surveyed count > 0, or when it is a generic
``building=yes`` standing inside a residential compound (小区, ``landuse=residential``).
"""

from __future__ import annotations

import re

import geopandas as gpd
import numpy as np
import pandas as pd

from gridmap.settings import HouseholdSettings
from gridmap.spatial.crs import metric_crs

RESIDENTIAL_TYPES = frozenset(
    {"residential", "apartments", "house", "detached", "semidetached_house", "terrace", "dormitory", "bungalow"}
)
HOUSE_TYPES = frozenset({"house", "detached", "semidetached_house", "bungalow"})
GENERIC_TYPES = frozenset({"yes", "building", ""})
_NUMBER = re.compile(r"\d+(?:\.\d+)?")


def parse_count(value: object, upper: int = 300) -> int | None:
    """First number in an OSM-style count (``"6"``, ``"6;7"``, ``"5.5"``), or None when absent or absurd."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    match = _NUMBER.search(str(value))
    if match is None:
        return None
    number = round(float(match.group()))
    return number if 0 < number <= upper else None


def in_compound(buildings: gpd.GeoDataFrame, compounds: gpd.GeoDataFrame) -> pd.Series:
    """Index (row position) of the compound holding each building's representative point, or -1."""
    result = pd.Series(-1, index=buildings.index, dtype="int64")
    if buildings.empty or compounds.empty:
        return result
    points = gpd.GeoDataFrame(geometry=buildings.geometry.representative_point(), crs=buildings.crs)
    hits = gpd.sjoin(points, compounds[["geometry"]].reset_index(drop=True), predicate="within", how="inner")
    hits = hits[~hits.index.duplicated(keep="first")]
    result.loc[hits.index] = hits["index_right"].astype("int64")
    return result


def estimate_households(
    buildings: gpd.GeoDataFrame, compounds: gpd.GeoDataFrame, model: HouseholdSettings
) -> gpd.GeoDataFrame:
    """Add ``compound_idx, levels, footprint_m2, is_residential, households, households_source`` columns."""
    out = buildings.copy()
    if out.empty:
        for col in ("compound_idx", "levels", "footprint_m2", "is_residential", "households", "households_source"):
            out[col] = pd.Series(dtype="object")
        return out
    out["compound_idx"] = in_compound(out, compounds)
    out["footprint_m2"] = out.geometry.to_crs(metric_crs(out)).area.round(1)
    out["levels"] = [parse_count(v, upper=200) for v in out["building_levels"]]
    btype = out["building"].fillna("yes").astype(str).str.lower()
    surveyed = pd.to_numeric(out["households_input"], errors="coerce")
    flats = pd.Series([parse_count(v, upper=5000) for v in out["building_flats"]], index=out.index, dtype="Float64")
    out["is_residential"] = (
        btype.isin(RESIDENTIAL_TYPES)
        | (surveyed.fillna(0) > 0)
        | (btype.isin(GENERIC_TYPES) & (out["compound_idx"] >= 0))
    )
    levels = out["levels"].astype("Float64").fillna(model.default_levels)
    levels = levels.where(~btype.isin(HOUSE_TYPES) | out["levels"].notna(), model.house_levels)
    estimate = np.maximum(np.round(out["footprint_m2"] * levels / model.dwelling_m2), model.min_households)
    estimate = estimate.where(~btype.isin(HOUSE_TYPES), model.house_households)
    households = estimate.astype("Float64")
    source = pd.Series("estimated", index=out.index, dtype="object")
    has_flats = flats.notna()
    households[has_flats], source[has_flats] = flats[has_flats], "osm"
    has_survey = surveyed.notna()
    households[has_survey], source[has_survey] = surveyed[has_survey].round(), "surveyed"
    households = households.where(out["is_residential"], 0)
    out["households"] = households.fillna(0).astype("int64").clip(lower=0)
    out["households_source"] = source
    return out
