"""Today's suggested route: the most overdue buildings in the order one walks them along the streets of the data.

The street graph (networkx) has the streets' vertices (and their crossings: the lines are noded first) as nodes
and their segments as edges weighted by metres; a building joins the graph at its nearest vertex of the largest
connected part. From the worker's position (or the most overdue building) the
route goes to the nearest remaining stop by walking distance, again and again (nearest neighbour on shortest paths).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import networkx as nx
import shapely

Point = tuple[float, float]


def _metres(a: Point, b: Point) -> float:
    lat = math.radians((a[1] + b[1]) / 2)
    return 6_371_000 * math.hypot(math.radians(b[0] - a[0]) * math.cos(lat), math.radians(b[1] - a[1]))


def street_graph(lines_wkt: Sequence[str]) -> nx.Graph:
    """The walking graph of street lines (WKT, WGS84)."""
    graph = nx.Graph()
    if not lines_wkt:
        return graph
    # noded: streets that cross (a lane meeting a road mid-segment) share a vertex where they cross
    noded = shapely.union_all(shapely.from_wkt(list(lines_wkt)))
    for geom in getattr(noded, "geoms", [noded]):
        for line in getattr(geom, "geoms", [geom]):
            coords = [(round(x, 6), round(y, 6)) for x, y in line.coords]
            for a, b in zip(coords, coords[1:], strict=False):
                if a != b:
                    graph.add_edge(a, b, weight=_metres(a, b))
    return graph


def _nearest(nodes: list[Point], p: Point) -> Point:
    return min(nodes, key=lambda n: _metres(n, p))


def walking_order(graph: nx.Graph, stops: list[Point], start: Point | None) -> tuple[list[int], float, list[Point]]:
    """The stops' order (indexes), the walking metres and the path walked, from ``start`` (default: stop 0)."""
    if not stops:
        return [], 0.0, []
    if graph.number_of_nodes() == 0:
        return list(range(len(stops))), 0.0, []
    biggest = max(nx.connected_components(graph), key=len)
    nodes = list(biggest)
    where = [_nearest(nodes, s) for s in stops]
    here = _nearest(nodes, start) if start is not None else where[0]
    left, order, metres, path = set(range(len(stops))), [], 0.0, [here]
    while left:
        lengths, paths = nx.single_source_dijkstra(graph, here, weight="weight")
        nxt = min(left, key=lambda i: (lengths.get(where[i], math.inf), i))
        metres += lengths.get(where[nxt], 0.0)
        path += paths.get(where[nxt], [here])[1:]
        here = where[nxt]
        order.append(nxt)
        left.remove(nxt)
    return order, metres, path
