"""Grid polygons from cells: one Polygon per grid, tiling the study area."""

from __future__ import annotations

import logging

import geopandas as gpd
import numpy as np
import shapely
import shapely.errors
from numpy.typing import NDArray
from pyproj import CRS
from shapely.geometry.base import BaseGeometry

from gridmap.partition.adjacency import length_off_barrier

log = logging.getLogger(__name__)
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
    return exact_coverage(_absorb(geoms, orphans, barriers))


SLIVER_WIDTH_M = 0.1  # an uncovered face narrower than this on average is a gap left by rounding, not a hole
METRES_PER_DEGREE = 111_320.0  # of latitude; a degree of longitude is shorter, so slivers in degrees are judged wider


def fitted_wgs84(geoms: dict[int, BaseGeometry], area: shapely.Geometry, crs: CRS) -> dict[int, BaseGeometry]:
    """The grids in EPSG:4326, as they are stored, fitted exactly to the study area there.

    Grids are made in a metric CRS with corners snapped to 1 cm, and a straight edge there is not straight in
    longitude/latitude: both leave strips of millimetres between the grids' outer edge and the study area's.
    Fitting once more in EPSG:4326, with the study area's boundary noded in, makes the stored grids' union the
    stored study area and keeps every grid valid where it is checked (a strip fitted in metres may fold over
    itself once reprojected).
    """
    labels = list(geoms)
    wgs84 = dict(zip(labels, gpd.GeoSeries([geoms[k] for k in labels], crs=crs).to_crs(4326), strict=True))
    outline = gpd.GeoSeries([area], crs=crs).to_crs(4326).iloc[0]
    try:
        fitted = exact_coverage(wgs84, outline, SLIVER_WIDTH_M / METRES_PER_DEGREE)
    except shapely.errors.GEOSException:  # a noding GEOS cannot do: keep the plan, with its mm strips at the edge
        return wgs84
    return fitted if _single_valid_polygons(fitted) else wgs84


STITCH_CELL_DEGREES = 0.02  # about 2 km: grids near job borders are rebuilt a cell (some hundreds) at a time
STITCH_TOGETHER = 2000  # after the first round, up to this many grids are rebuilt as one set


def stitched_jobs(grids: NDArray[np.object_], job: NDArray[np.int64], rounds: int = 6) -> NDArray[np.object_]:
    """Grids of separately partitioned jobs (EPSG:4326), made to share their edges where the jobs meet.

    Each job fits its grids to its own 社区 or chunk and nodes the shared boundary at its own points, so two
    jobs' grids meet to floating-point dust, not edge for edge. The grids near another job's (their boxes meet)
    are rebuilt from one noded arrangement (:func:`exact_coverage`), a map cell at a time so that a city costs
    what its parts cost. Noding may move a rebuilt grid's vertex on an edge it shares with a grid rebuilt in
    another cell or left as it was, so the result is checked (GEOS's coverage validation) where it changed, and
    the grids of each mismatched edge are rebuilt again with their neighbours, together, in the next round. A
    cell whose grids GEOS cannot node, or where a grid would not come out as one valid polygon, stays as it was.
    """
    tree = shapely.STRtree(grids)
    near, other = tree.query(grids)
    chosen = np.unique(near[job[near] != job[other]])
    out = grids
    for round_ in range(rounds):
        if not len(chosen):
            break
        # a few mismatched edges left: all together; else cells twice as large, shifted, so no cell edge stays
        size = STITCH_CELL_DEGREES * 2**round_
        together = round_ > 0 and len(chosen) <= STITCH_TOGETHER
        cells = np.zeros(len(chosen), np.int64) if together else _cells(grids[chosen], size, size / 2 * (round_ % 2))
        source, out = out, out.copy()
        for cell in np.unique(cells):
            members = chosen[cells == cell]
            rebuilt = _rebuilt(source, members)
            if rebuilt is not None:
                out[members] = rebuilt
        around = np.unique(other[np.isin(near, chosen)])
        mismatched = around[~shapely.is_empty(shapely.coverage_invalid_edges(out[around]))]
        chosen = np.unique(other[np.isin(near, mismatched)])
    if len(chosen):
        log.warning("%d grids still meet a grid of another job by floating-point dust, not edge for edge", len(chosen))
    return out


def _cells(geoms: NDArray[np.object_], size: float, offset: float) -> NDArray[np.int64]:
    """The map cell (of ``size`` degrees, its edges ``offset`` from whole multiples) of each box centre."""
    box = shapely.bounds(geoms)
    col = np.floor(((box[:, 0] + box[:, 2]) / 2 + offset) / size).astype(np.int64)
    row = np.floor(((box[:, 1] + box[:, 3]) / 2 + offset) / size).astype(np.int64)
    return col * 1_000_003 + row


def _rebuilt(grids: NDArray[np.object_], chosen: NDArray[np.int64]) -> NDArray[np.object_] | None:
    """The grids at ``chosen`` rebuilt from one noded arrangement; None if that cannot be done."""
    try:
        fitted = exact_coverage({int(i): grids[i] for i in chosen}, None, SLIVER_WIDTH_M / METRES_PER_DEGREE)
    except shapely.errors.GEOSException:
        return None
    if not _single_valid_polygons(fitted):
        return None
    return np.asarray([fitted[int(i)] for i in chosen], dtype=object)


def _single_valid_polygons(geoms: dict[int, BaseGeometry]) -> bool:
    """Whether every grid came out as one valid polygon (what a rebuild must give to be kept)."""
    return all(g.is_valid and g.geom_type == "Polygon" for g in geoms.values())


