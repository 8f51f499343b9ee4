"""Exhaustive search of small areas: it finds the all-in-band plan bisection misses, or proves there is none."""

import numpy as np
import pytest
import shapely
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

from gridmap.partition.exact import ExactSplit, has_in_band_plan, milp_split, one_out_plan
from gridmap.partition.solver import Partitioner, neighbour_lists, solve_atoms, subgraph


def _line(households: list[int]) -> tuple[list[list[int]], np.ndarray, np.ndarray]:
    n = len(households)
    neighbours = [[j for j in (i - 1, i + 1) if 0 <= j < n] for i in range(n)]
    return neighbours, np.array(households, dtype=np.int64), np.c_[np.arange(n) * 50.0, np.zeros(n)]


def test_a_line_is_split_where_both_halves_fit() -> None:
    found = ExactSplit(*_line([150, 100, 140, 110]), low=240, high=360).solve(2)
    assert found.labels is not None and found.labels.tolist() == [0, 0, 1, 1]


@pytest.mark.parametrize("households", [[200, 300, 200], [250, 200, 250]])
def test_no_plan_is_proven(households: list[int]) -> None:
    # 700 households in a row make two grids only as 200 | 500 (or 250 | 450): 350 | 350 would cut an atom
    assert has_in_band_plan(*_line(households), low=240, high=360) is False


def test_a_search_cut_short_proves_nothing() -> None:
    neighbours, h, xy = _line([100] * 30)
    found = ExactSplit(neighbours, h, xy, low=240, high=360, budget=5).solve(10)
    assert found.labels is None and not found.proven


def _random_area(seed: int) -> tuple[np.ndarray, np.ndarray, csr_matrix]:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(6, 16))
    xy = rng.uniform(0, 300, (n, 2))
    edges = shapely.get_parts(shapely.delaunay_triangles(shapely.multipoints(xy), only_edges=True))
    index = {tuple(np.round(p, 6)): i for i, p in enumerate(xy)}
    pairs = [[index[tuple(np.round(c, 6))] for c in e.coords] for e in edges]
    rows = [a for a, b in pairs] + [b for a, b in pairs]
    cols = [b for a, b in pairs] + [a for a, b in pairs]
    adj = csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))
    return xy, rng.choice([20, 40, 60, 90, 120, 150, 200], n).astype(np.int64), adj


def test_the_solver_finds_every_all_in_band_plan_of_small_areas() -> None:
    """On random small areas (about 1 in 14 defeats straight cuts), an existing all-in-band plan is found."""
    checked = 0
    for seed in range(60):
        xy, h, adj = _random_area(seed)
        if not has_in_band_plan(neighbour_lists(adj, np.arange(len(h))), h, xy, low=240, high=360):
            continue
        labels = Partitioner().solve(xy, h, adj).labels_
        sums = np.bincount(labels, weights=h)
        assert ((sums >= 240) & (sums <= 360)).all(), seed
        for g in np.unique(labels):
            members = np.flatnonzero(labels == g)
            assert connected_components(subgraph(adj, members), directed=False)[0] == 1, seed
        checked += 1
    assert checked >= 20


def test_the_integer_program_finds_a_plan_and_proves_none() -> None:
    assert milp_split(*_line([150, 100, 140, 110]), 2, low=240, high=360).labels.tolist() == [0, 0, 1, 1]
    proof = milp_split(*_line([200, 300, 200]), 2, low=240, high=360)
    assert proof.labels is None and proof.proven


def test_without_an_all_in_band_plan_only_one_grid_is_left_out() -> None:
    # 150 100 140 110 200: every plan has a grid out of band; the best leaves one out, 30 over the band
    area = _line([150, 100, 140, 110, 200])
    assert has_in_band_plan(*area, low=240, high=360) is False
    labels = one_out_plan(*area, low=240, high=360, target=300)
    assert labels is not None and sorted(np.bincount(labels, weights=area[1]).tolist()) == [310, 390]


def test_a_large_compound_set_apart_is_joined_again_when_its_pieces_cannot_fill_grids() -> None:
    # atoms 0-3 (283 53 312 55) are a 小区 set apart: alone no two grids of it are in band; with its
    # neighbours 4-5 (250 250) the area makes four in-band grids
    neighbours, h, xy = _line([283, 53, 312, 55, 250, 250])
    rows = [a for a, row in enumerate(neighbours) for b in row]
    cols = [b for row in neighbours for b in row]
    loose = csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(6, 6))
    apart = loose.tolil()
    apart[3, 4] = apart[4, 3] = 0
    labels = solve_atoms(xy, h, apart.tocsr(), loose)
    sums = np.bincount(labels, weights=h)
    assert ((sums >= 240) & (sums <= 360)).all()


def _lumpy_block(seed: int, width: int = 14, height: int = 10) -> tuple[np.ndarray, np.ndarray, csr_matrix]:
    rng = np.random.default_rng(seed)
    n = width * height
    pairs = [
        (y * width + x, yy * width + xx)
        for y in range(height)
        for x in range(width)
        for xx, yy in ((x + 1, y), (x, y + 1))
        if xx < width and yy < height
    ]
    rows, cols = [a for a, b in pairs] + [b for a, b in pairs], [b for a, b in pairs] + [a for a, b in pairs]
    adj = csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))
    xy = np.array([(x * 40.0, y * 40.0) for y in range(height) for x in range(width)])
    h = rng.choice([5, 10, 20, 110, 170], n, p=[0.15, 0.15, 0.1, 0.35, 0.25]).astype(np.int64)
    return xy, h, adj


def test_a_large_lumpy_block_straight_cuts_leave_out_of_band_is_re_planned_in_band() -> None:
    # 140 atoms, too many to search whole: bisection leaves two grids out, re-planning them with the
    # grids around them (exhaustively, a few atoms at a time) puts every grid in band
    xy, h, adj = _lumpy_block(15)
    labels = Partitioner().solve(xy, h, adj).labels_
    sums = np.bincount(labels, weights=h)
    assert ((sums >= 240) & (sums <= 360)).all()
    for g in np.unique(labels):
        assert connected_components(subgraph(adj, np.flatnonzero(labels == g)), directed=False)[0] == 1
