"""Clean layers before they are stored: repair, drop empties and duplicates, and say what was done."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from gridmap.errors import InvalidGeometry
from gridmap.spatial.io import RawLayers

POLYGONAL = ("Polygon", "MultiPolygon")
LINEAR = ("LineString", "MultiLineString")


@dataclass
class CleanReport:
    """Counts of what cleaning changed, per layer and reason."""

    counts: Counter[tuple[str, str]] = field(default_factory=Counter)
    examples: dict[tuple[str, str], list[str]] = field(default_factory=dict)

    def add(self, layer: str, reason: str, ids: list[str]) -> None:
        """Record ``len(ids)`` features of ``layer`` changed for ``reason``."""
        if not ids:
            return
        self.counts[(layer, reason)] += len(ids)
        self.examples.setdefault((layer, reason), []).extend(ids[:3])

    def lines(self) -> list[str]:
        """Human-readable lines, one per (layer, reason)."""
        return [
            f"{layer}: {reason}: {n} (e.g. {', '.join(self.examples[(layer, reason)][:3])})"
            for (layer, reason), n in sorted(self.counts.items())
        ]


def _keep_kind(geom: BaseGeometry, kinds: tuple[str, ...]) -> BaseGeometry | None:
    """The parts of ``geom`` of the wanted kind, as one multi-geometry, or None."""
    parts = [g for g in shapely.get_parts(geom) if g.geom_type in kinds and not g.is_empty]
    if geom.geom_type == "GeometryCollection" or len(parts) != len(shapely.get_parts(geom)):
        parts = [p for g in parts for p in shapely.get_parts(g)]
    if not parts:
        return None
    if kinds == POLYGONAL:
        return shapely.MultiPolygon([p for g in parts for p in shapely.get_parts(g)])
    return shapely.MultiLineString([p for g in parts for p in shapely.get_parts(g)])


def clean_layer(
    frame: gpd.GeoDataFrame, layer: str, kinds: tuple[str, ...], report: CleanReport, *, strict: bool = False
) -> gpd.GeoDataFrame:
    """Repair invalid geometries, force multi-geometries of ``kinds``, drop empties and duplicates.

    With ``strict`` any invalid or unusable geometry raises :class:`InvalidGeometry` instead.
    """
    if frame.empty:
        return frame
    ident = frame["source_id"].astype("string") if "source_id" in frame.columns else frame["code"].astype("string")
    ident = ident.fillna("?")
    geoms = frame.geometry.values
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    report.add(layer, "dropped: empty geometry", ident[missing].tolist())
    invalid = ~missing & ~shapely.is_valid(geoms)
    if strict and invalid.any():
        reasons = shapely.is_valid_reason(geoms[invalid])
        raise InvalidGeometry(
            f"{layer}: {int(invalid.sum())} invalid geometries, e.g. {ident[invalid].iloc[0]}: {reasons[0]}; "
            "fix them in the source or import without --strict to repair them with make_valid"
        )
    repaired = geoms.copy()
    repaired[invalid] = shapely.make_valid(geoms[invalid])
    report.add(layer, "repaired: invalid geometry (make_valid)", ident[invalid].tolist())
    keep = np.zeros(len(frame), dtype=bool)
    out = np.empty(len(frame), dtype=object)
    wrong_kind: list[str] = []
    for i, geom in enumerate(repaired):
        if missing[i]:
            continue
        kept = _keep_kind(geom, kinds)
        if kept is None or kept.is_empty:
            wrong_kind.append(str(ident.iloc[i]))
            continue
        out[i], keep[i] = kept, True
    if strict and wrong_kind:
        raise InvalidGeometry(f"{layer}: {len(wrong_kind)} features are not {' or '.join(kinds)}, e.g. {wrong_kind[0]}")
    report.add(layer, f"dropped: not {'/'.join(kinds)}", wrong_kind)
    cleaned = frame.loc[keep].copy()
    cleaned = cleaned.set_geometry(gpd.GeoSeries(out[keep], index=cleaned.index, crs=frame.crs))
    return _drop_duplicates(cleaned, layer, report)


def clean_layers(raw: RawLayers, report: CleanReport, *, strict: bool = False) -> RawLayers:
    """:func:`clean_layer` applied to each of the four layers of ``raw``."""
    return RawLayers(
        buildings=clean_layer(raw.buildings, "buildings", POLYGONAL, report, strict=strict),
        streets=clean_layer(raw.streets, "streets", LINEAR, report, strict=strict),
        compounds=clean_layer(raw.compounds, "compounds", POLYGONAL, report, strict=strict),
        communities=clean_layer(raw.communities, "communities", POLYGONAL, report, strict=strict),
        sources=raw.sources,
    )


def _drop_duplicates(frame: gpd.GeoDataFrame, layer: str, report: CleanReport) -> gpd.GeoDataFrame:
    key = "source_id" if "source_id" in frame.columns else "code"
    dup_id = frame[key].duplicated(keep="first") & frame[key].notna()
    report.add(layer, f"dropped: duplicate {key}", frame.loc[dup_id, key].astype(str).tolist())
    frame = frame.loc[~dup_id]
    wkb = shapely.to_wkb(shapely.normalize(frame.geometry.values))
    dup_geom = frame.assign(_wkb=wkb)["_wkb"].duplicated(keep="first")
    report.add(layer, "dropped: duplicate geometry", frame.loc[dup_geom, key].astype(str).tolist())
    return frame.loc[~dup_geom]
