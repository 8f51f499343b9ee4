"""Grid polygons from cells: one Polygon per grid, tiling the study area."""

from __future__ import annotations

import numpy as np
import shapely
import shapely.errors
from numpy.typing import NDArray
from shapely.geometry.base import BaseGeometry

from gridmap.partition.adjacency import length_off_barrier

GRID_SIZE_M = 0.01  # snap to 1 cm so the cell union leaves no floating-point slivers


def grid_polygons(
    cells: NDArray[np.object_],
    labels: NDArray[np.int64],
    pieces: list[BaseGeometry],
    barriers: NDArray[np.object_] | None = None,
) -> dict[int, BaseGeometry]:
    """Union the cells of each label, then hand out the rest of the area.

    ``pieces`` (faces without buildings, offcuts) and stray fragments go to the grid
    they share most non-barrier edge with.
    """
    geoms: dict[int, BaseGeometry] = {}
    orphans: list[BaseGeometry] = []
    for label in np.unique(labels):
        union = _dissolve(cells[labels == label])
        parts = sorted(shapely.get_parts(union), key=lambda p: -p.area)
        geoms[int(label)] = parts[0]
        orphans.extend(parts[1:])
    orphans.extend(p for p in pieces if p.area > 0.01)
    return _absorb(geoms, orphans, barriers)


def _absorb(
    geoms: dict[int, BaseGeometry], orphans: list[BaseGeometry], barriers: NDArray[np.object_] | None
) -> dict[int, BaseGeometry]:
    """Give every orphan piece the label of the neighbour it shares most edge with, then union once per grid.

    Labels spread from the grids outwards, first only across edges that are not
    barriers, then across barriers for faces walled in by them. Pieces touching no
    grid along an edge stay out and show up as gaps in the tiling check.
    """
    if not orphans:
        return geoms
    labels = list(geoms)
    items = np.asarray([geoms[k] for k in labels] + orphans, dtype=object)
    owner = np.array(labels + [-1] * len(orphans), dtype=np.int64)
    left, right = shapely.STRtree(items).query(items, predicate="intersects")
    keep = (left != right) & (owner[left] < 0)  # rows: an orphan and one of its neighbours
    left, right = left[keep], right[keep]
    edges = shapely.intersection(shapely.boundary(items[left]), items[right], grid_size=GRID_SIZE_M)
    total = shapely.length(edges)
    # Pieces of 5 m: edges run along walls or not segment by segment, so coarse pieces classify them as well.
    free = length_off_barrier(edges, barriers, 1.0, step_m=5.0) if barriers is not None else total
    for length in (free, total):
        changed = True
        while changed:
            changed = False
            best: dict[int, tuple[float, int]] = {}
            for a, b, w in zip(left, right, length, strict=True):
                if owner[a] < 0 <= owner[b] and w >= 0.01 and w > best.get(int(a), (0.0, -1))[0]:
                    best[int(a)] = (float(w), int(owner[b]))
            for a, (_, label) in best.items():
                owner[a] = label
                changed = True
    for label in labels:
        extra = [items[i] for i in np.flatnonzero(owner == label) if i >= len(labels)]
        if extra:
            merged = shapely.union_all([geoms[label], *extra], grid_size=GRID_SIZE_M)
            geoms[label] = merged if merged.geom_type == "Polygon" else _largest(merged)
    return geoms


def _dissolve(cells: NDArray[np.object_]) -> BaseGeometry:
    """Union of edge-matched cells: the fast coverage union, or a snapped overlay when cells do not match."""
    try:
        union = shapely.coverage_union_all(cells)
    except shapely.errors.GEOSException:  # cells that do not share exact edges
        union = None
    if union is not None and union.is_valid and len(shapely.get_parts(union)) == 1:
        return union
    return shapely.union_all(cells, grid_size=GRID_SIZE_M)


def _largest(geom: BaseGeometry) -> BaseGeometry:
    parts = shapely.get_parts(geom)
    if len(parts) == 1:
        single: BaseGeometry = parts[0]
        return single
    # Parts touching at a point only: keep them together as the union's largest polygon piece.
    polys: list[BaseGeometry] = [p for p in parts if p.geom_type == "Polygon"]
    return max(polys, key=lambda p: float(p.area)) if polys else geom
