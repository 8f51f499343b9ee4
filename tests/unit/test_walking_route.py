"""Today's route is ordered by walking along the streets, not by straight-line distance."""

from __future__ import annotations

from gridmap.fieldwork.route import street_graph, walking_order

# a U of streets: along the bottom, up the right side, back along the top (no street up the left side)
U = ["LINESTRING (118.780 32.040, 118.782 32.040)", "LINESTRING (118.782 32.040, 118.782 32.041, 118.780 32.041)"]


def test_the_stop_across_the_block_comes_last() -> None:
    top_left, bottom_right = (118.780, 32.041), (118.782, 32.040)  # 111 m away as the crow flies vs 188 m walked
    order, metres, _ = walking_order(street_graph(U), [top_left, bottom_right], start=(118.780, 32.040))
    assert (order, 485 < metres < 492) == ([1, 0], True)  # bottom 188.5 m, right side 111.2 m, top 188.5 m


def test_crossing_streets_are_joined_where_they_cross() -> None:
    cross = ["LINESTRING (118.780 32.040, 118.782 32.040)", "LINESTRING (118.781 32.039, 118.781 32.041)"]
    graph = street_graph(cross)
    assert graph.has_node((118.781, 32.04)) and graph.degree[(118.781, 32.04)] == 4
