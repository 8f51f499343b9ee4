"""Read the files gridmap imports into four normalised layers, all in EPSG:4326.

OSM XML and PBF go through GDAL's OSM driver (with our ``osmconf.ini``);
GeoPackage, GeoJSON and zipped Shapefiles through pyogrio. No hand-written parsers.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
from pyogrio.errors import DataLayerError, DataSourceError, FeatureError
from pyproj import CRS

from gridmap.errors import InvalidInput
from gridmap.settings import ImportSettings
from gridmap.spatial.crs import CoordSys, to_wgs84
from gridmap.spatial.encoding import GEOJSON, require_utf8_geojson, shapefile_encoding
from gridmap.spatial.limits import check_vertices, check_zip

OSM_CONFIG = Path(__file__).with_name("osmconf.ini")
LAYERS = ("buildings", "streets", "compounds", "communities")
WATER_BARRIERS = ("river", "canal")


@dataclass
class RawLayers:
    """Normalised layers read from one or more files, before validation."""

    buildings: gpd.GeoDataFrame
    streets: gpd.GeoDataFrame
    compounds: gpd.GeoDataFrame
    communities: gpd.GeoDataFrame
    sources: list[str] = field(default_factory=list)


_COLUMNS: dict[str, list[str]] = {
    "buildings": [
        "attributes",
        "source_id",
        "name",
        "building",
        "building_levels",
        "building_flats",
        "addr_street",
        "addr_housenumber",
        "households_input",
    ],
    "streets": ["source_id", "name", "street_class"],
    "compounds": ["source_id", "name"],
    "communities": ["code", "name"],
}


def building_id(source_id: str) -> str:
    """The id a user knows a building by: the OSM way id (``r…`` for relations) or the file's own id."""
    prefix, _, ident = source_id.partition(":")
    if prefix == "osm":
        return ident[1:] if ident.startswith("w") else ident
    return ident


def empty_layer(name: str) -> gpd.GeoDataFrame:
    """An empty layer with the normalised columns of ``name``."""
    return gpd.GeoDataFrame({c: pd.Series(dtype="object") for c in _COLUMNS[name]}, geometry=[], crs=4326)


def _read(path: str | bytes, layer: str | None = None, encoding: str | None = None) -> gpd.GeoDataFrame:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return pyogrio.read_dataframe(path, layer=layer, on_invalid="fix", encoding=encoding)
    except (DataSourceError, DataLayerError, FeatureError) as exc:
        name = "the converted text" if isinstance(path, bytes) else path
        raise InvalidInput(f"cannot read {name}{f' layer {layer}' if layer else ''}: {exc}") from exc


def _osm_source_ids(frame: gpd.GeoDataFrame) -> pd.Series:
    # The OSM driver puts closed ways in osm_way_id and multipolygon relations in osm_id.
    way = frame.get("osm_way_id")
    rel = frame.get("osm_id")
    ids = pd.Series([None] * len(frame), index=frame.index, dtype="object")
    if way is not None:
        ids = ids.where(way.isna(), "osm:w" + way.astype("string"))
    if rel is not None:
        ids = ids.where(~(ids.isna() & rel.notna()), "osm:r" + rel.astype("string"))
    return ids


def read_osm(path: Path) -> RawLayers:
    """Read an OSM XML or PBF file."""
    pyogrio.set_gdal_config_options({"OSM_CONFIG_FILE": str(OSM_CONFIG)})
    polys = _read(str(path), "multipolygons")
    lines = _read(str(path), "lines")
    polys["source_id"] = _osm_source_ids(polys)
    buildings = polys[polys["building"].notna() & (polys["building"] != "no")].copy()
    buildings["households_input"] = None
    buildings["attributes"] = [
        {"building_id": int(w) if pd.notna(w) else f"r{r}", "name": n, "building": b}
        for w, r, n, b in zip(
            buildings["osm_way_id"], buildings["osm_id"], buildings["name"], buildings["building"], strict=True
        )
    ]
    compounds = polys[polys["landuse"] == "residential"].copy()
    communities = empty_layer("communities")
    lines["source_id"] = "osm:w" + lines["osm_id"].astype("string")
    street_class = lines["highway"].fillna(lines["railway"])
    water = lines["waterway"].where(lines["waterway"].isin(WATER_BARRIERS))
    lines["street_class"] = street_class.fillna(water)
    streets = lines[lines["street_class"].notna()].copy()
    return RawLayers(
        buildings=_select(buildings, "buildings"),
        streets=_select(streets, "streets"),
        compounds=_select(compounds, "compounds"),
        communities=communities,
        sources=[str(path)],
    )


def _select(frame: gpd.GeoDataFrame, name: str) -> gpd.GeoDataFrame:
    out = frame.copy()
    for col in _COLUMNS[name]:
        if col not in out.columns:
            out[col] = None
    out = out[[*_COLUMNS[name], out.geometry.name]]
    if out.geometry.name != "geometry":
        out = out.rename_geometry("geometry")
    return gpd.GeoDataFrame(out, geometry="geometry", crs=frame.crs)


