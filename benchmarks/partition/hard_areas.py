"""Many small hard areas: the exhaustive search's cost on an input of ~2,000 atoms with twenty of them.

Each hard area is a 4×8 lattice of lumpy atoms (mostly whole 小区 or large buildings: 20, 110, 170 or 230
households) cut off by barriers, the kind straight cuts cannot split into in-band grids; the rest of the
input is easy blocks of small buildings. Timed: the solver on the whole input, then the question the
metrics ask of every area with a grid out of band (has it an all-in-band plan?).

Run: ``python -m benchmarks.partition.hard_areas``.
"""

from __future__ import annotations

import time

import numpy as np
from scipy.sparse import csr_matrix

from gridmap.partition import exact
from gridmap.partition.solver import Partitioner, neighbour_lists

HARD_SEEDS = [4, 5, 9, 10, 12, 16, 21, 22, 23, 27, 29, 31, 32, 39, 44, 47, 51, 55, 58, 61]


def lattice(width: int, height: int, households: np.ndarray, origin: tuple[float, float]) -> tuple:
    n = width * height
    edges = [
        (y * width + x, yy * width + xx)
        for y in range(height)
        for x in range(width)
        for xx, yy in ((x + 1, y), (x, y + 1))
        if xx < width and yy < height
    ]
    xy = np.array([(origin[0] + x * 40.0, origin[1] + y * 40.0) for y in range(height) for x in range(width)])
    return n, edges, xy, households


def build() -> tuple[np.ndarray, np.ndarray, csr_matrix, list[np.ndarray]]:
    parts = []
    for i, seed in enumerate(HARD_SEEDS):
        rng = np.random.default_rng(seed)
        h = rng.choice([20, 110, 170, 230], 32, p=[0.4, 0.2, 0.2, 0.2]).astype(np.int64)
        parts.append(lattice(4, 8, h, (i * 1000.0, 0.0)))
    rng = np.random.default_rng(0)
    for i in range(12):  # easy blocks: 12 × 12 small buildings
        parts.append(lattice(12, 12, rng.integers(5, 30, 144).astype(np.int64), (i * 1000.0, 2000.0)))
    xy, h, rows, cols, areas, start = [], [], [], [], [], 0
    for n, edges, pxy, ph in parts:
        xy.append(pxy)
        h.append(ph)
        for a, b in edges:
            rows += [start + a, start + b]
            cols += [start + b, start + a]
        areas.append(np.arange(start, start + n))
        start += n
    adj = csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(start, start))
    return np.concatenate(xy), np.concatenate(h), adj, areas[: len(HARD_SEEDS)]


def main() -> None:
    xy, h, adj, hard = build()
    exact.clear_cache()
    started = time.perf_counter()
    labels = Partitioner().solve(xy, h, adj).labels_
    solved = time.perf_counter() - started
    sums = np.bincount(labels, weights=h)
    answers = []
    for atoms in hard:
        if ((sums[np.unique(labels[atoms])] < 240) | (sums[np.unique(labels[atoms])] > 360)).any():
            answers.append(has_plan(atoms, xy, h, adj))
    whole = time.perf_counter() - started
    out = int(((sums < 240) | (sums > 360)).sum())
    print(
        f"{len(h)} atoms, {len(hard)} hard areas: solver {solved:.2f} s, with the metrics' question {whole:.2f} s; "
        f"grids out of band {out}; areas asked {len(answers)}: proven without plan {answers.count(False)}, "
        f"with plan {answers.count(True)}, unknown {answers.count(None)}"
    )


def has_plan(atoms: np.ndarray, xy: np.ndarray, h: np.ndarray, adj: csr_matrix) -> bool | None:
    return exact.has_in_band_plan(neighbour_lists(adj, atoms), h[atoms], xy[atoms], low=240, high=360)


if __name__ == "__main__":
    main()
