"""File mode: partition a file without any database and write a GeoPackage."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
from pyproj import CRS

from gridmap.errors import InvalidInput, PartitionInfeasible
from gridmap.partition.households import estimate_households
from gridmap.partition.pipeline import PlanInput, PlanResult, partition
from gridmap.settings import HouseholdSettings, PartitionSettings
from gridmap.spatial.crs import CoordSys
from gridmap.spatial.io import building_id, read_sources
from gridmap.spatial.validate import CleanReport, clean_layers

ATTRIBUTION = "© OpenStreetMap contributors"


def plan_input_from_files(
    paths: list[Path],
    *,
    households_field: str | None,
    crs: CRS | CoordSys | None,
    model: HouseholdSettings,
) -> tuple[PlanInput, list[str]]:
    """Read, clean and model households; keep residential buildings with their input attributes."""
    report = CleanReport()
    layers = clean_layers(read_sources(paths, households_field=households_field, crs=crs), report)
    streets, communities = layers.streets, layers.communities
    modelled = estimate_households(layers.buildings, layers.compounds, model)
    residential = modelled[modelled["is_residential"]].copy()
    if residential.empty:
        raise PartitionInfeasible("no residential buildings in the input (see the household model in the README)")
    residential["building_id"] = [building_id(s) for s in residential["source_id"]]
    residential["compound"] = residential["compound_idx"].astype(str)
    names = layers.compounds["name"].reset_index(drop=True) if "name" in layers.compounds else None
    if names is not None:
        residential["compound_name"] = residential["compound_idx"].map(lambda i: names.iloc[i] if i >= 0 else None)
    residential = residential.set_index("building_id", drop=False)
    residential.index.name = None
    return PlanInput(
        buildings=residential, streets=streets, communities=None if communities.empty else communities
    ), report.lines()


def write_result(result: PlanResult, out: Path) -> None:
    """Write layers ``buildings`` (the input's columns + ``grid_code``, ``households``) and ``grids``."""
    if out.suffix.lower() != ".gpkg":
        raise InvalidInput(f"output {out} must be a .gpkg file")
    source = result.buildings
    attrs = pd.DataFrame(list(source["attributes"]), index=source.index) if "attributes" in source else None
    if attrs is None or attrs.empty:
        attrs = pd.DataFrame({"building_id": source["building_id"]}, index=source.index)
    if "building_id" not in attrs.columns:
        attrs.insert(0, "building_id", source["building_id"])
    attrs = attrs.drop(columns=[c for c in ("grid_code", "households", "geometry") if c in attrs.columns])
    buildings = gpd.GeoDataFrame(
        attrs.assign(
            households=source["households"].to_numpy(),
            households_source=source["households_source"],
            grid_code=source["grid_code"],
        ),
        geometry=source.geometry.to_numpy(),
        crs=4326,
    ).reset_index(drop=True)
    grids = result.grids.copy()
    grids["attribution"] = ATTRIBUTION
    tmp = out.with_name(out.stem + ".partial.gpkg")
    tmp.unlink(missing_ok=True)
    # Write to a temporary file and rename, so a failure never leaves half an output.
    pyogrio.write_dataframe(_plain(buildings), tmp, layer="buildings", driver="GPKG")
    pyogrio.write_dataframe(_plain(grids), tmp, layer="grids", driver="GPKG", append=True)
    tmp.replace(out)


def _plain(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    out = frame.copy()
    for col in out.columns:
        if col != out.geometry.name and out[col].dtype == "object":
            out[col] = out[col].astype("string")
        elif isinstance(out[col].dtype, pd.BooleanDtype) or out[col].dtype == bool:
            out[col] = out[col].astype("int8")
    return out


def partition_file(
    paths: list[Path],
    out: Path,
    *,
    params: PartitionSettings,
    model: HouseholdSettings,
    households_field: str | None = None,
    crs: CRS | CoordSys | None = None,
    code_prefix: str | None = None,
) -> tuple[PlanResult, list[str]]:
    """Partition ``paths`` and write ``out``; returns the result and the cleaning report."""
    data, fixes = plan_input_from_files(paths, households_field=households_field, crs=crs, model=model)
    result = partition(data, params, code_prefix=code_prefix)
    write_result(result, out)
    return result, fixes
