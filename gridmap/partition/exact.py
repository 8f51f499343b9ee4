"""Exhaustive search for small areas: every grid in band, or a proof that no such plan exists.

Recursive bisection with straight cuts is fast, but on a small barrier-bounded area with lumpy atoms (a few
whole 小区 and large buildings) it can miss the one combination that puts every grid in band. Such areas have
few atoms, so all their partitions into ``k`` connected groups can be enumerated: take the first free atom,
grow every connected group around it whose households are in band, and recurse on the rest while the rest can
still be split (each of its connected pieces holds a number of households some count of grids fits).

Atoms are bits of a Python ``int``; a search stops after ``budget`` steps. When it runs to the end without a
plan, it has proven that none exists for that grid count.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import coo_matrix


def _bits(mask: int) -> Iterator[int]:
    while mask:
        low = mask & -mask
        yield low.bit_length() - 1
        mask ^= low


@dataclass
class ExactResult:
    """The most compact all-in-band plan found (``labels`` per atom), or None; ``proven`` when the search ended."""

    labels: NDArray[np.int64] | None
    proven: bool


class ExactSplit:
    """All partitions of a few atoms into ``k`` connected groups of ``[low, high]`` households.

    ``neighbours[i]`` lists the atoms adjacent to atom ``i``; ``xy`` are metric positions, used to prefer
    compact groups (least household-weighted spread around each group's centre).
    """

    def __init__(
        self,
        neighbours: list[list[int]],
        households: NDArray[np.int64],
        xy: NDArray[np.float64],
        *,
        low: int,
        high: int,
        budget: int = 50_000,
        keep: int = 200,
        spare: bool = False,
    ) -> None:
        self._nb = [sum(1 << j for j in row) for row in neighbours]
        self._h = [int(x) for x in households]
        self._xy, self._w = np.asarray(xy, float), np.asarray(households, float)
        self.low, self.high, self.budget, self.keep = low, high, budget, keep
        self.spare = spare  # the last group found may hold any number of households (one grid out of band)
        self._steps = 0
        self._found: list[tuple[float, list[int]]] = []
        self._dead: set[tuple[int, int]] = set()  # (atoms left, grids): searched to the end without a plan
        self._fit: dict[tuple[int, int], bool] = {}
        self._sums: dict[int, int] = {}

    def solve(self, k: int) -> ExactResult:
        """Search the plans with ``k`` grids; labels 0..k-1 in the order the groups were found.

        The step budget is shared by all calls of one search (one area), and so are its dead ends.
        """
        self._found = []
        everything = (1 << len(self._h)) - 1
        if self._fits(everything, k):
            self._recurse(everything, k, [])
        finished = self._steps <= self.budget and len(self._found) < self.keep
        if not self._found:
            return ExactResult(None, proven=finished)
        _, groups = min(self._found, key=lambda f: f[0])
        labels = np.empty(len(self._h), dtype=np.int64)
        for label, group in enumerate(groups):
            labels[list(_bits(group))] = label
        return ExactResult(labels, proven=finished)

    @property
    def steps(self) -> int:
        """Steps taken so far (all calls)."""
        return self._steps

    def _out_of_time(self) -> bool:
        return self._steps > self.budget or len(self._found) >= self.keep

    def _households(self, mask: int) -> int:
        known = self._sums.get(mask)
        if known is None:
            known = self._sums[mask] = sum(self._h[i] for i in _bits(mask))
        return known

    def _pieces(self, mask: int) -> list[int]:
        """The connected pieces of ``mask``."""
        pieces = []
        while mask:
            piece = frontier = mask & -mask
            while frontier:
                v = (frontier & -frontier).bit_length() - 1
                frontier &= frontier - 1
                new = self._nb[v] & mask & ~piece
                piece |= new
                frontier |= new
            pieces.append(piece)
            mask &= ~piece
        return pieces

    def _counts_fit(self, mask: int, k: int) -> bool:
        """Whether ``mask``'s pieces could become ``k`` in-band grids together (by households alone)."""
        known = self._fit.get((mask, k))
        if known is None:
            known = self._fit[(mask, k)] = self._count_check(mask, k)
        return known

    def _count_check(self, mask: int, k: int) -> bool:
        fewest = most = 0
        for piece in self._pieces(mask):
            total = self._households(piece)
            lo, hi = math.ceil(total / self.high), total // self.low
            if lo > hi:
                return False
            fewest, most = fewest + lo, most + hi
        return fewest <= k <= most

    def _fits(self, mask: int, k: int) -> bool:
        return self._spare_fits(mask, k) if self.spare else self._counts_fit(mask, k)

    def _spare_fits(self, mask: int, k: int) -> bool:
        """Like :meth:`_counts_fit`, with one piece free to hold the out-of-band grid besides in-band ones."""
        ranges = []
        for piece in self._pieces(mask):
            total = self._households(piece)
            ranges.append((math.ceil(total / self.high), total // self.low, total))
        invalid = [p for p, (lo, hi, _) in enumerate(ranges) if lo > hi]
        if len(invalid) > 1:
            return False
        fewest, most = sum(r[0] for r in ranges), sum(r[1] for r in ranges)
        for p in invalid or range(len(ranges)):  # the piece holding the free grid
            lo, hi, total = ranges[p]
            if fewest - lo + 1 <= k <= most - hi + total // self.low + 1:
                return True
        return False

    def _recurse(self, rest: int, k: int, groups: list[int]) -> None:
        if (rest, k) in self._dead:
            return
        before = len(self._found)
        self._recurse_groups(rest, k, groups)
        if len(self._found) == before and not self._out_of_time():
            self._dead.add((rest, k))  # the same atoms are left by other first groups: do not search them again

    def _recurse_groups(self, rest: int, k: int, groups: list[int]) -> None:
        if k == 1:
            self._steps += 1
            size = self._households(rest)
            miss = max(self.low - size, size - self.high, 0)
            if len(self._pieces(rest)) == 1 and (miss == 0 or self.spare):
                plan = [*groups, rest]
                self._found.append((miss * 1e15 + self._spread(plan), plan))
            return
        left = self._households(rest)
        low, high = (k - 1) * self.low, (k - 1) * self.high
        for group, total in self._groups_from(rest):
            remaining = rest & ~group
            if self.spare:  # households alone: the pieces are checked only at the end (a cheaper, wider search)
                fair = left - total >= low - self.low
            else:
                fair = low <= left - total <= high and self._counts_fit(remaining, k - 1)
            if fair:
                self._recurse(remaining, k - 1, [*groups, group])
            if self._out_of_time():
                return

    def _groups_from(self, rest: int) -> Iterator[tuple[int, int]]:
        """Connected groups of ``rest`` holding its first atom, with households in band (each exactly once)."""
        seed = rest & -rest
        first = seed.bit_length() - 1
        stack = [(seed, self._h[first], self._nb[first] & rest & ~seed, 0)]
        while stack:
            group, total, grow, banned = stack.pop()
            self._steps += 1
            if self._out_of_time():
                return
            if total >= self.low:
                yield group, total
            grow &= ~banned
            if not grow:
                continue
            v = (grow & -grow).bit_length() - 1
            bit = 1 << v
            stack.append((group, total, grow & ~bit, banned | bit))  # groups without v
            if total + self._h[v] <= self.high:  # groups with v
                stack.append((group | bit, total + self._h[v], (grow | self._nb[v]) & rest & ~(group | bit), banned))

    def _spread(self, groups: list[int]) -> float:
        total = 0.0
        for group in groups:
            idx = list(_bits(group))
            xy, w = self._xy[idx], self._w[idx]
            centre = (xy * w[:, None]).sum(axis=0) / max(w.sum(), 1.0)
            total += float((((xy - centre) ** 2).sum(axis=1) * w).sum())
        return total


SECONDS = [0.0]  # time spent in exhaustive searches and integer programs (for the benchmarks)
MILP_SECONDS = 0.3  # per grid count: HiGHS gives up after this and the count stays unproven
MILP_GRIDS = 3  # the flow program is weak for more grids: a search cut short there stays unproven
Key = tuple[tuple[tuple[int, ...], ...], tuple[int, ...], int, int]
_STATUS: dict[Key, bool] = {}  # area -> whether it has an all-in-band plan (absent: unknown)
_PLANS: dict[tuple[Key, float, int, bytes], ExactResult] = {}
_CACHE_SIZE = 4096


def clear_cache() -> None:
    """Forget the areas searched before."""
    _STATUS.clear()
    _PLANS.clear()


def _key(neighbours: list[list[int]], households: NDArray[np.int64], low: int, high: int) -> Key:
    return tuple(tuple(sorted(row)) for row in neighbours), tuple(int(x) for x in households), low, high


def _remember(store: dict[Any, Any], key: Any, value: Any) -> None:
    if len(store) >= _CACHE_SIZE:
        store.clear()
    store[key] = value


def milp_split(
    neighbours: list[list[int]],
    households: NDArray[np.int64],
    xy: NDArray[np.float64],
    k: int,
    *,
    low: int,
    high: int,
    seconds: float = MILP_SECONDS,
) -> ExactResult:
    """A plan of ``k`` connected grids of ``[low, high]`` households as an integer program (HiGHS), or a proof.

    Variables: ``x[i, j]`` atom ``i`` in grid ``j``; ``r[i, j]`` atom ``i`` is grid ``j``'s root (its first
    atom, so grids are numbered by their first atoms and no plan is searched twice); a flow ``f[a, j]`` on
    each directed link, sent from the root, of which every other atom of the grid keeps one unit: a grid
    whose atoms all receive flow through its own atoms is connected. The objective, flow times link length,
    keeps grids compact around their roots. ``proven``: HiGHS ran to its end.
    """
    n = len(households)
    h = np.asarray(households, dtype=float)
    arcs = [(u, v) for u, row in enumerate(neighbours) for v in row if u != v]
    m = len(arcs)
    nx, nv = n * k, 2 * n * k + m * k

    def x(i: int, j: int) -> int:
        return i * k + j

    def r(i: int, j: int) -> int:
        return nx + i * k + j

    def f(a: int, j: int) -> int:
        return 2 * nx + a * k + j

    rows: list[int] = []
    cols: list[int] = []
    vals: list[float] = []
    lower: list[float] = []
    upper: list[float] = []

    def add(entries: list[tuple[int, float]], lo: float, hi: float) -> None:
        row = len(lower)
        for col, val in entries:
            rows.append(row)
            cols.append(col)
            vals.append(val)
        lower.append(lo)
        upper.append(hi)

    big = float(max(n - 1, 1))
    into: list[list[int]] = [[] for _ in range(n)]
    out: list[list[int]] = [[] for _ in range(n)]
    for a, (u, v) in enumerate(arcs):
        out[u].append(a)
        into[v].append(a)
    for i in range(n):
        add([(x(i, j), 1.0) for j in range(k)], 1, 1)
    for j in range(k):
        add([(x(i, j), h[i]) for i in range(n)], low, high)
        add([(r(i, j), 1.0) for i in range(n)], 1, 1)
        for i in range(n):
            add([(r(i, j), 1.0), (x(i, j), -1.0)], -np.inf, 0)
            # the root is the grid's first atom: r >= x[i] - sum of x[i'] before i
            add([(r(i, j), 1.0), (x(i, j), -1.0), *((x(p, j), 1.0) for p in range(i))], 0, np.inf)
            flow = [(f(a, j), 1.0) for a in into[i]] + [(f(a, j), -1.0) for a in out[i]]
            add([*flow, (x(i, j), -1.0), (r(i, j), big + 1)], 0, np.inf)
        for a, (u, v) in enumerate(arcs):
            add([(f(a, j), 1.0), (x(u, j), -big)], -np.inf, 0)
            add([(f(a, j), 1.0), (x(v, j), -big)], -np.inf, 0)
    bounds_hi = np.ones(nv)
    bounds_hi[2 * nx :] = big
    for i in range(n):
        for j in range(i + 1, k):
            bounds_hi[x(i, j)] = bounds_hi[r(i, j)] = 0  # atom i can only be in one of the first i + 1 grids
    cost = np.zeros(nv)
    pts = np.asarray(xy, dtype=float)
    for a, (u, v) in enumerate(arcs):
        cost[[f(a, j) for j in range(k)]] = float(np.hypot(*(pts[u] - pts[v]))) + 1.0
    integrality = np.zeros(nv)
    integrality[: 2 * nx] = 1
    matrix = coo_matrix((vals, (rows, cols)), shape=(len(lower), nv)).tocsr()
    res = milp(
        cost,
        constraints=LinearConstraint(matrix, lower, upper),
        integrality=integrality,
        bounds=Bounds(np.zeros(nv), bounds_hi),
        options={"time_limit": seconds, "mip_rel_gap": 0.05},
    )
    if res.x is None:
        return ExactResult(None, proven=res.status == 2)  # 2: infeasible
    assign = np.asarray(res.x[:nx]).reshape(n, k)
    return ExactResult(np.argmax(assign, axis=1).astype(np.int64), proven=res.status == 0)


def best_plan(
    neighbours: list[list[int]],
    households: NDArray[np.int64],
    xy: NDArray[np.float64],
    *,
    low: int,
    high: int,
    target: float,
    keep: int = 200,
) -> ExactResult:
    """The most compact all-in-band plan of the first grid count that has one, counts nearest ``target`` first.

    Each count is searched exhaustively; a count whose search is cut short is handed to the integer program
    (:func:`milp_split`). ``proven``: no count has such a plan, and every search ran to its end. Areas are
    remembered: the same area asked again (by the solver, then by the metrics) is answered at once.
    """
    started = time.perf_counter()
    key = _key(neighbours, households, low, high)
    plan_key = (key, float(target), keep, np.asarray(xy, dtype=float).tobytes())
    try:
        if plan_key in _PLANS:
            return _PLANS[plan_key]
        if _STATUS.get(key) is False:
            return ExactResult(None, proven=True)
        found = _best_plan(neighbours, households, xy, low=low, high=high, target=target, keep=keep)
        _remember(_PLANS, plan_key, found)
        if found.labels is not None or found.proven:
            _remember(_STATUS, key, found.labels is not None)
        return found
    finally:
        SECONDS[0] += time.perf_counter() - started


def _best_plan(
    neighbours: list[list[int]],
    households: NDArray[np.int64],
    xy: NDArray[np.float64],
    *,
    low: int,
    high: int,
    target: float,
    keep: int,
) -> ExactResult:
    total = int(np.sum(households))
    search = ExactSplit(neighbours, households, xy, low=low, high=high, keep=keep)
    proven = True
    for k in sorted(range(math.ceil(total / high), total // low + 1), key=lambda k: abs(total / k - target)):
        found = search.solve(k)
        if found.labels is None and not found.proven and k <= MILP_GRIDS:
            found = milp_split(neighbours, households, xy, k, low=low, high=high)
        if found.labels is not None:
            return found
        proven = proven and found.proven
    return ExactResult(None, proven=proven)


def one_out_plan(
    neighbours: list[list[int]],
    households: NDArray[np.int64],
    xy: NDArray[np.float64],
    *,
    low: int,
    high: int,
    target: float,
    budget: int = 8_000,
) -> NDArray[np.int64] | None:
    """For an area without an all-in-band plan: a plan with all grids but one in band, that one nearest the band.

    The grid allowed out is the last one a search builds (the group of the last free atom); the atoms are
    searched in a few orders (as given, reversed, by households up and down), so that group can lie in
    different places. This finds many such plans but does not prove there is none.
    """
    started = time.perf_counter()
    try:
        h = np.asarray(households, dtype=np.int64)
        total = int(h.sum())
        counts = sorted(range(1, total // low + 2), key=lambda k: abs(total / k - target))[:3]
        best: tuple[float, NDArray[np.int64]] | None = None
        orders = [
            np.arange(len(h)),
            np.arange(len(h))[::-1],
            np.argsort(h, kind="stable"),
            np.argsort(-h, kind="stable"),
        ]
        for order in orders:
            position = np.empty(len(h), dtype=np.int64)
            position[order] = np.arange(len(h))
            moved = [[int(position[j]) for j in neighbours[i]] for i in order]
            search = ExactSplit(
                moved, h[order], np.asarray(xy)[order], low=low, high=high, budget=budget // 4, keep=50, spare=True
            )
            for k in counts:
                search.solve(k)
                if not search._found:
                    continue
                score, groups = min(search._found, key=lambda f: f[0])
                if best is None or score < best[0] - 1e-9:
                    labels = np.empty(len(h), dtype=np.int64)
                    for label, group in enumerate(groups):
                        labels[order[list(_bits(group))]] = label
                    best = (score, labels)
        return None if best is None else np.unique(best[1], return_inverse=True)[1].astype(np.int64)
    finally:
        SECONDS[0] += time.perf_counter() - started


def has_in_band_plan(
    neighbours: list[list[int]], households: NDArray[np.int64], xy: NDArray[np.float64], *, low: int, high: int
) -> bool | None:
    """Whether the atoms can form grids all in ``[low, high]``: True, False (proven), or None (search cut short)."""
    known = _STATUS.get(_key(neighbours, households, low, high))
    if known is not None:
        return known
    found = best_plan(neighbours, households, xy, low=low, high=high, target=(low + high) / 2, keep=1)
    if found.labels is not None:
        return True
    return False if found.proven else None
