"""Named points of OSM files (shops, amenities, gates, stops) as landmarks people name a place by.

One set of rules for both geocoders: file mode (``gridmap geocode`` on the files) reads them here, ``gridmap
import`` stores what :func:`read_landmarks` returns in the ``landmarks`` table, and both gazetteers index the
names :func:`spoken_places` gives them. Place nodes (玄武区, 新街口 as a place) and boundaries are no landmark.
"""

from __future__ import annotations

import re
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio

from gridmap.spatial.io import OSM_CONFIG

COLUMNS = ["source_id", "osm_id", "name", "kind", "source"]
KINDS = ("bus_stop", "stop", "entrance", "shop", "amenity", "tourism", "office", "leisure", "other")
_TRANSPORT = re.compile(r'"(?:public_transport|railway|highway)"=>"(?:stop_position|platform|station|bus_stop|halt)"')
_NOT_A_LANDMARK = re.compile(r'"(?:place|boundary|admin_level)"=>')
_ENTRANCE = re.compile(r'"(?:entrance|barrier)"=>"|"railway"=>"subway_entrance"')
_KIND_TAG = {kind: re.compile(f'"{kind}"=>"') for kind in ("shop", "amenity", "tourism", "office", "leisure")}


def kind_of(tags: str, highway: str) -> str:
    """What a named point is, from its ``highway`` value and its other tags (GDAL's hstore text)."""
    if highway == "bus_stop" or _TRANSPORT.search(tags):
        return "bus_stop" if highway == "bus_stop" or "bus" in tags else "stop"
    if _ENTRANCE.search(tags):
        return "entrance"
    return next((kind for kind, tag in _KIND_TAG.items() if tag.search(tags)), "other")


def _empty() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({c: pd.Series(dtype="object") for c in COLUMNS}, geometry=[], crs=4326)


def read_landmarks(paths: list[Path]) -> gpd.GeoDataFrame:
    """The named points of the OSM XML/PBF files in ``paths``: ``source_id`` (osm:n…), ``osm_id``, ``name``, ``kind``.

    ``source`` is the file's name (provenance). A node in two files is kept once, from the first.
    """
    frames = []
    for path in paths:
        if path.suffix.lower() not in {".osm", ".pbf"}:
            continue
        pyogrio.set_gdal_config_options({"OSM_CONFIG_FILE": str(OSM_CONFIG)})
        points = pyogrio.read_dataframe(path, layer="points")
        tags = points["other_tags"].fillna("") if "other_tags" in points.columns else pd.Series("", index=points.index)
        names = points["name"].fillna("").astype(str).str.strip()
        keep = (names != "") & ~tags.str.contains(_NOT_A_LANDMARK)
        highway = points["highway"].fillna("") if "highway" in points.columns else pd.Series("", index=points.index)
        ids = points.loc[keep, "osm_id"].astype("int64")
        frames.append(
            gpd.GeoDataFrame(
                {
                    "source_id": "osm:n" + ids.astype(str),
                    "osm_id": ids,
                    "name": names[keep],
                    "kind": [kind_of(t, h) for t, h in zip(tags[keep], highway[keep], strict=True)],
                    "source": path.name,
                },
                geometry=points.geometry[keep],
                crs=4326,
            )
        )
    if not frames:
        return _empty()
    out = pd.concat(frames, ignore_index=True).drop_duplicates("source_id")
    return gpd.GeoDataFrame(out, geometry="geometry", crs=4326).reset_index(drop=True)


def spoken_names(name: str, kind: str) -> list[str]:
    """The names people use for a landmark: a stop with 站 (望京西站; 公交站 for a bus stop), not its bare name.

    A stop's bare name is usually the name of the area around it, so it names no one point.
    """
    name = name.strip()
    if kind not in {"bus_stop", "stop"}:
        return [name]
    names = [name if name.endswith("站") else name + "站"]
    if kind == "bus_stop":
        names.append(name.removesuffix("站") + "公交站")
    return names


def spoken_places(landmarks: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """One row per name a landmark is called by (``name``, point): what a gazetteer indexes."""
    rows = [
        (spoken, geom)
        for name, kind, geom in zip(landmarks["name"], landmarks["kind"], landmarks.geometry, strict=True)
        if isinstance(name, str) and name.strip()
        for spoken in spoken_names(name, str(kind))
    ]
    return gpd.GeoDataFrame({"name": [r[0] for r in rows]}, geometry=[r[1] for r in rows], crs=4326)