def _normalise_columns(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    frame = frame.rename(columns={c: c.replace(":", "_") for c in frame.columns if ":" in c})
    return frame


def _feature_ids(frame: gpd.GeoDataFrame, dataset: str, candidates: tuple[str, ...]) -> pd.Series:
    values = pd.Series(range(len(frame)), index=frame.index).astype("string")
    for col in candidates:
        if col in frame.columns and frame[col].notna().all():
            values = frame[col].astype("string")
            break
    ids: pd.Series = dataset + ":" + values
    return ids


def _layer_from_file(
    frame: gpd.GeoDataFrame, name: str, dataset: str, households_field: str | None
) -> gpd.GeoDataFrame:
    if name == "buildings":
        # The input's own columns travel with each building, so outputs can give them back unchanged.
        frame["attributes"] = frame.drop(columns=frame.geometry.name).to_dict("records")
    frame = _normalise_columns(frame)
    if name == "buildings":
        if households_field:
            if households_field not in frame.columns:
                raise InvalidInput(
                    f"--households-field {households_field!r} is not a column of the buildings layer; "
                    f"columns are: {', '.join(c for c in frame.columns if c != 'geometry')}"
                )
            frame["households_input"] = pd.to_numeric(frame[households_field], errors="coerce")
        frame["source_id"] = _feature_ids(frame, dataset, ("building_id", "osm_id", "id", "fid"))
        if "building" not in frame.columns:
            frame["building"] = "yes"
    elif name == "streets":
        frame["source_id"] = _feature_ids(frame, dataset, ("osm_id", "id", "fid"))
        klass = frame["highway"] if "highway" in frame.columns else pd.Series(None, index=frame.index)
        for alt in ("railway", "waterway", "class", "street_class"):
            if alt in frame.columns:
                klass = klass.fillna(frame[alt])
        frame["street_class"] = klass.fillna("unclassified")
    elif name == "compounds":
        frame["source_id"] = _feature_ids(frame, dataset, ("compound_id", "osm_id", "id", "fid"))
    elif name == "communities":
        if "code" not in frame.columns:
            raise InvalidInput("the communities layer needs a `code` column with 12-digit NBS 社区 codes")
        frame["code"] = frame["code"].astype("string").str.strip()
    return _select(frame, name)


def read_layered(
    path: Path, households_field: str | None, dataset: str, encoding: str | None = None
) -> dict[str, gpd.GeoDataFrame]:
    """Read a GeoPackage, GeoJSON or (zipped) Shapefile into named layers (with their own CRS).

    ``encoding`` is the text encoding of a Shapefile without ``.cpg`` or of a GeoJSON that is not UTF-8.
    """
    source: str | bytes = f"/vsizip/{path}" if path.suffix.lower() == ".zip" else str(path)
    text_encoding = None
    if path.suffix.lower() in GEOJSON:
        source = require_utf8_geojson(path, encoding) or source
    else:
        text_encoding = shapefile_encoding(path, encoding)
    try:
        listed = pyogrio.list_layers(source)
    except (DataSourceError, DataLayerError) as exc:
        raise InvalidInput(f"cannot read {path}: {exc}; expected GeoPackage, GeoJSON, zipped Shapefile or OSM") from exc
    names = [str(row[0]) for row in listed]
    found: dict[str, gpd.GeoDataFrame] = {}
    for layer in names:
        key = layer.lower()
        if key not in LAYERS:
            # A single-layer file (e.g. streets.geojson) is named by its file name.
            key = path.stem.lower().split(".")[0] if len(names) == 1 else key
            key = key if key in LAYERS else "buildings" if len(names) == 1 else ""
        if not key:
            continue
        found[key] = _layer_from_file(_read(source, layer, text_encoding), key, dataset, households_field)
    if not found:
        raise InvalidInput(f"{path} has none of the layers {', '.join(LAYERS)} (it has: {', '.join(names)})")
    return found


def read_sources(
    paths: list[Path],
    *,
    households_field: str | None = None,
    crs: CRS | CoordSys | None = None,
    encoding: str | None = None,
    limits: ImportSettings | None = None,
) -> RawLayers:
    """Read every file in ``paths`` and stack their layers, converted to EPSG:4326 (``encoding``: see read_layered).

    Each file is checked against ``limits`` (zip size and ratio before reading, vertices after) before the next.
    """
    limits = limits or ImportSettings()
    stacks: dict[str, list[gpd.GeoDataFrame]] = {name: [] for name in LAYERS}
    for path in paths:
        if not path.exists():
            raise InvalidInput(f"{path}: no such file")
        if path.stat().st_size == 0:
            raise InvalidInput(f"{path} is empty")
        suffix = "".join(path.suffixes[-2:]).lower()
        if path.suffix.lower() == ".zip":
            check_zip(path, limits)
        if path.suffix.lower() == ".osm" or suffix.endswith(".osm.pbf") or path.suffix.lower() == ".pbf":
            raw = read_osm(path)
            layers = {n: getattr(raw, n) for n in LAYERS}
        else:
            layers = read_layered(path, households_field, dataset=path.stem.split(".")[0], encoding=encoding)
        check_vertices(path, layers, limits)
        for name, frame in layers.items():
            if not frame.empty:
                stacks[name].append(to_wgs84(frame, crs))
    merged = {
        name: gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), geometry="geometry", crs=4326)
        if frames
        else empty_layer(name)
        for name, frames in stacks.items()
    }
    if all(frame.empty for frame in merged.values()):
        raise InvalidInput(f"no buildings, streets, compounds or communities found in {', '.join(map(str, paths))}")
    return RawLayers(**merged, sources=[os.fspath(p) for p in paths])
