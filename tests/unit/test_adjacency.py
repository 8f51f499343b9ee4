import numpy as np
import shapely
from shapely.geometry import LineString, Point, box

from gridmap.partition.adjacency import (
    OVERSHOOT_M,
    cell_adjacency,
    extend_dangles,
    split_cells,
    street_blocks,
    tessellate,
)

AREA = box(0, 0, 100, 100)


def test_dead_end_main_road_is_continued_to_the_next_crossing_street() -> None:
    road = LineString([(0, 50), (60, 50)])
    lane = LineString([(80, 0), (80, 100)])
    walls = extend_dangles(np.array([road], dtype=object), np.array([road, lane], dtype=object), AREA)
    assert len(walls) == 1
    assert shapely.get_coordinates(walls[0]).round(3).tolist() == [[60.0, 50.0], [80.0, 50.0]]


def test_dead_end_without_crossing_runs_to_the_edge_and_lane_along_it_does_not_stop_it() -> None:
    road = LineString([(0, 50), (60, 50)])
    continuing_lane = LineString([(60, 50), (90, 50)])  # the road goes on as a lane: not a stop
    walls = extend_dangles(np.array([road], dtype=object), np.array([road, continuing_lane], dtype=object), AREA)
    # It runs on a little past the edge, so rounding cannot leave it dangling short of the edge.
    assert shapely.get_coordinates(walls[0]).round(3).tolist() == [[60.0, 50.0], [100.0 + OVERSHOOT_M, 50.0]]
    assert len(street_blocks(AREA, np.array([road, walls[0]], dtype=object))) == 2


def test_wall_to_a_curved_edge_cuts_the_face_despite_rounding() -> None:
    # Where the ray meets a curved edge, the computed point is off the edge by rounding; a wall ending
    # there dangled and left the area in one face (a Helsinki main road was crossed this way).
    area = shapely.Polygon([(0, 0), (100, 0), (140.03, 100), (0, 100)]).buffer(10.79)
    road = LineString([(-50.0, 22.45841143617168), (54.39810717600817, 20.991658131711745)])
    walls = extend_dangles(np.array([road], dtype=object), np.array([road], dtype=object), area)
    assert len(walls) == 1
    assert len(street_blocks(area, np.array([road, walls[0]], dtype=object))) == 2


def test_cells_on_two_sides_of_a_barrier_are_not_adjacent() -> None:
    road = np.array([LineString([(0, 50), (100, 50)])], dtype=object)
    points = np.array([Point(50, 40), Point(50, 60), Point(20, 40)], dtype=object)
    blocks = street_blocks(AREA, road)
    assert len(blocks) == 2
    tess = tessellate(points, blocks)
    cells, offcuts = split_cells(tess.cells, points, road)
    assert offcuts == []
    adj = cell_adjacency(cells, points, road).toarray()
    assert adj[0, 1] == 0 and adj[0, 2] == 1
    # The cells tile the area.
    assert abs(shapely.union_all(cells).area - AREA.area) < 1e-6
