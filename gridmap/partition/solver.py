"""The partition solver: balanced, contiguous regions by recursive bisection.

Each connected component of the adjacency graph (a street block, a large
compound) is split into ``k`` grids, ``k`` chosen so that the average grid
falls in ``[min, max]`` and is closest to ``target``. A set meant to become
``k`` grids is cut in two — ``k // 2`` and ``k - k // 2`` grids — by a straight
line: atoms are sorted along several directions and the cut whose household
share is closest to the ideal, with both halves connected, wins. Straight cuts
keep grids compact, and because they depend on positions rather than on a
random walk, moving one building changes few assignments. A final pass moves
single boundary atoms between neighbouring grids to pull outliers into the band;
a small component still left with a grid out of band is searched exhaustively
(:mod:`gridmap.partition.exact`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
from numpy.typing import NDArray
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

from gridmap.partition.exact import ExactSplit, best_plan, one_out_plan

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]
ANGLES = np.deg2rad(np.arange(0.0, 180.0, 45.0))
EXACT_ATOMS = 120  # components up to this many atoms get an exhaustive search when bisection leaves a grid out of band
REPAIR_ATOMS = 60  # larger ones: an out-of-band grid and neighbours of at most this many atoms are searched
REPAIR_ROUNDS = 30  # larger components: grids out of band re-planned with their neighbours, at most this often
REPAIR_UNIONS = 8  # groups of grids tried per out-of-band grid
REPAIR_STEPS = 5_000  # search steps per group
REPAIR_BUDGET = 25_000  # search steps for all the groups of one component


def choose_k(households: int, target: int, low: int, high: int) -> int:
    """Number of grids for a component: in-band average if possible, closest to ``target``."""
    if households <= high:
        return 1
    lo, hi = math.ceil(households / high), math.floor(households / low)
    if lo <= hi:
        return min(range(lo, hi + 1), key=lambda k: (abs(households / k - target), k))
    return max(1, round(households / target))


def candidate_ks(households: int, target: int, low: int, high: int, most: int = 3) -> list[int]:
    """Grid counts worth trying for a component, best first (in-band averages closest to ``target``)."""
    first = choose_k(households, target, low, high)
    lo, hi = math.ceil(households / high), math.floor(households / low)
    others = sorted((k for k in range(max(1, lo), hi + 1) if k != first), key=lambda k: abs(households / k - target))
    return [first, *others][:most]


def _connected_prefixes(order: list[int], neighbours: list[list[int]]) -> NDArray[np.bool_]:
    """``out[p]``: whether the first ``p + 1`` atoms of ``order`` form one connected set (union-find).

    An atom joins as a fresh root and the trees of its already added neighbours are hung under
    it, so only the neighbours' roots are looked up (with path halving).
    """
    parent = list(range(len(neighbours)))
    added = [False] * len(neighbours)
    out = [False] * len(order)
    components = 0
    for p, u in enumerate(order):
        added[u] = True
        components += 1
        for v in neighbours[u]:
            if added[v]:
                while parent[v] != v:
                    parent[v] = parent[parent[v]]
                    v = parent[v]
                if v != u:
                    parent[v] = u
                    components -= 1
        out[p] = components == 1
    return np.array(out, dtype=bool)


def _halves_connected(order: list[int], pos: int, neighbours: list[list[int]]) -> bool:
    """Whether ``order[: pos + 1]`` and ``order[pos + 1 :]`` are each one connected set (two searches)."""
    side = bytearray(len(neighbours))
    for u in order[: pos + 1]:
        side[u] = 1
    for start, want, size in ((order[0], 1, pos + 1), (order[-1], 0, len(order) - pos - 1)):
        seen = {start}
        stack = [start]
        while stack:
            for v in neighbours[stack.pop()]:
                if side[v] == want and v not in seen:
                    seen.add(v)
                    stack.append(v)
        if len(seen) != size:
            return False
    return True


def _first_connected_cut(
    order: list[int], imbalance: FloatArray, neighbours: list[list[int]], tries: int = 6
) -> int | None:
    """The cut position of least ``imbalance`` (the first of equals) whose two sides are connected, or None.

    The best balanced positions are checked one by one (usually the first will do); after ``tries`` misses,
    one union-find pass each way marks every connected prefix and suffix at once.
    """
    ranked = np.argsort(imbalance, kind="stable")
    for pos in ranked[:tries].tolist():
        if _halves_connected(order, pos, neighbours):
            return int(pos)
    if len(ranked) <= tries:
        return None
    ok = _connected_prefixes(order, neighbours)[:-1] & _connected_prefixes(order[::-1], neighbours)[::-1][1:]
    return int(np.argmin(np.where(ok, imbalance, np.inf))) if ok.any() else None


def _sub_arrays(adj: csr_matrix, idx: IntArray) -> tuple[FloatArray, IntArray, IntArray]:
    """Data, column indices (local) and row pointers of ``adj[idx][:, idx]``."""
    adj = adj.tocsr()  # no copy when it already is
    local = np.full(adj.shape[0], -1, dtype=np.int64)
    local[idx] = np.arange(len(idx))
    starts = adj.indptr[idx].astype(np.int64)
    counts = adj.indptr[idx + 1] - starts
    offsets = np.repeat(starts - np.cumsum(counts) + counts, counts) + np.arange(int(counts.sum()))
    cols = local[adj.indices[offsets]]
    keep = cols >= 0
    rows = np.repeat(np.arange(len(idx)), counts)[keep]
    indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=len(idx)))])
    return adj.data[offsets][keep], cols[keep], indptr


def subgraph(adj: csr_matrix, idx: IntArray) -> csr_matrix:
    """``adj[idx][:, idx]`` for a CSR matrix, without scipy's general fancy indexing (slow on small graphs)."""
    return csr_matrix(_sub_arrays(adj, idx), shape=(len(idx), len(idx)))