def exact_coverage(
    geoms: dict[int, BaseGeometry], area: BaseGeometry | None = None, sliver_width: float = SLIVER_WIDTH_M
) -> dict[int, BaseGeometry]:
    """The same grids rebuilt from one noded arrangement of their boundaries, so that neighbours share edges exactly.

    Grids unioned one by one (each snapped on its own) disagree along shared edges by slivers: a point there
    belonged to two grids, or to none. Here every boundary is noded together and polygonised into faces; each
    face goes to the one grid that contains it (the first, where two overlapped); a sliver that no grid contains
    goes to the neighbour it shares most edge with. A grid is then the coverage union of its faces, whose edges
    are those of its neighbours vertex for vertex (also after reprojection, which moves each vertex alike).

    With ``area``, its boundary is noded in too: faces outside it are dropped, and the strips between it and the
    grids' outer edge go to the grid beside them, so that the grids' union is the area. ``sliver_width`` is in the
    units of the coordinates.
    """
    labels = list(geoms)
    if not labels or (len(labels) < 2 and area is None):
        return geoms
    polys = np.asarray([geoms[k] for k in labels], dtype=object)
    edges = shapely.boundary(polys)
    if area is not None:
        edges = np.append(edges, np.asarray([shapely.boundary(area)], dtype=object))
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(shapely.union_all(edges))))
    if area is not None:
        faces = faces[shapely.within(shapely.point_on_surface(faces), area)]
    owner = np.full(len(faces), -1, dtype=np.int64)
    face, poly = shapely.STRtree(polys).query(shapely.point_on_surface(faces), predicate="within")
    for f, g in sorted(zip(face.tolist(), poly.tolist(), strict=True)):
        if owner[f] < 0:
            owner[f] = g
    widths = 2 * shapely.area(faces) / np.maximum(shapely.length(faces), 1e-9)
    holes = (owner < 0) & (widths >= sliver_width)  # real holes in the outline stay holes
    for _ in range(3):  # slivers first, then parts split off a grid by the slivers' removal
        _give_to_neighbours(faces, owner, (owner < 0) & ~holes)
        split = _minor_parts(faces, owner)
        if not split.any():
            break
        owner[split] = -1
    out = dict(geoms)
    for i, label in enumerate(labels):
        mine = faces[owner == i]
        if len(mine):
            out[label] = _largest(shapely.coverage_union_all(mine))
    return out


def _give_to_neighbours(faces: NDArray[np.object_], owner: NDArray[np.int64], loose: NDArray[np.bool_]) -> None:
    """Each loose face to the owner of the neighbouring face it shares most edge with (repeated until none moves)."""
    tree = shapely.STRtree(faces)
    while loose.any():
        moved = False
        for f in np.flatnonzero(loose):
            near = tree.query(faces[f], predicate="touches")
            near = near[owner[near] >= 0]
            if not len(near):
                continue
            shared = shapely.length(shapely.intersection(shapely.boundary(faces[f]), faces[near]))
            owner[f] = owner[near[int(np.argmax(shared))]]
            loose[f], moved = False, True
        if not moved:
            return


def _minor_parts(faces: NDArray[np.object_], owner: NDArray[np.int64]) -> NDArray[np.bool_]:
    """Faces of a grid that lie outside its largest connected part (to be handed to a neighbour)."""
    minor = np.zeros(len(faces), dtype=bool)
    for g in np.unique(owner[owner >= 0]):
        idx = np.flatnonzero(owner == g)
        union = shapely.coverage_union_all(faces[idx])
        parts = shapely.get_parts(union)
        if len(parts) < 2:
            continue
        main = max(parts, key=lambda p: float(p.area))
        minor[idx[~shapely.covered_by(faces[idx], main)]] = True
    return minor


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
    # Two orphans share one edge: measure it once, for the row with the smaller index first.
    measured = (owner[right] >= 0) | (left < right)
    edges = shapely.intersection(shapely.boundary(items[left[measured]]), items[right[measured]], grid_size=GRID_SIZE_M)
    # Pieces of 5 m: edges run along walls or not segment by segment, so coarse pieces classify them as well.
    free_m = length_off_barrier(edges, barriers, 1.0, step_m=5.0) if barriers is not None else shapely.length(edges)
    key = np.minimum(left, right) * len(items) + np.maximum(left, right)
    order = np.argsort(key[measured])
    twin = np.flatnonzero(measured)[order][np.searchsorted(key[measured], key, sorter=order)]
    where = np.cumsum(measured) - 1  # a measured row's place among the measured
    total, free = shapely.length(edges)[where[twin]], free_m[where[twin]]
    for length in (free, total):
        _spread(owner, left, right, length)
    for label in labels:
        extra = [items[i] for i in np.flatnonzero(owner == label) if i >= len(labels)]
        if extra:
            merged = shapely.union_all([geoms[label], *extra], grid_size=GRID_SIZE_M)
            geoms[label] = merged if merged.geom_type == "Polygon" else _largest(merged)
    return geoms


def _spread(
    owner: NDArray[np.int64], left: NDArray[np.int64], right: NDArray[np.int64], length: NDArray[np.float64]
) -> None:
    """Label rounds: each unlabelled ``left`` takes the label of its labelled ``right`` with the longest edge.

    Ties go to the first such row, as rows are listed; repeated until no label moves.
    """
    order = np.arange(len(left))
    while True:
        open_ = (owner[left] < 0) & (owner[right] >= 0) & (length >= 0.01)
        if not open_.any():
            return
        rows = order[open_]
        rows = rows[np.lexsort((rows, -length[rows], left[rows]))]  # per orphan: longest first, then listed first
        first = np.r_[True, left[rows][1:] != left[rows][:-1]]
        owner[left[rows[first]]] = owner[right[rows[first]]]


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
