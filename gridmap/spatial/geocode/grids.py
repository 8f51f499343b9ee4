"""Point → grid: the grid covering a point, or the nearest one with its distance."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import shapely
from scipy import ndimage

from gridmap.spatial.crs import metric_crs


@dataclass(frozen=True)
class GridHit:
    """The grid of a point; ``status`` is ``inside`` or ``outside_coverage`` (then the nearest grid)."""

    grid_code: str | None
    status: str
    distance_m: float


class CellTable:
    """A lookup table over square cells: cells no grid boundary touches answer a point without a geometry test.

    Boundaries are sampled every half cell; the segment between two samples can only touch the cells in the
    box their two cells span, so marking those boxes marks every cell a boundary passes through. The unmarked
    cells form 4-connected regions, each wholly inside one grid or outside all: one exact test per region fills
    the table. Points in marked cells take the exact path.
    """

    def __init__(self, geoms: np.ndarray, exact: Callable[[np.ndarray, np.ndarray], np.ndarray], cells: int) -> None:
        x0, y0, x1, y1 = shapely.total_bounds(geoms)
        side = float(np.sqrt(max((x1 - x0) * (y1 - y0), 1e-12) / cells))
        self.x0, self.y0, self.size = x0, y0, side
        self.nx, self.ny = int((x1 - x0) / side) + 1, int((y1 - y0) / side) + 1
        edge = np.zeros((self.ny, self.nx), dtype=bool)
        parts = shapely.get_parts(shapely.segmentize(shapely.boundary(geoms), side / 2))
        coords, part = shapely.get_coordinates(parts, return_index=True)
        ix, iy = self._cell(coords[:, 0], coords[:, 1])
        ix, iy = np.clip(ix, 0, self.nx - 1), np.clip(iy, 0, self.ny - 1)
        same = part[1:] == part[:-1]  # consecutive samples of one ring: a segment
        for xs in (ix[:-1][same], ix[1:][same]):
            for ys in (iy[:-1][same], iy[1:][same]):
                edge[ys, xs] = True
        edge[iy, ix] = True
        regions, count = ndimage.label(~edge)
        labels, first = np.unique(regions.ravel(), return_index=True)  # a cell of each region
        cy, cx = np.divmod(first[labels > 0], self.nx)
        answers = exact(x0 + (cx + 0.5) * side, y0 + (cy + 0.5) * side) if count else np.zeros(0, np.int32)
        table = np.concatenate([[-2], answers]).astype(np.int32)[regions]  # -2: ask the exact path
        self.table = table

    def _cell(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return np.floor((x - self.x0) / self.size).astype(np.int64), np.floor((y - self.y0) / self.size).astype(
            np.int64
        )

    def lookup(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Index of the grid (-1 outside all), or -2 where the exact path must answer."""
        ix, iy = self._cell(x, y)
        inside = (ix >= 0) & (ix < self.nx) & (iy >= 0) & (iy < self.ny)
        out = np.full(len(x), -2, dtype=np.int32)
        out[inside] = self.table[iy[inside], ix[inside]]
        return out


class GridIndex:
    """Vectorised point-in-grid over a plan's grid polygons (EPSG:4326).

    Large batches (``table_from`` points or more) go through a :class:`CellTable` built on first use.
    """

    def __init__(self, grids: gpd.GeoDataFrame, *, table_from: int = 20_000, table_cells: int = 8_000_000) -> None:
        order = np.argsort(grids["grid_code"].to_numpy())  # ties on shared edges go to the smallest code
        self._codes = grids["grid_code"].to_numpy()[order]
        self._geoms = grids.geometry.to_crs(4326).to_numpy()[order]
        self._tree = shapely.STRtree(self._geoms)
        self._crs = metric_crs(grids) if len(grids) else None
        self._table: CellTable | None = None
        self._table_from, self._table_cells = table_from, table_cells

    def _exact(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Index of the covering grid with the smallest code, -1 outside all."""
        points = np.asarray(shapely.points(x, y), dtype=object).reshape(-1)
        hit_point, hit_grid = self._tree.query(points, predicate="intersects")  # = covered_by for points
        # Grids are sorted by code, so the smallest index is the smallest code: ties on shared edges go to it.
        first = np.full(len(points), len(self._codes), dtype=np.int64)
        np.minimum.at(first, hit_point, hit_grid)
        return np.where(first < len(self._codes), first, -1).astype(np.int32)

    def locate_index(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """Index (in code order) of each point's grid, -1 outside all grids."""
        x, y = np.asarray(lon, float).reshape(-1), np.asarray(lat, float).reshape(-1)
        if len(x) < self._table_from or not len(self._codes):
            return self._exact(x, y)
        if self._table is None:
            self._table = CellTable(self._geoms, self._exact, self._table_cells)
        found = self._table.lookup(x, y)
        unsure = np.flatnonzero(found == -2)
        found[unsure] = self._exact(x[unsure], y[unsure])
        return found

    def locate_codes(self, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Vectorised: grid code (None outside), whether inside, and distance (m) to the nearest grid."""
        x, y = np.asarray(lon, float).reshape(-1), np.asarray(lat, float).reshape(-1)
        first = self.locate_index(x, y)
        inside = first >= 0
        codes = np.full(len(x), None, dtype=object)
        codes[inside] = self._codes[first[inside]]
        distance = np.zeros(len(x))
        missing = np.flatnonzero(~inside)
        if len(missing) and len(self._codes):
            metric = gpd.GeoSeries(shapely.points(x[missing], y[missing]), crs=4326).to_crs(self._crs)
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