def neighbour_lists(adj: csr_matrix, idx: IntArray) -> list[list[int]]:
    """For each atom of ``idx``, its neighbours within ``idx`` (local positions)."""
    _, cols, indptr = _sub_arrays(adj, idx)
    flat, bounds = cols.tolist(), indptr.tolist()
    return [flat[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def _connected(adj: csr_matrix, idx: IntArray) -> bool:
    if len(idx) <= 1:
        return True
    n, _ = connected_components(subgraph(adj, idx), directed=False)
    return bool(n == 1)


class Partitioner:
    """Split atoms (buildings or whole compounds) into contiguous grids of ``min``-``max`` households.

    Parameters
    ----------
    target, low, high
        Household target and the accepted band.
    seed
        Breaks ties between equally good cuts reproducibly.
    locked
        ``{atom index: label}`` for atoms in grids a planner locked; they keep their
        labels and the rest is partitioned around them.

    Examples
    --------
    >>> p = Partitioner(target=300, low=240, high=360)
    >>> p.solve(xy, households, adjacency).labels_  # doctest: +SKIP

    """

    def __init__(
        self,
        *,
        target: int = 300,
        low: int = 240,
        high: int = 360,
        seed: int = 0,
        locked: Mapping[int, int] | None = None,
    ) -> None:
        if not 0 < low <= target <= high:
            raise ValueError(f"need 0 < min <= target <= max, got {low}, {target}, {high}")
        self.target, self.low, self.high, self.seed = target, low, high, seed
        self.locked = dict(locked or {})
        self.labels_: IntArray = np.empty(0, dtype=np.int64)
        self._repair_left = REPAIR_BUDGET

    def solve(self, xy: FloatArray, households: IntArray, adjacency: csr_matrix) -> Partitioner:
        """Label every atom; ``xy`` are metric coordinates, ``adjacency`` a symmetric n×n matrix."""
        n = len(households)
        self._xy, self._h, self._adj = np.asarray(xy, float), np.asarray(households, np.int64), adjacency.tocsr()
        self._rng = np.random.default_rng(self.seed)
        full = (self._xy, self._h, self._adj)
        labels = np.full(n, -1, dtype=np.int64)
        next_label = 0
        if self.locked:
            for atom, label in self.locked.items():
                labels[atom] = label
            next_label = max(self.locked.values()) + 1
        free = np.flatnonzero(labels < 0)
        sub = subgraph(self._adj, free)
        _, comp = connected_components(sub, directed=False)
        # Components are solved in a spatial order so labels do not depend on input order.
        order = sorted(
            range(comp.max() + 1 if len(comp) else 0),
            key=lambda c: tuple(-self._xy[free[comp == c]].mean(axis=0)[::-1]),
        )
        frozen = frozenset(self.locked.values())
        for c in order:
            members = free[comp == c]
            local = self._solve_component(members)
            labels[members] = local + next_label
            next_label += int(local.max()) + 1
        if self.locked:
            # Grids next to locked ones may still move single atoms, never into a locked grid.
            self._xy, self._h, self._adj = full
            labels = self._refine(labels, frozen)
        self.labels_ = labels
        return self

    def _solve_component(self, members: IntArray) -> IntArray:
        """Local labels for one connected component, trying the best grid counts in turn."""
        full = (self._xy, self._h, self._adj)
        self._xy, self._h = full[0][members], full[1][members]
        self._adj = subgraph(full[2], members)
        try:
            total = int(self._h.sum())
            best: tuple[float, IntArray] | None = None
            for k in candidate_ks(total, self.target, self.low, self.high):
                local = np.empty(len(members), dtype=np.int64)
                for label, part in enumerate(self._split(np.arange(len(members)), k)):
                    local[part] = label
                local = self._refine(local, frozenset())
                sums = np.bincount(local, weights=self._h)
                score = float(sum(self._penalty(x) for x in sums))
                if best is None or score < best[0] - 1e-9:
                    best = (score, local)
                if ((sums >= self.low) & (sums <= self.high)).all():
                    return local
            assert best is not None
            if len(members) <= EXACT_ATOMS:  # a grid is out of band: is there a plan without?
                exact = self._exact()
                if exact is not None:
                    return exact
                fewer = self._one_out(best[1])
                if fewer is not None:
                    return fewer
                return best[1]
            return self._repair(best[1])
        finally:
            self._xy, self._h, self._adj = full

    def _exact(self) -> IntArray | None:
        """An all-in-band plan of the current component by exhaustive search, if one exists and is found."""
        neighbours = neighbour_lists(self._adj, np.arange(len(self._h)))
        return best_plan(neighbours, self._h, self._xy, low=self.low, high=self.high, target=self.target).labels

    def _repair(self, labels: IntArray) -> IntArray:
        """Re-plan each out-of-band grid of a large area together with neighbouring grids, exhaustively.

        The grid and one, two or all of its neighbours hold few enough atoms to search every split of them
        (:class:`ExactSplit`) into as many grids, or one more or fewer; a split with all of them in band
        replaces theirs. Each success takes one grid into the band, so this ends.
        """
        labels = labels.copy()
        tried: set[tuple[int, ...]] = set()
        self._repair_left = REPAIR_BUDGET
        for _ in range(REPAIR_ROUNDS):
            sums = np.bincount(labels, weights=self._h)
            used = np.bincount(labels) > 0  # a group of grids re-planned into fewer leaves a label unused
            bad = [
                int(g)
                for g in np.argsort(-np.abs(sums - self.target))
                if used[g] and not self.low <= sums[g] <= self.high
            ]
            if not bad or not any(self._repair_one(labels, g, tried) for g in bad):
                break
        result: IntArray = np.unique(labels, return_inverse=True)[1].astype(np.int64)
        return result

    def _repair_one(self, labels: IntArray, g: int, tried: set[tuple[int, ...]]) -> bool:
        near = self._neighbour_grids(labels, g, frozenset())
        sizes = np.bincount(labels, minlength=int(labels.max()) + 1)
        near.sort(key=lambda n: sizes[n])
        ring = sorted({m for n in near for m in self._neighbour_grids(labels, n, frozenset())} - {g, *near})
        pairs = [[g, a, b] for i, a in enumerate(near) for b in near[i + 1 :]]
        unions = [*([g, n] for n in near), *pairs[: REPAIR_UNIONS - len(near)], [g, *near], [g, *near, *ring]]
        for grids in unions:
            atoms = np.flatnonzero(np.isin(labels, grids))
            key = tuple(atoms.tolist())
            if len(atoms) > REPAIR_ATOMS or key in tried or self._repair_left <= 0:
                continue
            tried.add(key)
            h = self._h[atoms]
            total = int(h.sum())
            counts = [
                k
                for k in (len(grids), len(grids) + 1, len(grids) - 1)
                if k >= 1 and self.low * k <= total <= self.high * k
            ]
            search = ExactSplit(
                neighbour_lists(self._adj, atoms),
                h,
                self._xy[atoms],
                low=self.low,
                high=self.high,
                budget=min(REPAIR_STEPS, self._repair_left),
                keep=20,
            )
            for k in counts:
                found = search.solve(k)
                if found.labels is not None:
                    names = [*sorted(grids), *range(int(labels.max()) + 1, int(labels.max()) + 1 + k)]
                    labels[atoms] = np.asarray(names)[found.labels]
                    self._repair_left -= search.steps
                    return True
            self._repair_left -= search.steps
        return False

    def _one_out(self, labels: IntArray) -> IntArray | None:
        """A plan with one grid out of band, when ``labels`` have more (no plan has none: the search proved it)."""
        sums = np.bincount(labels, weights=self._h)
        if int(((sums < self.low) | (sums > self.high)).sum()) <= 1:
            return None
        neighbours = neighbour_lists(self._adj, np.arange(len(self._h)))
        return one_out_plan(neighbours, self._h, self._xy, low=self.low, high=self.high, target=self.target)

    def _split(self, idx: IntArray, k: int) -> list[IntArray]:
        if k <= 1 or len(idx) <= 1:
            return [idx]
        k1 = k // 2
        cut = self._best_cut(idx, k1 / k)
        if cut is None:
            return [idx]
        left, right = cut
        return self._split(left, k1) + self._split(right, k - k1)

    def _best_cut(self, idx: IntArray, share: float) -> tuple[IntArray, IntArray] | None:
        """The straight cut of ``idx`` closest to ``share`` of its households with both sides connected.

        For each direction the cut positions are tried from the best balanced on; the first whose
        two sides are both connected wins (see :func:`_first_connected_cut`).
        """
        h = self._h[idx]
        total = float(h.sum())
        goal = total * share
        neighbours = neighbour_lists(self._adj, idx)
        xy = self._xy[idx] - self._xy[idx].mean(axis=0)
        jitter = self._rng.random(len(idx)) * 1e-6
        extent = float(np.ptp(xy, axis=0).max()) + 1e-9
        best: tuple[float, IntArray, IntArray] | None = None
        for angle in ANGLES:
            proj = xy @ np.array([math.cos(angle), math.sin(angle)]) + jitter
            order = np.argsort(proj, kind="stable")
            cum = np.cumsum(h[order])[:-1]
            pos = _first_connected_cut(order.tolist(), np.abs(cum - goal) / total, neighbours)
            if pos is None:
                continue
            span = float(proj[order[-1]] - proj[order[0]])
            # A cut across the long axis makes compact halves: a small tie-breaking bonus.
            score = float(abs(cum[pos] - goal) / total) - 1e-3 * span / extent
            if best is None or score < best[0]:
                best = (score, idx[order[: pos + 1]], idx[order[pos + 1 :]])
        return None if best is None else (best[1], best[2])

    def _refine(self, labels: IntArray, frozen: frozenset[int], rounds: int = 200) -> IntArray:
        """Move single boundary atoms from out-of-band grids to neighbours, keeping both connected."""
        labels = labels.copy()
        adj = self._adj
        for _ in range(rounds):
            sums = np.bincount(labels, weights=self._h, minlength=labels.max() + 1).astype(np.float64)
            bad = [
                g
                for g in np.argsort(-np.abs(sums - self.target))
                if g not in frozen and not self.low <= sums[g] <= self.high
            ]
            moved = False
            for g in bad:
                moved = (
                    self._move_one(labels, int(g), sums, frozen, adj)
                    or self._merge_small(labels, int(g), sums, frozen)
                    or self._resplit_pair(labels, int(g), sums, frozen)
                )
                if moved:
                    break
            if not moved:
                return labels
        return labels

    def _neighbour_grids(self, labels: IntArray, g: int, frozen: frozenset[int]) -> list[int]:
        members = np.flatnonzero(labels == g)
        rows = np.concatenate([self._adj.indices[self._adj.indptr[a] : self._adj.indptr[a + 1]] for a in members])
        return sorted({int(x) for x in labels[rows]} - {g} - set(frozen))

    def _merge_small(self, labels: IntArray, g: int, sums: FloatArray, frozen: frozenset[int]) -> bool:
        """Fold an under-sized grid into the neighbour that stays in band and nearest the target."""
        if sums[g] >= self.low:
            return False
        options = [n for n in self._neighbour_grids(labels, g, frozen) if sums[n] + sums[g] <= self.high]
        if not options:
            return False
        n = min(options, key=lambda x: self._penalty(sums[x] + sums[g]))
        if self._penalty(sums[n] + sums[g]) >= self._penalty(sums[n]) + self._penalty(sums[g]):
            return False
        labels[labels == g] = n
        # Keep labels dense: the highest label takes the freed one.
        top = int(labels.max())
        if top > g:
            labels[labels == top] = g
        return True

    def _resplit_pair(self, labels: IntArray, g: int, sums: FloatArray, frozen: frozenset[int]) -> bool:
        """Merge an out-of-band grid with a neighbour and cut the pair again in two balanced halves."""
        neighbours = self._neighbour_grids(labels, g, frozen)
        best: tuple[float, IntArray, IntArray, int] | None = None
        for n in neighbours:
            before = self._penalty(sums[g]) + self._penalty(sums[n])
            pair = np.flatnonzero((labels == g) | (labels == n))
            cut = self._best_cut(pair, 0.5)
            if cut is None:
                continue
            left, right = cut
            after = self._penalty(float(self._h[left].sum())) + self._penalty(float(self._h[right].sum()))
            if after < before - 1e-9 and (best is None or after - before < best[0]):
                best = (after - before, left, right, n)
        if best is None:
            return False
        _, left, right, n = best
        labels[left], labels[right] = g, n
        return True

    def _move_one(self, labels: IntArray, g: int, sums: FloatArray, frozen: frozenset[int], adj: csr_matrix) -> bool:
        members = np.flatnonzero(labels == g)
        over = sums[g] > self.high
        candidates: list[tuple[float, int, int]] = []
        for a in members:
            neighbours = adj.indices[adj.indptr[a] : adj.indptr[a + 1]]
            for b in neighbours:
                other = int(labels[b])
                if other == g or other in frozen:
                    continue
                src, dst, atom = (g, other, int(a)) if over else (other, g, int(b))
                ha = self._h[atom]
                before = self._penalty(sums[src]) + self._penalty(sums[dst])
                after = self._penalty(sums[src] - ha) + self._penalty(sums[dst] + ha)
                if after < before - 1e-9:
                    candidates.append((after - before, atom, dst))
        for _, atom, dst in sorted(candidates):
            rest = np.flatnonzero(labels == labels[atom])
            rest = rest[rest != atom]
            if len(rest) and _connected(adj, rest):
                labels[atom] = dst
                return True
        return False

    def _penalty(self, size: float) -> float:
        if size < self.low:
            return 10.0 * (self.low - size) + abs(size - self.target)
        if size > self.high:
            return 10.0 * (size - self.high) + abs(size - self.target)
        return abs(size - self.target) * 0.01


def solve_atoms(
    xy: FloatArray,
    households: IntArray,
    adjacency: csr_matrix,
    loose: csr_matrix | None = None,
    *,
    target: int = 300,
    low: int = 240,
    high: int = 360,
    seed: int = 0,
    locked: Mapping[int, int] | None = None,
) -> IntArray:
    """Labels per atom; where a large 小区 set apart leaves a grid out of band, its area is solved unsplit.

    ``adjacency`` may cut a large 小区 off from its neighbours (it then gets grids of its own); ``loose`` are
    the links the rules allow (the same atoms, nothing cut off). Setting a 小区 apart is judged by households
    alone, so it can leave lumpy pieces (a few large buildings) that no plan fills; such an area is solved
    again as one, and the new plan is kept when fewer of its grids are out of band.
    """

    def partitioner(fixed: Mapping[int, int] | None = None) -> Partitioner:
        return Partitioner(target=target, low=low, high=high, seed=seed, locked=fixed)

    labels = partitioner(locked).solve(xy, households, adjacency).labels_
    if loose is None or locked:
        return labels
    h = np.asarray(households, dtype=np.int64)
    sums = np.bincount(labels, weights=h)
    out = (sums < low) | (sums > high)
    if not out.any():
        return labels
    _, part = connected_components(adjacency, directed=False)
    _, area = connected_components(loose, directed=False)
    for a in np.unique(area[out[labels]]).tolist():
        members = np.flatnonzero(area == a)
        if len(np.unique(part[members])) == 1:
            continue  # nothing was set apart here
        local = partitioner().solve(xy[members], h[members], subgraph(loose, members)).labels_
        new = np.bincount(local, weights=h[members])
        before = np.unique(labels[members])
        if int(((new < low) | (new > high)).sum()) < int(out[before].sum()):
            labels[members] = local + int(labels.max()) + 1
    result: IntArray = np.unique(labels, return_inverse=True)[1].astype(np.int64)
    return result
