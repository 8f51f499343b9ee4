"""From buildings, streets and compounds to a finished plan — pure, no database.

Used by file mode (``gridmap partition IN -o OUT.gpkg``), DB mode and the benchmark.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS
from scipy.sparse import coo_matrix, csr_matrix
from scipy.sparse.csgraph import connected_components

from gridmap.errors import PartitionInfeasible
from gridmap.partition.adjacency import cell_adjacency, street_blocks, study_area, tessellate
from gridmap.partition.codes import assign_codes
from gridmap.partition.metrics import PlanMetrics, evaluate, grid_table
from gridmap.partition.shapes import grid_polygons
from gridmap.partition.solver import Partitioner, choose_k
from gridmap.settings import PartitionSettings
from gridmap.spatial.crs import metric_crs

RAIL_WATER = ("rail", "light_rail", "narrow_gauge", "river", "canal")


@dataclass
class PlanInput:
    """What a partition needs. ``buildings`` has ``households`` and optional ``compound``/``community`` columns."""

    buildings: gpd.GeoDataFrame
    streets: gpd.GeoDataFrame
    communities: gpd.GeoDataFrame | None = None
    locked: Mapping[str, str] | None = None  # building key -> locked grid code


@dataclass
class PlanResult:
    """Buildings with ``grid_code``, grid polygons with metrics (EPSG:4326), and the summary."""

    buildings: gpd.GeoDataFrame
    grids: gpd.GeoDataFrame
    metrics: PlanMetrics


def barrier_lines(streets: gpd.GeoDataFrame, params: PartitionSettings) -> gpd.GeoSeries:
    """The streets grids may not cross."""
    if streets.empty or "street_class" not in streets.columns:
        return gpd.GeoSeries([], crs=streets.crs)
    klass = streets["street_class"].astype(str)
    mask = klass.isin(params.barrier_classes) | klass.isin(RAIL_WATER)
    return streets.loc[mask].geometry


def _atoms(
    buildings: gpd.GeoDataFrame, adjacency: csr_matrix, block_of: np.ndarray, params: PartitionSettings
) -> tuple[np.ndarray, csr_matrix]:
    """Contract compounds that fit in one grid into single atoms; isolate large ones when they can stand alone."""
    n = len(buildings)
    atom_of = np.arange(n)
    compound = buildings["compound"].astype("string").fillna("").to_numpy() if "compound" in buildings else None
    adjacency = adjacency.tolil()
    if compound is not None:
        h = buildings["households"].to_numpy()
        keys = pd.Series([f"{c}|{b}" if c not in ("", "-1") else "" for c, b in zip(compound, block_of, strict=True)])
        for key, members in keys.groupby(keys).groups.items():
            if not key or len(members) < 2:
                continue
            idx = np.asarray(members)
            total = int(h[idx].sum())
            if total <= params.max:
                atom_of[idx] = idx.min()
            elif choose_k(total, params.target, params.min, params.max) * params.min <= total:
                inside = np.zeros(n, dtype=bool)
                inside[idx] = True
                for i in idx:  # a 小区 big enough to stand alone is not mixed with its neighbours
                    for j in list(adjacency.rows[i]):
                        if not inside[j]:
                            adjacency[i, j] = 0
                            adjacency[j, i] = 0
    _, atom_of = np.unique(atom_of, return_inverse=True)
    p = coo_matrix((np.ones(n), (np.arange(n), atom_of))).tocsr()
    a = (p.T @ adjacency.tocsr() @ p).tocsr()
    a.setdiag(0)
    a.eliminate_zeros()
    return atom_of, a


def partition(data: PlanInput, params: PartitionSettings, *, code_prefix: str | None = None) -> PlanResult:
    """Partition ``data.buildings`` into grids following the rules in ``params``."""
    started = time.perf_counter()
    if data.buildings.empty:
        raise PartitionInfeasible("no residential buildings to partition: import buildings first")
    crs: CRS = metric_crs(data.buildings)
    buildings = data.buildings.to_crs(crs)
    streets = data.streets.to_crs(crs) if not data.streets.empty else data.streets
    communities = data.communities.to_crs(crs) if data.communities is not None and not data.communities.empty else None
    barriers = barrier_lines(streets, params)
    points = buildings.geometry.representative_point().to_numpy()
    area = study_area(points, params.study_buffer_m, None if communities is None else communities.geometry.to_numpy())
    cut_lines = barriers.to_numpy()
    if communities is not None:
        cut_lines = np.concatenate([cut_lines, shapely.boundary(communities.geometry.to_numpy())])
    blocks = street_blocks(area, cut_lines)
    tess = tessellate(points, blocks)
    adjacency = cell_adjacency(tess.cells, tess.block_of, points, barriers.to_numpy())
    atom_of, atom_adj = _atoms(buildings, adjacency, tess.block_of, params)
    n_atoms = int(atom_of.max()) + 1
    h = buildings["households"].to_numpy().astype(np.int64)
    atom_h = np.bincount(atom_of, weights=h, minlength=n_atoms).astype(np.int64)
    xy = shapely.get_coordinates(points)
    counts = np.bincount(atom_of, minlength=n_atoms)
    atom_xy = np.stack([np.bincount(atom_of, weights=xy[:, d], minlength=n_atoms) / counts for d in (0, 1)], axis=1)
    locked_atoms: dict[int, int] = {}
    locked_codes: list[str] = []
    if data.locked:
        keys = buildings.index.astype(str)
        locked_codes = sorted(set(data.locked.values()))
        for i, key in enumerate(keys):
            if key in data.locked:
                locked_atoms[int(atom_of[i])] = locked_codes.index(data.locked[key])
    solver = Partitioner(
        target=params.target, low=params.min, high=params.max, seed=params.seed, locked=locked_atoms
    ).solve(atom_xy, atom_h, atom_adj)
    labels = solver.labels_[atom_of]
    polygons = grid_polygons(tess.cells, labels, blocks)
    cores = {int(k): shapely.union_all(tess.cells[labels == k], grid_size=0.01) for k in polygons}
    _, component = connected_components(adjacency, directed=False)
    component_h = np.bincount(component, weights=h)
    grids = gpd.GeoDataFrame({"label": list(polygons)}, geometry=list(polygons.values()), crs=crs)
    reps = grids.geometry.representative_point()
    prefixes = _prefixes(reps, communities, code_prefix or params.code_prefix)
    row_height = float(np.sqrt(np.median(grids.geometry.area))) if len(grids) else 1.0
    codes = assign_codes(prefixes, reps.x.tolist(), reps.y.tolist(), row_height)
    label_code = dict(zip(grids["label"], codes, strict=True))
    for label, code in enumerate(locked_codes):
        label_code[label] = code  # locked grids keep the codes they had
    grids["grid_code"] = grids["label"].map(label_code)
    grids["community_code"] = [c[:12] for c in grids["grid_code"]]
    buildings["grid_code"] = pd.Series(labels, index=buildings.index).map(label_code)
    grids = grid_table(grids.drop(columns="label"), buildings, adjacency, params)
    compound_col = "compound" if "compound" in buildings.columns else None
    first_of = {int(k): int(np.flatnonzero(labels == k)[0]) for k in polygons}
    metrics = evaluate(
        grids,
        buildings,
        barriers,
        area,
        adjacency,
        params,
        compound_col,
        cores={label_code[k]: geom for k, geom in cores.items()},
        component_households={label_code[k]: int(component_h[component[i]]) for k, i in first_of.items()},
    )
    metrics.runtime_s = round(time.perf_counter() - started, 3)
    grids = grids.sort_values("grid_code").to_crs(4326)
    return PlanResult(buildings=buildings.to_crs(4326), grids=grids, metrics=metrics)


def _prefixes(reps: gpd.GeoSeries, communities: gpd.GeoDataFrame | None, default: str) -> list[str]:
    if communities is None or "code" not in communities.columns:
        return [default] * len(reps)
    hits = gpd.sjoin(gpd.GeoDataFrame(geometry=reps), communities[["code", "geometry"]], how="left", predicate="within")
    hits = hits[~hits.index.duplicated(keep="first")]
    return [str(c)[:12] if isinstance(c, str) and len(str(c)) >= 12 else default for c in hits["code"]]
