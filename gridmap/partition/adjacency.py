"""Study area, street blocks, building tessellation and the adjacency graph.

Adjacency, as gridmap defines it: two buildings are adjacent when their cells
in a Voronoi tessellation of building points, clipped to street faces, share
at least ``MIN_SHARED_M`` metres of edge that is not a barrier (main road,
railway, river, canal), and the straight line between the two buildings
crosses no barrier. Faces are what every street (not only barriers) cuts the
study area into, so a main road that ends inside a block — common in clipped
extracts — still separates the cells beside it; minor streets do not stop
adjacency. Cells never straddle a street, and together they tile the area.
All geometry here is in a metric CRS.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
import shapely.ops
from numpy.typing import NDArray
from scipy.sparse import coo_matrix, csr_matrix
from shapely.geometry.base import BaseGeometry

MIN_SHARED_M = 0.5
BARRIER_HALF_WIDTH_M = 0.5
OVERSHOOT_M = 0.5
GeomArray = NDArray[np.object_]
FloatArray = NDArray[np.float64]


def study_area(footprints: GeomArray, buffer_m: float, communities: GeomArray | None = None) -> BaseGeometry:
    """The communities' union when given, else the buildings' convex hull buffered by ``buffer_m``."""
    if communities is not None and len(communities):
        return shapely.union_all(communities)
    hull = shapely.convex_hull(shapely.multipoints(shapely.get_coordinates(footprints)))  # no union needed
    assert isinstance(hull, BaseGeometry)
    return hull.buffer(buffer_m)


def street_blocks(area: BaseGeometry, barriers: GeomArray) -> GeomArray:
    """Faces of ``area`` cut by the ``barriers`` lines (each a Polygon)."""
    # Lines are not clipped to the area: the area's edge is noded in, and faces outside it are dropped below.
    noded = shapely.union_all([area.boundary, *barriers])
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(noded)))
    inside = shapely.within(shapely.point_on_surface(faces), area)
    blocks = faces[inside]
    if len(blocks) == 0:
        return np.array(shapely.get_parts(area), dtype=object)
    return np.asarray(blocks, dtype=object)


def extend_dangles(barriers: GeomArray, streets: GeomArray, area: BaseGeometry, reach_m: float = 200.0) -> GeomArray:
    """Virtual walls continuing barrier ends that meet no other barrier, to the next crossing street.

    Clipped extracts cut main roads short of the study area's edge, and a main road often
    ends by turning into a lane. Without a wall there, a grid could reach around the end
    of the main road and hold land on both sides of it. The wall runs straight on from the
    road's last segment until a street crosses it or it leaves the area (at most ``reach_m``).
    """
    parts = shapely.get_parts(np.asarray(barriers, dtype=object))
    coords, part_of = shapely.get_coordinates(parts, return_index=True)
    counts = np.bincount(part_of, minlength=len(parts))
    first = np.concatenate([[0], np.cumsum(counts)[:-1]])
    last = first + counts - 1
    long_enough = np.flatnonzero(counts >= 2)
    # Both ends of every part, in order: start then end; each with the direction the line runs out at it.
    tip_at = np.stack([first[long_enough], last[long_enough]], axis=1).ravel()
    next_at = np.stack([first[long_enough] + 1, last[long_enough] - 1], axis=1).ravel()
    if not len(tip_at):
        return np.empty(0, dtype=object)
    tips, directions = coords[tip_at], coords[tip_at] - coords[next_at]
    points = shapely.points(tips)
    near_tip, _ = shapely.STRtree(barriers).query(points, predicate="dwithin", distance=0.5)
    # An end continuing as another barrier, or already outside the area, gets no wall.
    norms = np.hypot(directions[:, 0], directions[:, 1])
    loose = (np.bincount(near_tip, minlength=len(tips)) <= 1) & shapely.contains(area, points) & (norms > 0)
    ends = np.flatnonzero(loose)
    if not len(ends):
        return np.empty(0, dtype=object)
    tips, points = tips[ends], points[ends]
    units = directions[ends] / norms[ends, None]
    rays: GeomArray = np.asarray(shapely.linestrings(np.stack([tips + units * 1.0, tips + units * reach_m], axis=1)))
    lines = streets if len(streets) else barriers  # streets include the barriers
    ray_of, line_of = shapely.STRtree(lines).query(rays, predicate="intersects")
    # Points are streets crossing the ray; a street running along it (a lane continuing the road) is not a stop.
    crossings: GeomArray = np.asarray(shapely.intersection(lines[line_of], rays[ray_of]))
    exits: GeomArray = np.asarray(shapely.intersection(area.boundary, rays))
    street = _nearest_point(crossings, ray_of, points, len(ends))
    leave = _nearest_point(exits, np.arange(len(ends)), points, len(ends))
    d_street = np.array([np.inf if g is None else shapely.distance(p, g) for p, g in zip(points, street, strict=True)])
    d_leave = np.array([np.inf if g is None else shapely.distance(p, g) for p, g in zip(points, leave, strict=True)])
    out: list[BaseGeometry] = []
    for i in range(len(ends)):
        tip, unit = tips[i], units[i]
        if leave[i] is not None and (street[i] is None or d_leave[i] < d_street[i]):
            # Run on past the area's edge: a wall ending on it is off it by rounding and would dangle
            # inside the face instead of cutting it (faces outside the area are dropped anyway).
            wall: BaseGeometry = shapely.LineString([tip, shapely.get_coordinates(leave[i])[0] + unit * OVERSHOOT_M])
        else:
            stop = shapely.get_coordinates(street[i])[0] if street[i] is not None else tip + unit * reach_m
            wall = shapely.LineString([tip, stop]).intersection(area)
        if not wall.is_empty and wall.length > 1.0:
            out.append(wall)
    return np.asarray(out, dtype=object)


def _nearest_point(hits: GeomArray, hit_of: NDArray[np.int64], points: GeomArray, n: int) -> list[BaseGeometry | None]:
    """For each of ``n`` points, the Point part of its ``hits`` nearest to it (the first, on a tie), else None."""
    parts, part_of = shapely.get_parts(hits, return_index=True)
    owner = hit_of[part_of]
    is_point = shapely.get_type_id(parts) == 0
    parts, owner = parts[is_point], owner[is_point]
    distance = shapely.distance(points[owner], parts)
    nearest: list[BaseGeometry | None] = [None] * n
    for j in np.lexsort((np.arange(len(parts)), distance, owner))[::-1]:
        nearest[int(owner[j])] = parts[j]
    return nearest


def refine_dead_end_blocks(
    blocks: GeomArray, walls: GeomArray, streets: GeomArray
) -> tuple[GeomArray, NDArray[np.int64], NDArray[np.bool_]]:
    """Cut the blocks a wall dead-ends inside (a railway terminus, a clipped road) by all their streets too.

    Blocks are cut by walls only, which keeps them few and large; where a wall still ends
    inside a block, its streets are the only lines that can keep cells off the wall.
    Returns the blocks, each one's parent (the wall-bounded block it came from) and
    whether that parent was refined.
    """
    plain = (blocks, np.arange(len(blocks)), np.zeros(len(blocks), dtype=bool))
    if not len(walls) or not len(streets):
        return plain
    coords = np.concatenate([shapely.get_coordinates(p)[[0, -1]] for p in shapely.get_parts(walls)])
    ends = np.asarray(shapely.points(coords), dtype=object)
    inner = shapely.buffer(blocks, -0.5)
    block_idx, _ = shapely.STRtree(ends).query(inner, predicate="contains")
    if not len(block_idx):
        return plain
    refine = set(block_idx.tolist())
    street_tree = shapely.STRtree(streets)
    out: list[BaseGeometry] = []
    parent: list[int] = []
    for i, block in enumerate(blocks):
        pieces = [block]
        if i in refine:
            near = streets[street_tree.query(block, predicate="intersects")]
            pieces = list(street_blocks(block, np.concatenate([near, walls[shapely.intersects(walls, block)]])))
        out.extend(pieces)
        parent.extend([i] * len(pieces))
    refined = np.zeros(len(blocks), dtype=bool)
    refined[list(refine)] = True
    return np.asarray(out, dtype=object), np.asarray(parent, dtype=np.int64), refined[np.asarray(parent)]


@dataclass
class Tessellation:
    """One cell per point, the block of each point, and the blocks."""

    cells: GeomArray
    block_of: NDArray[np.int64]
    blocks: GeomArray


def tessellate(points: GeomArray, blocks: GeomArray) -> Tessellation:
    """Voronoi cells of ``points`` clipped to the block each point falls in."""
    tree = shapely.STRtree(blocks)
    pt_idx, blk_idx = tree.query(points, predicate="intersects")
    block_of = np.full(len(points), -1, dtype=np.int64)
    block_of[pt_idx[::-1]] = blk_idx[::-1]
    missing = np.flatnonzero(block_of < 0)
    if len(missing):
        # A point on no block (outside a community polygon): take the nearest block.
        block_of[missing] = tree.query_nearest(points[missing], return_distance=False)[1]
    coords = _apart(shapely.get_coordinates(points))
    order = np.argsort(block_of, kind="stable")
    starts = np.searchsorted(block_of[order], np.arange(len(blocks) + 1))
    cells = np.empty(len(points), dtype=object)
    regions: list[GeomArray] = []
    owners: list[NDArray[np.int64]] = []
    for b in np.flatnonzero(np.diff(starts)):
        members = order[starts[b] : starts[b + 1]]
        if len(members) == 1:
            cells[members[0]] = blocks[b]
            continue
        diagram = shapely.voronoi_polygons(shapely.multipoints(coords[members]), extend_to=blocks[b], ordered=True)
        regions.append(shapely.get_parts(diagram))
        owners.append(members)
    if regions:
        region, owner = np.concatenate(regions), np.concatenate(owners)
        block = blocks[block_of[owner]]
        shapely.prepare(blocks)
        # Most regions lie inside their block: only those reaching out need clipping.
        inside = shapely.contains_properly(block, region)
        cells[owner[inside]] = region[inside]
        cells[owner[~inside]] = shapely.intersection(region[~inside], block[~inside])
    return Tessellation(cells=cells, block_of=block_of, blocks=blocks)


def _apart(coords: FloatArray) -> FloatArray:
    """Coordinates with repeats nudged by millimetres: coincident points make Voronoi drop cells."""
    _, first = np.unique(coords.round(3), axis=0, return_index=True)
    repeats = np.setdiff1d(np.arange(len(coords)), first)
    moved = coords.copy()
    moved[repeats] += np.random.default_rng(len(coords)).normal(scale=0.01, size=(len(repeats), 2))
    return moved


def split_cells(cells: GeomArray, points: GeomArray, barriers: GeomArray) -> tuple[GeomArray, list[BaseGeometry]]:
    """Cut cells that a barrier runs through; each keeps the piece holding its building.

    The pieces cut off lie across the barrier and go to a grid on their own side when
    grid polygons are assembled (see ``shapes.grid_polygons``).
    """
    offcuts: list[BaseGeometry] = []
    if not len(barriers):
        return cells, offcuts
    out = cells.copy()
    tree = shapely.STRtree(barriers)
    # Only cells a wall touches can be crossed: the walls' segments find them cheaply.
    touched = np.unique(shapely.STRtree(segments(barriers)).query(cells, predicate="intersects")[0])
    # Cells shrunk by 1 cm: walls along a cell's edge are not crossings, whatever the rounding.
    cell_idx, line_idx = tree.query(shapely.buffer(cells[touched], -0.01), predicate="crosses")
    cell_idx = touched[cell_idx]
    for i in np.unique(cell_idx):
        blade = shapely.union_all(barriers[line_idx[cell_idx == i]])
        if blade.is_empty:
            continue
        pieces = list(shapely.get_parts(shapely.ops.split(cells[i], blade)))
        holding = [p for p in pieces if p.intersects(points[i])]
        if holding:
            out[i] = holding[0]
            offcuts.extend(p for p in pieces if p is not holding[0])
    return out, offcuts


def off_barrier(edges: GeomArray, barriers: GeomArray, width: float = BARRIER_HALF_WIDTH_M) -> GeomArray:
    """``edges`` without their parts within ``width`` of a barrier (only edges near one are touched)."""
    out = np.asarray(edges, dtype=object).copy()
    if not len(barriers) or not len(out):
        return out
    edge_idx, line_idx = shapely.STRtree(barriers).query(out, predicate="dwithin", distance=width)
    if not len(edge_idx):
        return out
    # Only the stretch of a barrier near its edge matters: buffering a whole 社区 boundary (or differencing
    # against it) for every short edge costs far more than clipping it to the edge's box first.
    xmin, ymin, xmax, ymax = shapely.bounds(out[edge_idx]).T
    reach = 2 * width
    boxes = shapely.box(xmin - reach, ymin - reach, xmax + reach, ymax + reach)
    zones = shapely.buffer(shapely.intersection(barriers[line_idx], boxes), width)
    # One vectorised difference per round; round r takes each edge's r-th nearby barrier.
    order = np.argsort(edge_idx, kind="stable")
    starts = np.searchsorted(edge_idx[order], edge_idx[order])
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order)) - starts
    for r in range(int(rank.max()) + 1):
        pick = np.flatnonzero(rank == r)
        out[edge_idx[pick]] = shapely.difference(out[edge_idx[pick]], zones[pick])
    return out


def segment_ends(lines: GeomArray) -> tuple[FloatArray, FloatArray, NDArray[np.int64]]:
    """Start and end of every straight segment of ``lines`` (multi-part or not), and the line it belongs to."""
    parts, line_of_part = shapely.get_parts(lines, return_index=True)
    coords, part_of = shapely.get_coordinates(parts, return_index=True)
    same = part_of[1:] == part_of[:-1]  # consecutive vertices of one part make a segment
    return coords[:-1][same], coords[1:][same], line_of_part[part_of[:-1][same]]


def segments(lines: GeomArray) -> GeomArray:
    """Every straight segment of ``lines``: a tree of short pieces prunes far better than one of long lines."""
    start, end, _ = segment_ends(lines)
    return np.asarray(shapely.linestrings(np.stack([start, end], axis=1)), dtype=object)


def length_off_barrier(edges: GeomArray, barriers: GeomArray, width: float, step_m: float = 1.0) -> FloatArray:
    """Length of each edge farther than ``width`` from every barrier, to within ``step_m``.

    Edges are cut into pieces of at most ``step_m`` and a piece counts when its midpoint is
    clear of the barriers: a point query per piece instead of an overlay per edge and barrier.
    """
    edges = np.asarray(edges, dtype=object)
    total: FloatArray = shapely.length(edges).astype(np.float64)
    if not len(barriers) or not len(edges):
        return total
    start, end, piece_edge = segment_ends(shapely.segmentize(edges, step_m))
    tree = shapely.STRtree(segments(barriers))
    near, _ = tree.query(shapely.points((start + end) / 2), predicate="dwithin", distance=width)
    clear = np.ones(len(start), dtype=bool)
    clear[near] = False
    lengths = np.hypot(*(end - start).T) * clear
    clear_length: FloatArray = np.bincount(piece_edge, weights=lengths, minlength=len(edges)).astype(np.float64)
    return clear_length


def matching_edges(cells: GeomArray) -> tuple[NDArray[np.int64], NDArray[np.int64], FloatArray]:
    """Pairs of cells whose boundaries hold the same segment (to 1 mm), with the length they share.

    Cells of one Voronoi diagram clipped to one block share their edges vertex for vertex,
    so hashing segments finds neighbours without an overlay per pair. Cells of different
    blocks, or cut by a wall, do not share vertices: compare those geometrically.
    """
    start, end, cell = segment_ends(shapely.boundary(cells))
    a, b = np.round(start * 1000.0).astype(np.int64), np.round(end * 1000.0).astype(np.int64)
    length = np.hypot(*(end - start).T)
    flip = (a[:, 0] > b[:, 0]) | ((a[:, 0] == b[:, 0]) & (a[:, 1] > b[:, 1]))
    keys = np.concatenate([np.where(flip[:, None], b, a), np.where(flip[:, None], a, b)], axis=1)
    order = np.lexsort(keys.T[::-1])
    twin = (keys[order][1:] == keys[order][:-1]).all(axis=1)
    first, second = order[:-1][twin], order[1:][twin]
    left, right = np.minimum(cell[first], cell[second]), np.maximum(cell[first], cell[second])
    apart = left != right
    pair = left[apart] * len(cells) + right[apart]
    pairs, which = np.unique(pair, return_inverse=True)
    shared: FloatArray = np.bincount(which, weights=length[first][apart], minlength=len(pairs)).astype(np.float64)
    return pairs // len(cells), pairs % len(cells), shared


def cell_adjacency(
    cells: GeomArray,
    points: GeomArray,
    barriers: GeomArray,
    group: NDArray[np.int64] | None = None,
    check_edges: NDArray[np.bool_] | None = None,
    block: NDArray[np.int64] | None = None,
) -> csr_matrix:
    """Symmetric adjacency of cells sharing an edge that is not a barrier, with no barrier between the buildings.

    ``group`` is each cell's wall-bounded block: blocks meet only along walls, so cells of two
    groups are never adjacent. ``block`` is the block each cell's Voronoi diagram was clipped to
    (a group a wall dead-ends in is cut into several by its streets). Cells of one block share
    edges vertex for vertex (``matching_edges``); pairs across blocks and pairs with a cell in
    ``check_edges`` (cut by a wall) are compared by overlay, their edges trimmed by the walls near
    them. Without ``check_edges`` every cell is compared by overlay.
    """
    n = len(cells)
    check = np.ones(n, dtype=bool) if check_edges is None else np.asarray(check_edges, dtype=bool)
    block_of = np.zeros(n, dtype=np.int64) if block is None else np.asarray(block, dtype=np.int64)
    group_of = block_of if group is None else np.asarray(group, dtype=np.int64)
    left, right, length = matching_edges(cells)
    keep = ~check[left] & ~check[right] & (block_of[left] == block_of[right]) & (group_of[left] == group_of[right])
    left, right, length = left[keep], right[keep], length[keep]
    pairs = np.unique(np.stack([group_of, block_of], axis=1), axis=0)
    several_blocks = (np.bincount(pairs[:, 0], minlength=int(group_of.max()) + 1) > 1)[group_of]
    probe = np.flatnonzero(check | several_blocks)
    near, other = shapely.STRtree(cells).query(cells[probe], predicate="intersects")
    near = probe[near]
    keep = (near != other) & (group_of[near] == group_of[other])
    keep &= check[near] | check[other] | (block_of[near] != block_of[other])
    near, other = near[keep], other[keep]
    pair = np.unique(np.minimum(near, other) * n + np.maximum(near, other))
    c_left, c_right = pair // n, pair % n
    shared = shapely.intersection(shapely.boundary(cells[c_left]), shapely.boundary(cells[c_right]))
    # Cells on the two sides of a barrier touch along it: that edge does not connect them.
    shared = off_barrier(shared, barriers)
    left = np.concatenate([left, c_left])
    right = np.concatenate([right, c_right])
    length = np.concatenate([length, shapely.length(shared)])
    keep = length >= MIN_SHARED_M
    left, right = left[keep], right[keep]
    if len(barriers) and len(left):
        links = shapely.linestrings(
            np.stack([shapely.get_coordinates(points[left]), shapely.get_coordinates(points[right])], axis=1)
        )
        crossing, _ = shapely.STRtree(barriers).query(links, predicate="intersects")
        ok = np.ones(len(left), dtype=bool)
        ok[crossing] = False
        left, right = left[ok], right[ok]
    data = np.ones(2 * len(left))
    rows = np.concatenate([left, right])
    cols = np.concatenate([right, left])
    return coo_matrix((data, (rows, cols)), shape=(n, n)).tocsr()
