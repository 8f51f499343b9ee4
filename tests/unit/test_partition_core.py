import numpy as np
import pytest
from scipy.sparse import coo_matrix

from gridmap.partition.codes import assign_codes
from gridmap.partition.solver import Partitioner, choose_k


def _lattice(rows: int, cols: int) -> tuple[np.ndarray, coo_matrix]:
    xy = np.array([(c * 10.0, r * 10.0) for r in range(rows) for c in range(cols)])
    edges = []
    for r in range(rows):
        for c in range(cols):
            i = r * cols + c
            if c + 1 < cols:
                edges.append((i, i + 1))
            if r + 1 < rows:
                edges.append((i, i + cols))
    e = np.array(edges)
    n = rows * cols
    adj = coo_matrix((np.ones(2 * len(e)), (np.r_[e[:, 0], e[:, 1]], np.r_[e[:, 1], e[:, 0]])), shape=(n, n))
    return xy, adj


def test_choose_k_prefers_in_band_average_closest_to_target() -> None:
    assert choose_k(300, 300, 240, 360) == 1
    assert choose_k(600, 300, 240, 360) == 2
    assert choose_k(1000, 300, 240, 360) == 3  # 333 per grid, in band
    assert choose_k(380, 300, 240, 360) == 1  # no k puts 380 in band: the nearest count


def test_two_by_four_lattice_splits_into_two_halves() -> None:
    xy, adj = _lattice(2, 4)
    labels = Partitioner(target=4, low=4, high=4).solve(xy, np.ones(8, dtype=np.int64), adj.tocsr()).labels_
    # Equal halves of a 2×4 block: the west and the east squares.
    assert labels.tolist() == [0, 0, 1, 1, 0, 0, 1, 1] or labels.tolist() == [1, 1, 0, 0, 1, 1, 0, 0]


def test_lattice_grids_are_in_band_and_connected() -> None:
    from scipy.sparse.csgraph import connected_components

    xy, adj = _lattice(12, 12)
    households = np.full(144, 25, dtype=np.int64)  # 3,600 households -> 12 grids of 300
    labels = Partitioner().solve(xy, households, adj.tocsr()).labels_
    sizes = np.bincount(labels, weights=households)
    assert len(sizes) == 12
    assert ((sizes >= 240) & (sizes <= 360)).all()
    csr = adj.tocsr()
    for g in range(12):
        members = np.flatnonzero(labels == g)
        assert connected_components(csr[members][:, members], directed=False)[0] == 1


def test_disconnected_components_never_share_a_grid() -> None:
    xy, adj = _lattice(2, 4)
    csr = adj.tolil()
    for i, j in [(1, 2), (5, 6)]:  # cut the block in two with a "main road"
        csr[i, j] = csr[j, i] = 0
    labels = Partitioner(target=4, low=2, high=6).solve(xy, np.ones(8, dtype=np.int64), csr.tocsr()).labels_
    west, east = set(labels[[0, 1, 4, 5]]), set(labels[[2, 3, 6, 7]])
    assert not west & east


def test_locked_atoms_keep_their_labels() -> None:
    xy, adj = _lattice(4, 4)
    locked = {0: 0, 1: 0, 4: 0, 5: 0}
    labels = (
        Partitioner(target=4, low=4, high=4, locked=locked).solve(xy, np.ones(16, dtype=np.int64), adj.tocsr()).labels_
    )
    assert (labels[[0, 1, 4, 5]] == 0).all()
    assert (labels[[2, 3, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]] != 0).all()


def test_same_seed_same_labels() -> None:
    xy, adj = _lattice(10, 10)
    h = np.random.default_rng(1).integers(10, 60, 100)
    a = Partitioner(seed=3).solve(xy, h, adj.tocsr()).labels_
    b = Partitioner(seed=3).solve(xy, h, adj.tocsr()).labels_
    assert (a == b).all()


def test_codes_run_west_to_east_then_north_to_south() -> None:
    # Four grids in two rows: NW, NE, SW, SE given in scrambled order.
    x = [100.0, 0.0, 100.0, 0.0]
    y = [0.0, 100.0, 100.0, 0.0]
    codes = assign_codes(["320102003001"] * 4, x, y, row_height=50)
    assert codes == ["320102003001004", "320102003001001", "320102003001002", "320102003001003"]


def test_bad_prefix_is_refused() -> None:
    from gridmap.errors import InvalidInput

    with pytest.raises(InvalidInput, match="12 digits"):
        assign_codes(["3201"], [0.0], [0.0], 10)
