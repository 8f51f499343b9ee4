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
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray


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
    ) -> None:
        self._nb = [sum(1 << j for j in row) for row in neighbours]
        self._h = [int(x) for x in households]
        self._xy, self._w = np.asarray(xy, float), np.asarray(households, float)
        self.low, self.high, self.budget, self.keep = low, high, budget, keep
        self._steps = 0
        self._found: list[tuple[float, list[int]]] = []

    def solve(self, k: int) -> ExactResult:
        """Search the plans with ``k`` grids; labels 0..k-1 in the order the groups were found."""
        self._steps, self._found = 0, []
        everything = (1 << len(self._h)) - 1
        if self._counts_fit(everything, k):
            self._recurse(everything, k, [])
        finished = self._steps <= self.budget and len(self._found) < self.keep
        if not self._found:
            return ExactResult(None, proven=finished)
        _, groups = min(self._found, key=lambda f: f[0])
        labels = np.empty(len(self._h), dtype=np.int64)
        for label, group in enumerate(groups):
            labels[list(_bits(group))] = label
        return ExactResult(labels, proven=finished)

    def _out_of_time(self) -> bool:
        return self._steps > self.budget or len(self._found) >= self.keep

    def _households(self, mask: int) -> int:
        return sum(self._h[i] for i in _bits(mask))

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
        fewest = most = 0
        for piece in self._pieces(mask):
            total = self._households(piece)
            lo, hi = math.ceil(total / self.high), total // self.low
            if lo > hi:
                return False
            fewest, most = fewest + lo, most + hi
        return fewest <= k <= most

    def _recurse(self, rest: int, k: int, groups: list[int]) -> None:
        if k == 1:
            self._steps += 1
            if len(self._pieces(rest)) == 1 and self.low <= self._households(rest) <= self.high:
                plan = [*groups, rest]
                self._found.append((self._spread(plan), plan))
            return
        for group in self._groups_from(rest):
            remaining = rest & ~group
            if self._counts_fit(remaining, k - 1):
                self._recurse(remaining, k - 1, [*groups, group])
            if self._out_of_time():
                return

    def _groups_from(self, rest: int) -> Iterator[int]:
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
                yield group
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

    ``proven``: no count has such a plan, and every search ran to its end.
    """
    total = int(np.sum(households))
    search = ExactSplit(neighbours, households, xy, low=low, high=high, keep=keep)
    proven = True
    for k in sorted(range(math.ceil(total / high), total // low + 1), key=lambda k: abs(total / k - target)):
        found = search.solve(k)
        if found.labels is not None:
            return found
        proven = proven and found.proven
    return ExactResult(None, proven=proven)


def has_in_band_plan(
    neighbours: list[list[int]], households: NDArray[np.int64], xy: NDArray[np.float64], *, low: int, high: int
) -> bool | None:
    """Whether the atoms can form grids all in ``[low, high]``: True, False (proven), or None (search cut short)."""
    found = best_plan(neighbours, households, xy, low=low, high=high, target=(low + high) / 2, keep=1)
    if found.labels is not None:
        return True
    return False if found.proven else None
