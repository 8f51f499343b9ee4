"""Exact tiling of every benchmark plan, checked in PostGIS (``gridmap.partition.tiling``) on a throwaway cluster.

Each plan's grid polygons (EPSG:4326, as they are stored) go into a temporary table; overlaps are
``ST_Area(ST_Intersection(a, b))`` over neighbouring pairs, the gap is the study area minus the grids' union.
"""

from __future__ import annotations

import shutil
import socket
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import geopandas as gpd
from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import Session

from gridmap.db.cluster import LocalCluster
from gridmap.partition.pipeline import PlanResult, Prepared
from gridmap.partition.tiling import Tiling, measure_polygons


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def postgis() -> Iterator[Engine]:
    """An engine on a PostGIS database of a cluster of its own, removed afterwards."""
    root = Path(tempfile.mkdtemp(prefix="gridmap-tiling-bench-"))
    root.chmod(0o755)  # the postgres OS user (when we are root) must reach its data directory
    cluster = LocalCluster(data_dir=root / "pg", port=_free_port(), throwaway=True)  # measured, then removed
    cluster.start()
    try:
        cluster.ensure_database("tiling")
        engine = create_engine(cluster.url("tiling"))
        try:
            yield engine
        finally:
            engine.dispose()
    finally:
        cluster.destroy()
        shutil.rmtree(root, ignore_errors=True)


def study_area_wgs84(prep: Prepared) -> bytes:
    """The study area, in EPSG:4326 as WKB (reprojected as the grids are)."""
    return bytes(gpd.GeoSeries([prep.area], crs=prep.crs).to_crs(4326).iloc[0].wkb)


def measure(engine: Engine, result: PlanResult, area_wkb: bytes) -> Tiling:
    """Overlap and gap of one plan's grids, in m²."""
    with Session(engine) as session:
        return measure_polygons(session, [bytes(g.wkb) for g in result.grids.geometry], area_wkb)
