"""The peers gridmap is compared with, each given the graph gridmap's solver gets: the same atoms.

Atoms are whole 小区 that fit one grid (contracted) and the other buildings, linked as gridmap links them
(``Prepared.atom_adjacency``, large 小区 set apart where gridmap sets them apart), weighted by households.
Every peer runs per connected component of that graph (components are separated by barriers; none of the
peers may join them), with the grid count gridmap would choose; its atom labels are spread back to the
buildings.
"""

from __future__ import annotations

import signal
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial

import networkx as nx
import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

from gridmap.partition.pipeline import Prepared
from gridmap.partition.solver import choose_k
from gridmap.settings import PartitionSettings

MAXP_SECONDS = 60  # per component; MaxP can search for minutes on components below its floor
GERRY_ATTEMPTS = 1000  # per bisection; its default of 100,000 spends minutes on components no cut balances
Labeller = Callable[[Prepared, PartitionSettings], np.ndarray]


def _components(adj: csr_matrix) -> list[np.ndarray]:
    _, comp = connected_components(adj, directed=False)
    return [np.flatnonzero(comp == c) for c in range(comp.max() + 1)]


def _per_component(
    prep: Prepared,
    params: PartitionSettings,
    solve_one: Callable[[np.ndarray, csr_matrix, np.ndarray, int], np.ndarray],
) -> np.ndarray:
    adj = prep.atom_adjacency.tocsr()
    h = np.asarray(prep.atom_households, dtype=np.int64)
    labels = np.zeros(len(h), dtype=np.int64)
    next_label = 0
    for members in _components(adj):
        k = min(choose_k(int(h[members].sum()), params.target, params.min, params.max), len(members))
        if k <= 1 or len(members) <= 1:
            local = np.zeros(len(members), dtype=np.int64)
        else:
            local = solve_one(members, adj[members][:, members].tocsr(), h[members], k)
        _, local = np.unique(local, return_inverse=True)
        labels[members] = local + next_label
        next_label += int(local.max()) + 1
    return labels[prep.atom_of]


class TimedOut(Exception):
    """A peer ran past its time limit on one component."""


TIMEOUTS: list[str] = []


@contextmanager
def time_limit(seconds: int) -> Iterator[None]:
    """Raise :class:`TimedOut` after ``seconds`` (SIGALRM; main thread only)."""

    def fire(signum: int, frame: object) -> None:
        raise TimedOut

    previous = signal.signal(signal.SIGALRM, fire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def maxp(prep: Prepared, params: PartitionSettings) -> np.ndarray:
    """spopt MaxPHeuristic with floor = min households (it has no ceiling)."""
    import geopandas as gpd
    from libpysal.weights import WSP
    from spopt.region import MaxPHeuristic

    xy = np.asarray(prep.atom_xy, dtype=float)

    def one(members: np.ndarray, adj: csr_matrix, h: np.ndarray, k: int) -> np.ndarray:
        try:
            return solve(members, adj, h)
        except TimedOut:
            # Counted in the table; the component is left as one region, as MaxP gave nothing.
            TIMEOUTS.append(f"MaxP: {len(members)} atoms, {int(h.sum())} households")
            return np.zeros(len(members), dtype=np.int64)

    def solve(members: np.ndarray, adj: csr_matrix, h: np.ndarray) -> np.ndarray:
        frame = gpd.GeoDataFrame(
            {"households": h, "x": xy[members, 0], "y": xy[members, 1]},
            geometry=gpd.points_from_xy(xy[members, 0], xy[members, 1]),
        )
        w = WSP(adj).to_W(silence_warnings=True)
        with warnings.catch_warnings(), time_limit(MAXP_SECONDS):
            warnings.simplefilter("ignore")
            model = MaxPHeuristic(
                frame, w, ["x", "y"], "households", params.min, top_n=2, max_iterations_construction=99
            )
            model.solve()
        labels = np.asarray(model.labels_)
        # MaxP leaves units it could not place at label 0 / -1: they form one leftover region.
        return labels

    return _per_component(prep, params, one)


def gerrychain_tree(prep: Prepared, params: PartitionSettings) -> np.ndarray:
    """GerryChain recursive_tree_part, widening epsilon until it finds a plan."""
    from gerrychain import Graph
    from gerrychain.tree import bipartition_tree, recursive_tree_part

    def one(members: np.ndarray, adj: csr_matrix, h: np.ndarray, k: int) -> np.ndarray:
        nxgraph = nx.from_scipy_sparse_array(adj)
        for node in nxgraph.nodes:
            nxgraph.nodes[node]["households"] = int(h[node])
        graph = Graph.from_networkx(nxgraph)
        target = float(h.sum()) / k
        for epsilon in (0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 2.0):
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    plan = recursive_tree_part(
                        graph,
                        range(k),
                        target,
                        "households",
                        epsilon,
                        method=partial(bipartition_tree, max_attempts=GERRY_ATTEMPTS),
                    )
            except Exception:  # GerryChain raises several types when no balanced cut exists
                continue
            return np.array([plan[n] for n in range(len(members))])
        return np.zeros(len(members), dtype=np.int64)

    return _per_component(prep, params, one)


def metis(prep: Prepared, params: PartitionSettings) -> np.ndarray:
    """pymetis k-way partitioning with contiguity on, weighted by households."""
    import pymetis

    def one(members: np.ndarray, adj: csr_matrix, h: np.ndarray, k: int) -> np.ndarray:
        opts = pymetis.Options(contig=True)
        _, parts = pymetis.part_graph(
            k, xadj=adj.indptr, adjncy=adj.indices, vweights=np.maximum(h, 1).tolist(), options=opts
        )
        return np.asarray(parts)

    return _per_component(prep, params, one)


def timed(fn: Labeller, prep: Prepared, params: PartitionSettings) -> tuple[np.ndarray, float, float]:
    """Labels, the seconds they took and the CPU seconds (process time) they took."""
    started, cpu = time.perf_counter(), time.process_time()
    labels = fn(prep, params)
    return labels, time.perf_counter() - started, time.process_time() - cpu
