"""Grids of two fan-out jobs that meet to floating-point dust come out sharing their edge vertex for vertex."""

from __future__ import annotations

import numpy as np
import shapely
from shapely.geometry import Polygon

from gridmap.partition.shapes import stitched_jobs


def _jobs() -> tuple[np.ndarray, np.ndarray]:
    """Job 0: two grids west of x = 118.8; job 1: one grid east, whose edge bulges 1e-9° (0.1 mm) into job 0."""
    west_a = Polygon([(118.79, 32.0), (118.8, 32.0), (118.8, 32.005), (118.79, 32.005)])
    west_b = Polygon([(118.79, 32.005), (118.8, 32.005), (118.8, 32.01), (118.79, 32.01)])
    east = Polygon([(118.8, 32.0), (118.81, 32.0), (118.81, 32.01), (118.8, 32.01), (118.8 - 1e-9, 32.0071)])
    return np.asarray([west_a, west_b, east], dtype=object), np.asarray([0, 0, 1])


def test_jobs_that_meet_to_dust_are_stitched_into_one_coverage() -> None:
    grids, job = _jobs()
    assert not shapely.coverage_is_valid(grids)  # as the jobs made them: the east edge does not match
    stitched = stitched_jobs(grids, job)
    assert (shapely.coverage_is_valid(stitched), list(shapely.get_type_id(stitched))) == (True, [3, 3, 3])


def test_one_job_is_left_as_it_is() -> None:
    grids, _ = _jobs()
    assert stitched_jobs(grids, np.zeros(3, dtype=np.int64)) is grids
