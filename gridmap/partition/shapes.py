"""Grid polygons from cells: one Polygon per grid, tiling the study area."""

from __future__ import annotations

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.geometry.base import BaseGeometry

GRID_SIZE_M = 0.01  # snap to 1 cm so the cell union leaves no floating-point slivers
EDGE_SNAP_M = 0.05


def grid_polygons(
    cells: NDArray[np.object_],
    labels: NDArray[np.int64],
    blocks: NDArray[np.object_],
    barrier_zone: BaseGeometry | None = None,
) -> dict[int, BaseGeometry]:
    """Union the cells of each label; hand empty blocks and stray fragments to their longest-bordering grid."""
    geoms: dict[int, BaseGeometry] = {}
    orphans: list[BaseGeometry] = []
    for label in np.unique(labels):
        union = shapely.union_all(cells[labels == label], grid_size=GRID_SIZE_M)
        parts = sorted(shapely.get_parts(union), key=lambda p: -p.area)
        geoms[int(label)] = parts[0]
        orphans.extend(parts[1:])
    covered = shapely.union_all(list(geoms.values()) + orphans, grid_size=GRID_SIZE_M)
    for block in blocks:
        rest = shapely.difference(block, covered, grid_size=GRID_SIZE_M)
        orphans.extend(p for p in shapely.get_parts(rest) if p.area > 0.01)
    return _absorb(geoms, orphans, barrier_zone)


def _absorb(
    geoms: dict[int, BaseGeometry], orphans: list[BaseGeometry], barrier_zone: BaseGeometry | None
) -> dict[int, BaseGeometry]:
    # First along streets that are not barriers only; what is left (faces walled in by barriers) after.
    pending = sorted(orphans, key=lambda p: -p.area)
    for across_barriers in (False, True):
        while pending:
            left = _absorb_round(geoms, pending, barrier_zone, across_barriers)
            if len(left) == len(pending):
                break
            pending = left
    return geoms  # pieces touching no grid along an edge stay out and show up as gaps


def _absorb_round(
    geoms: dict[int, BaseGeometry],
    pending: list[BaseGeometry],
    barrier_zone: BaseGeometry | None,
    across_barriers: bool,
) -> list[BaseGeometry]:
    labels = list(geoms)
    tree = shapely.STRtree([geoms[k] for k in labels])
    left: list[BaseGeometry] = []
    for piece in pending:
        options: list[tuple[float, int]] = []
        for i in tree.query(piece, predicate="intersects"):
            # Boundaries that coincide only up to rounding: measure the piece's edge near the grid.
            edge = shapely.intersection(piece.boundary, shapely.buffer(geoms[labels[i]], EDGE_SNAP_M))
            if barrier_zone is not None and not across_barriers:
                edge = shapely.difference(edge, barrier_zone)
            shared = float(shapely.length(edge))
            if shared >= 0.01:
                options.append((shared, int(i)))
        for _, i in sorted(options, reverse=True):
            merged = shapely.union(geoms[labels[i]], piece, grid_size=GRID_SIZE_M)
            if merged.geom_type == "Polygon":  # never trade a gap for a multi-part grid
                geoms[labels[i]] = merged
                break
        else:
            left.append(piece)
    return left


def _largest(geom: BaseGeometry) -> BaseGeometry:
    parts = shapely.get_parts(geom)
    if len(parts) == 1:
        single: BaseGeometry = parts[0]
        return single
    # Parts touching at a point only: keep them together as the union's largest polygon piece.
    polys: list[BaseGeometry] = [p for p in parts if p.geom_type == "Polygon"]
    return max(polys, key=lambda p: float(p.area)) if polys else geom
