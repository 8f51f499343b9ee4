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

    def locate_codes(self, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Vectorised: grid code (None outside), whether inside, and distance (m) to the nearest grid."""
        points = np.asarray(shapely.points(np.asarray(lon, float), np.asarray(lat, float)), dtype=object).reshape(-1)
        hit_point, hit_grid = self._tree.query(points, predicate="intersects")  # = covered_by for points
        # Grids are sorted by code, so the smallest index is the smallest code: ties on shared edges go to it.
        first = np.full(len(points), len(self._codes), dtype=np.int64)
        np.minimum.at(first, hit_point, hit_grid)
        inside = first < len(self._codes)
        codes = np.full(len(points), None, dtype=object)
        codes[inside] = self._codes[first[inside]]
        distance = np.zeros(len(points))
        missing = np.flatnonzero(~inside)
        if len(missing) and len(self._codes):
            metric = gpd.GeoSeries(points[missing], crs=4326).to_crs(self._crs)
            grids = gpd.GeoSeries(self._geoms, crs=4326).to_crs(self._crs)
            idx, dist = shapely.STRtree(grids.to_numpy()).query_nearest(
                metric.to_numpy(), return_distance=True, all_matches=False
            )
            codes[missing[idx[0]]] = self._codes[idx[1]]
            distance[missing[idx[0]]] = np.round(dist, 1)
        return codes, inside, distance

    def locate(self, lon: np.ndarray, lat: np.ndarray) -> list[GridHit]:
        """Grid of each point (lon/lat in WGS84); outside coverage, the nearest grid and its distance."""
        codes, inside, distance = self.locate_codes(lon, lat)
        return [
            GridHit(None if c is None else str(c), "inside" if i else "outside_coverage", float(d))
            for c, i, d in zip(codes, inside, distance, strict=True)
        ]
