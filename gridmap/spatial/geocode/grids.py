"""Point → grid: the grid covering a point, or the nearest one with its distance."""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import shapely

from gridmap.spatial.crs import metric_crs


@dataclass(frozen=True)
class GridHit:
    """The grid of a point; ``status`` is ``inside`` or ``outside_coverage`` (then the nearest grid)."""

    grid_code: str | None
    status: str
    distance_m: float


class GridIndex:
    """Vectorised point-in-grid over a plan's grid polygons (EPSG:4326)."""

    def __init__(self, grids: gpd.GeoDataFrame) -> None:
        order = np.argsort(grids["grid_code"].to_numpy())  # ties on shared edges go to the smallest code
        self._codes = grids["grid_code"].to_numpy()[order]
        self._geoms = grids.geometry.to_crs(4326).to_numpy()[order]
        self._tree = shapely.STRtree(self._geoms)
        self._crs = metric_crs(grids) if len(grids) else None

    def locate(self, lon: np.ndarray, lat: np.ndarray) -> list[GridHit]:
        """Grid of each point (lon/lat in WGS84)."""
        points = np.asarray(shapely.points(np.asarray(lon, float), np.asarray(lat, float)), dtype=object).reshape(-1)
        hit_point, hit_grid = self._tree.query(points, predicate="covered_by")
        first = np.full(len(points), -1)
        for p, g in zip(hit_point[::-1], hit_grid[::-1], strict=True):
            first[p] = g if first[p] < 0 else min(first[p], g)
        out: list[GridHit | None] = [GridHit(str(self._codes[g]), "inside", 0.0) if g >= 0 else None for g in first]
        missing = np.flatnonzero(first < 0)
        if len(missing) and len(self._codes):
            metric = gpd.GeoSeries(points[missing], crs=4326).to_crs(self._crs)
            grids = gpd.GeoSeries(self._geoms, crs=4326).to_crs(self._crs)
            tree = shapely.STRtree(grids.to_numpy())
            idx, dist = tree.query_nearest(metric.to_numpy(), return_distance=True, all_matches=False)
            for (p, g), d in zip(idx.T, dist, strict=True):
                out[missing[p]] = GridHit(str(self._codes[g]), "outside_coverage", round(float(d), 1))
        return [h if h is not None else GridHit(None, "outside_coverage", float("inf")) for h in out]
