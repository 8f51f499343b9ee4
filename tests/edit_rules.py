"""The planner's edits chosen by the rules that allow them, so a test knows its one outcome before it edits.

An edit (gridmap.partition.edits.apply_changes) is allowed when every grid it touches stays contiguous under the
partition adjacency, which already stops at main roads, railways, rivers and 社区 boundaries. The graph is built
the way an edit builds it, once per draft; the choices below follow from it, no edit is tried and rolled back.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from gridmap.partition.drafts import assignment
from gridmap.partition.pipeline import prepare
from gridmap.partition.service import load_plan_input
from gridmap.partition.solver import subgraph
from gridmap.settings import PartitionSettings


@dataclass(frozen=True)
class EditGraph:
    """A plan as the edit rules see it: buildings (ids), their grid codes and the partition adjacency."""

    buildings: list[int]
    grids: list[str]
    adjacency: csr_matrix

    def members(self, code: str) -> list[int]:
        return [i for i, c in enumerate(self.grids) if c == code]

    def contiguous(self, members: list[int]) -> bool:
        n, _ = connected_components(subgraph(self.adjacency, np.array(sorted(members))), directed=False)
        return bool(n == 1)

    def neighbours(self, members: list[int]) -> list[str]:
        """Grids a member touches in the adjacency: same 社区, no main road, railway or river between."""
        own = {self.grids[i] for i in members}
        return sorted({self.grids[j] for i in members for j in self.adjacency[i].indices} - own)


def edit_graph(engine: Engine, plan_id: int, params: PartitionSettings) -> EditGraph:
    with Session(engine) as session:
        current = assignment(session, plan_id)
        data = load_plan_input(session=session)
    data.buildings = data.buildings.loc[data.buildings.index.isin(list(current))]
    data.buildings.index = data.buildings.index.astype(str)
    data.locked = {str(b): c for b, c in current.items()}
    prep = prepare(data, params)
    ids = [int(b) for b in prep.buildings.index]
    return EditGraph(ids, [current[b] for b in ids], prep.adjacency)


def edge_move(graph: EditGraph) -> tuple[int, str, str]:
    """(building, its grid, the grid it may move to): the building of lowest id that touches a neighbouring grid
    and leaves its own grid contiguous and not empty; of its neighbours the one of lowest code."""
    for i in sorted(range(len(graph.buildings)), key=lambda i: graph.buildings[i]):
        rest = [j for j in graph.members(graph.grids[i]) if j != i]
        if not rest or not graph.contiguous(rest):
            continue
        for other in graph.neighbours([i]):
            if graph.contiguous([*graph.members(other), i]):
                return graph.buildings[i], graph.grids[i], other
    raise AssertionError("no building on the edge between two grids")


def mergeable(graph: EditGraph, households: dict[str, int]) -> tuple[str, str]:
    """(grid, neighbour): the grid of fewest households (then lowest code) that touches another, and of those
    neighbours the one of lowest code that makes one contiguous grid with it."""
    for small in sorted(households, key=lambda c: (households[c], c)):
        members = graph.members(small)
        for other in graph.neighbours(members):
            if graph.contiguous(members + graph.members(other)):
                return small, other
    raise AssertionError("no two touching grids")
