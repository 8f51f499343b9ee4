"""Pure analyses behind the leader maps: Getis-Ord Gi* hot spots on H3 cells, requests snapped to lanes."""

from __future__ import annotations

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
from esda import fdr
from esda.getisord import G_Local
from libpysal.weights import W
from shapely.geometry import Polygon
from shapely.geometry.base import BaseGeometry

from gridmap.spatial.crs import metric_crs


def gi_star_cells(
    points: gpd.GeoDataFrame,
    area: BaseGeometry,
    *,
    resolution: int = 10,
    alpha: float = 0.05,
    permutations: int = 999,
    seed: int = 0,
) -> gpd.GeoDataFrame:
    """Request counts on the H3 cells covering ``area`` with Gi* z-scores, pseudo p-values and FDR-controlled hot/cold.

    Neighbours are the six touching cells; Gi* includes the cell itself. ``hot`` / ``cold`` are significant at
    ``alpha`` after the false discovery rate correction (Benjamini-Hochberg, esda.fdr).
    """
    pts = points.to_crs(4326)
    own = [h3.latlng_to_cell(p.y, p.x, resolution) for p in pts.geometry]
    cells = sorted(set(h3.geo_to_cells(area.__geo_interface__, resolution)) | set(own))
    counts = pd.Series(own, dtype=object).value_counts().reindex(cells, fill_value=0).to_numpy(dtype=float)
    position = {c: i for i, c in enumerate(cells)}
    neighbours = {i: [position[n] for n in h3.grid_disk(c, 1) if n != c and n in position] for i, c in enumerate(cells)}
    frame = gpd.GeoDataFrame(
        {"cell": cells, "requests": counts.astype(int)},
        geometry=[Polygon([(lng, lat) for lat, lng in h3.cell_to_boundary(c)]) for c in cells],
        crs=4326,
    )
    frame["z"], frame["p"], frame["hot"], frame["cold"] = 0.0, 1.0, False, False
    if len(cells) < 3 or counts.sum() == 0:
        return frame
    weights = W(neighbours, silence_warnings=True)
    gi = G_Local(counts, weights, transform="B", star=True, permutations=permutations, seed=seed, n_jobs=1)
    z, p = np.nan_to_num(np.asarray(gi.Zs, dtype=float)), np.asarray(gi.p_sim, dtype=float)
    threshold = fdr(p, alpha)
    frame["z"], frame["p"] = np.round(z, 2), p
    frame["hot"] = (z > 0) & (p <= threshold)
    frame["cold"] = (z < 0) & (p <= threshold)
    return frame


LANE_CLASSES = frozenset(
    {"residential", "living_street", "service", "unclassified", "pedestrian", "footway", "path", "alley", "track"}
)


def lane_reports(
    requests: gpd.GeoDataFrame,
    streets: gpd.GeoDataFrame,
    *,
    radius_m: float = 30.0,
    min_reports: int = 3,
    min_days: int = 3,
    timezone: str = "Asia/Shanghai",
) -> gpd.GeoDataFrame:
    """Street segments with the lane-blocking requests snapped to them (nearest within ``radius_m``).

    Columns: ``reports``, ``days`` (distinct local dates), ``length_m``, ``per_100m`` and ``recurring``
    (≥ ``min_reports`` reports on ≥ ``min_days`` distinct days). Only segments with reports are returned.
    """
    crs = metric_crs(streets)
    lines = streets.to_crs(crs)[["street_id", "name", "geometry"]]
    pts = requests.to_crs(crs)[["created_at", "geometry"]]
    snapped = gpd.sjoin_nearest(pts, lines, max_distance=radius_m, how="inner", distance_col="distance_m")
    snapped = snapped[~snapped.index.duplicated()]  # a point equally near two segments counts once
    if snapped.empty:
        return gpd.GeoDataFrame(
            columns=["street_id", "name", "reports", "days", "length_m", "per_100m", "recurring", "geometry"],
            geometry="geometry",
            crs=4326,
        )
    snapped["day"] = pd.to_datetime(snapped["created_at"], utc=True).dt.tz_convert(timezone).dt.date
    stats = snapped.groupby("street_id").agg(reports=("day", "size"), days=("day", "nunique"))
    out = lines.set_index("street_id").join(stats, how="inner")
    out["length_m"] = out.geometry.length.round(1)
    out["per_100m"] = (out["reports"] / np.maximum(out["length_m"], 10.0) * 100).round(2)
    out["recurring"] = (out["reports"] >= min_reports) & (out["days"] >= min_days)
    return gpd.GeoDataFrame(out.reset_index(), geometry="geometry", crs=crs).to_crs(4326)


def worst_lanes(segments: gpd.GeoDataFrame, top: int = 10) -> pd.DataFrame:
    """Lanes by name (segments of one name together), most reports per 100 m first."""
    named = segments.assign(name=segments["name"].fillna("(无名巷道 unnamed)"))
    grouped = named.groupby("name").agg(
        reports=("reports", "sum"), days=("days", "max"), length_m=("length_m", "sum"), recurring=("recurring", "any")
    )
    grouped["per_100m"] = (grouped["reports"] / np.maximum(grouped["length_m"], 10.0) * 100).round(2)
    ranked = grouped.sort_values(["recurring", "per_100m", "reports"], ascending=False)
    return pd.DataFrame(ranked.head(top).reset_index())
