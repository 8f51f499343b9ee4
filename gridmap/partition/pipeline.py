"""From buildings, streets and compounds to a finished plan — pure, no database.

Used by file mode (``gridmap partition IN -o OUT.gpkg``), DB mode and the benchmark.
"""

from __future__ import annotations

import math
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
from shapely.geometry.base import BaseGeometry

from gridmap.errors import PartitionInfeasible
from gridmap.partition.adjacency import (
    cell_adjacency,
    extend_dangles,
    refine_dead_end_blocks,
    split_cells,
    street_blocks,
    study_area,
    tessellate,
)
from gridmap.partition.codes import assign_codes, community_of, community_prefix
from gridmap.partition.exact import has_in_band_plan
from gridmap.partition.identity import kept_codes, majority_prefixes, previous_prefixes
from gridmap.partition.metrics import PlanMetrics, evaluate, grid_table
from gridmap.partition.shapes import fitted_wgs84, grid_polygons
from gridmap.partition.solver import EXACT_ATOMS, neighbour_lists, solve_atoms
from gridmap.settings import PartitionSettings
from gridmap.spatial.crs import is_wgs84, metric_crs

RAIL_WATER = ("rail", "light_rail", "narrow_gauge", "river", "canal")


@dataclass
class PlanInput:
    """What a partition needs. ``buildings`` has ``households`` and optional ``compound``/``community`` columns."""

    buildings: gpd.GeoDataFrame
    streets: gpd.GeoDataFrame
    communities: gpd.GeoDataFrame | None = None
    locked: Mapping[str, str] | None = None  # building key -> locked grid code
    previous: Mapping[str, str] | None = None  # building key -> its grid code before a re-partition


@dataclass
class PlanResult:
    """Buildings with ``grid_code``, grid polygons with metrics (EPSG:4326), and the summary."""

    buildings: gpd.GeoDataFrame
    grids: gpd.GeoDataFrame
    metrics: PlanMetrics


def is_barrier(street_class: pd.Series, params: PartitionSettings) -> pd.Series:
    """Whether streets of these classes bound grids: the configured road classes, railways, rivers, canals."""
    klass = street_class.astype(str)
    return klass.isin(params.barrier_classes) | klass.isin(RAIL_WATER)


def barrier_lines(streets: gpd.GeoDataFrame, params: PartitionSettings) -> gpd.GeoSeries:
    """The streets grids may not cross, indexed by what a planner calls them: the street's name, else ``#id``."""
    if streets.empty or "street_class" not in streets.columns:
        return gpd.GeoSeries([], crs=streets.crs)
    chosen = streets.loc[is_barrier(streets["street_class"], params)]
    names = chosen["name"] if "name" in chosen.columns else pd.Series(None, index=chosen.index, dtype=object)
    labels = [
        n.strip() if isinstance(n, str) and n.strip() else f"#{i}" for i, n in zip(chosen.index, names, strict=True)
    ]
    return gpd.GeoSeries(chosen.geometry.to_numpy(), index=labels, crs=streets.crs)


def _streets_near(streets: gpd.GeoDataFrame, crs: CRS, area: BaseGeometry) -> gpd.GeoDataFrame:
    """The streets touching the study area, in ``crs``: lines farther out change no face, cell or link.

    They are picked in the streets' own CRS, so only those are projected (an input may hold a whole city's).
    """
    if streets.empty:
        return streets
    reach = gpd.GeoSeries([area.buffer(1.0)], crs=crs).to_crs(streets.crs).iloc[0]
    return streets.iloc[np.sort(streets.sindex.query(reach, predicate="intersects"))].to_crs(crs)


def _neighbours(adjacency: csr_matrix, idx: np.ndarray) -> np.ndarray:
    rows = adjacency[idx].tocoo().col
    return np.setdiff1d(rows, idx) if len(rows) else np.empty(0, dtype=np.int64)


def _isolate(adjacency: csr_matrix, inside_of: np.ndarray) -> csr_matrix:
    """Drop the links between a compound set apart and anything outside it."""
    coo = adjacency.tocoo()
    marked = (inside_of[coo.row] >= 0) | (inside_of[coo.col] >= 0)
    keep = ~(marked & (inside_of[coo.row] != inside_of[coo.col]))
    return coo_matrix((coo.data[keep], (coo.row[keep], coo.col[keep])), shape=coo.shape).tocsr()


def _feasible_alone(total: int, params: PartitionSettings) -> bool:
    return total >= params.min and math.ceil(total / params.max) <= math.floor(total / params.min)


def build_atoms(
    buildings: gpd.GeoDataFrame, adjacency: csr_matrix, block_of: np.ndarray, params: PartitionSettings
) -> tuple[np.ndarray, csr_matrix]:
    """Contract each 小区 that fits in one grid into one atom; cut a larger one off from its neighbours.

    A compound is handled per street block (a main road through it splits it) and per
    connected piece, so atoms stay contiguous. A large compound is isolated only when it
    can be split into in-band grids on its own; otherwise mixing with neighbours is necessary.
    """
    n = len(buildings)
    atom_of = np.arange(n)
    h = buildings["households"].to_numpy()
    adjacency = adjacency.tocsr()
    if "compound" in buildings.columns:
        compound = buildings["compound"].astype("string").fillna("").to_numpy()
        keys = pd.Series([f"{c}|{b}" if c not in ("", "-1") else "" for c, b in zip(compound, block_of, strict=True)])
        key_of, key_names = keys.where(keys != "", None).factorize()  # -1: in no compound
        totals = np.bincount(key_of[key_of >= 0], weights=h[key_of >= 0])
        # Every connected piece of a compound that fits in one grid becomes one atom, all in one pass.
        whole = np.zeros(n, dtype=bool)
        whole[key_of >= 0] = totals[key_of[key_of >= 0]] <= params.max
        coo = adjacency.tocoo()
        link = whole[coo.row] & (key_of[coo.row] == key_of[coo.col])
        inner = coo_matrix((coo.data[link], (coo.row[link], coo.col[link])), shape=(n, n))
        atom_of = connected_components(inner, directed=False)[1]
        inside_of = np.full(n, -1)
        for group in sorted(np.flatnonzero(totals > params.max).tolist(), key=lambda g: str(key_names[g])):
            idx = np.flatnonzero(key_of == group)
            if _feasible_alone(int(totals[group]), params):
                trial = inside_of.copy()
                trial[idx] = group
                isolated = _isolate(adjacency, trial)
                # Keep the 小区 apart only if what is left around it can still make in-band grids.
                _, comp = connected_components(isolated, directed=False)
                sums = np.bincount(comp, weights=h)
                if all(
                    x == 0 or _feasible_alone(int(x), params)
                    for x in sums[np.unique(comp[_neighbours(adjacency, idx)])]
                ):
                    inside_of, adjacency = trial, isolated
    _, atom_of = np.unique(atom_of, return_inverse=True)
    return atom_of, contract(adjacency, atom_of)


def contract(adjacency: csr_matrix, atom_of: np.ndarray) -> csr_matrix:
    """Links between atoms: two atoms are adjacent when some of their buildings are."""
    n = len(atom_of)
    member = coo_matrix((np.ones(n), (np.arange(n), atom_of)), shape=(n, int(atom_of.max()) + 1)).tocsr()
    links = (member.T @ adjacency @ member).tocsr()
    links.setdiag(0)
    links.eliminate_zeros()
    return links


@dataclass
class Prepared:
    """Everything about the input a solver needs and a plan is judged on, in one metric CRS."""

    crs: CRS
    buildings: gpd.GeoDataFrame
    barriers: gpd.GeoSeries
    area: shapely.Geometry
    blocks: np.ndarray
    walls: np.ndarray
    pieces: list[BaseGeometry]
    cells: np.ndarray
    block_of: np.ndarray
    adjacency: csr_matrix
    atom_of: np.ndarray
    atom_adjacency: csr_matrix
    atom_households: np.ndarray
    atom_xy: np.ndarray
    communities: gpd.GeoDataFrame | None
    locked_atoms: dict[int, int]
    locked_codes: list[str]
    previous: pd.Series  # per building: its grid code before (re-partition), else None
    footprints_wgs84: gpd.GeoSeries | None  # the buildings as given, for the output: no projecting back


def prepare(data: PlanInput, params: PartitionSettings) -> Prepared:
    """Blocks, tessellation, adjacency and atoms of ``data``."""
    if data.buildings.empty:
        raise PartitionInfeasible("no residential buildings to partition: import buildings first")
    crs = metric_crs(data.buildings)
    buildings = data.buildings.to_crs(crs)
    buildings["households"] = pd.to_numeric(buildings["households"], errors="coerce").fillna(0).astype(np.int64)
    communities = data.communities.to_crs(crs) if data.communities is not None and not data.communities.empty else None
    points = buildings.geometry.representative_point().to_numpy()
    area = study_area(
        buildings.geometry.to_numpy(),
        params.study_buffer_m,
        None if communities is None else communities.geometry.to_numpy(),
    )
    streets = _streets_near(data.streets, crs, area)
    barriers = barrier_lines(streets, params)
    street_lines = streets.geometry.to_numpy() if not streets.empty else np.empty(0, dtype=object)
    # Virtual walls at dead-ending main roads cut faces and links like barriers, but are not reported as barriers.
    walls = np.concatenate([barriers.to_numpy(), extend_dangles(barriers.to_numpy(), street_lines, area)])
    if communities is not None:  # grids nest in one 社区: its boundary separates cells like a barrier
        walls = np.concatenate([walls, shapely.boundary(communities.geometry.to_numpy())])
    blocks, parent, refined = refine_dead_end_blocks(street_blocks(area, walls), walls, street_lines)
    tess = tessellate(points, blocks)
    whole = tess.cells
    tess.cells, offcuts = split_cells(whole, points, walls)
    cut = np.fromiter((a is not b for a, b in zip(whole, tess.cells, strict=True)), dtype=bool, count=len(whole))
    empty = np.ones(len(blocks), dtype=bool)
    empty[tess.block_of] = False
    pieces = list(shapely.set_precision(np.asarray(blocks, dtype=object)[empty], 0.01)) + offcuts
    adjacency = cell_adjacency(
        tess.cells, points, walls, group=parent[tess.block_of], check_edges=cut, block=tess.block_of
    )
    _, barrier_block = connected_components(adjacency, directed=False)
    atom_of, atom_adj = build_atoms(buildings, adjacency, barrier_block, params)
    n_atoms = int(atom_of.max()) + 1
    h = buildings["households"].to_numpy()
    xy = shapely.get_coordinates(points)
    counts = np.bincount(atom_of, minlength=n_atoms)
    atom_xy = np.stack([np.bincount(atom_of, weights=xy[:, d], minlength=n_atoms) / counts for d in (0, 1)], axis=1)
    locked_atoms: dict[int, int] = {}
    locked_codes: list[str] = []
    if data.locked:
        locked_codes = sorted(set(data.locked.values()))
        for i, key in enumerate(buildings.index.astype(str)):
            if key in data.locked:
                locked_atoms[int(atom_of[i])] = locked_codes.index(data.locked[key])
    return Prepared(
        crs=crs,
        buildings=buildings,
        barriers=barriers,
        area=area,
        blocks=blocks,
        walls=walls,
        pieces=pieces,
        cells=tess.cells,
        block_of=tess.block_of,
        adjacency=adjacency,
        atom_of=atom_of,
        atom_adjacency=atom_adj,
        atom_households=np.bincount(atom_of, weights=h, minlength=n_atoms).astype(np.int64),
        atom_xy=atom_xy,
        communities=communities,
        locked_atoms=locked_atoms,
        locked_codes=locked_codes,
        previous=pd.Series(
            [None if data.previous is None else data.previous.get(k) for k in buildings.index.astype(str)],
            index=buildings.index,
            dtype=object,
        ),
        footprints_wgs84=data.buildings.geometry if is_wgs84(data.buildings.crs) else None,
    )


def finish(
    prep: Prepared,
    labels: np.ndarray,
    params: PartitionSettings,
    *,
    code_prefix: str | None = None,
    started: float | None = None,
    with_metrics: bool = True,
) -> PlanResult:
    """Grid polygons, codes and metrics for building ``labels`` (from any solver)."""
    started = time.perf_counter() if started is None else started
    labels = np.unique(labels, return_inverse=True)[1] if not prep.locked_codes else labels
    polygons = grid_polygons(prep.cells, labels, prep.pieces, prep.walls)
    grids = gpd.GeoDataFrame({"label": list(polygons)}, geometry=list(polygons.values()), crs=prep.crs)
    # Locked grids are labels 0..L-1 and keep their codes; the others are numbered around them.
    n_locked = len(prep.locked_codes)
    label_code = _fresh_codes(prep, labels, grids[grids["label"] >= n_locked], code_prefix or params.code_prefix)
    label_code.update(enumerate(prep.locked_codes))
    grids["grid_code"] = grids["label"].map(label_code)
    grids["community_code"] = [community_of(c) for c in grids["grid_code"]]
    buildings = prep.buildings.copy()
    buildings["grid_code"] = pd.Series(labels, index=buildings.index).map(label_code)
    grids = grid_table(grids.drop(columns="label"), buildings, prep.adjacency, params, with_walk=with_metrics)
    metrics = PlanMetrics.empty()
    if with_metrics:
        h = buildings["households"].to_numpy()
        cores = {int(k): shapely.union_all(prep.cells[labels == k], grid_size=0.01) for k in polygons}
        _, component = connected_components(prep.adjacency, directed=False)
        component_h = np.bincount(component, weights=h)
        first_of = {int(k): int(np.flatnonzero(labels == k)[0]) for k in polygons}
        metrics = evaluate(
            grids,
            buildings,
            prep.barriers,
            prep.area,
            prep.adjacency,
            params,
            "compound" if "compound" in buildings.columns else None,
            cores={label_code[k]: geom for k, geom in cores.items()},
            component_households={label_code[k]: int(component_h[component[i]]) for k, i in first_of.items()},
            no_in_band_plan={label_code[k]: why for k, why in _no_in_band_plan(prep, labels, params).items()},
        )
    stored = fitted_wgs84(polygons, prep.area, prep.crs)
    by_code = {label_code[k]: geom for k, geom in stored.items()}
    metrics.runtime_s = round(time.perf_counter() - started, 3)
    grids = grids.sort_values("grid_code").to_crs(4326)
    grids = grids.set_geometry(gpd.GeoSeries(grids["grid_code"].map(by_code).to_list(), index=grids.index, crs=4326))
    return PlanResult(buildings=_in_wgs84(buildings, prep), grids=grids, metrics=metrics)


def _no_in_band_plan(prep: Prepared, labels: np.ndarray, params: PartitionSettings) -> dict[int, str]:
    """One out-of-band grid per small area that provably cannot have every grid in band, with the reason.

    The area is a connected piece of the building adjacency (bounded by barriers), its units are the atoms
    (whole 小区 that fit one grid, other buildings); every partition of it into contiguous grids is searched.
    Only one grid per area is excused: any plan has at least one out of band there.
    """
    h = prep.buildings["households"].to_numpy()
    sums = np.bincount(labels, weights=h)
    out = (sums < params.min) | (sums > params.max)
    if not out.any():
        return {}
    n_atoms = len(prep.atom_households)
    links = contract(prep.adjacency, prep.atom_of)  # the rules' links: no large 小区 set apart
    _, area_of = connected_components(links, directed=False)
    label_of_atom = np.zeros(n_atoms, dtype=np.int64)
    label_of_atom[prep.atom_of] = labels
    excused: dict[int, str] = {}
    for area in np.unique(area_of[prep.atom_of[out[labels]]]):
        atoms = np.flatnonzero(area_of == area)
        total = int(prep.atom_households[atoms].sum())
        if len(atoms) > EXACT_ATOMS or not _feasible_alone(total, params):
            continue  # too large to search, or already impossible by its households alone
        found = has_in_band_plan(
            neighbour_lists(links, atoms),
            prep.atom_households[atoms],
            prep.atom_xy[atoms],
            low=params.min,
            high=params.max,
        )
        if found is False:
            grids = [int(k) for k in np.unique(label_of_atom[atoms]) if out[k]]
            worst = max(grids, key=lambda k: abs(sums[k] - params.target))
            excused[worst] = (
                f"穷举所在主干道围合片区（{len(atoms)} 个单元，小区不拆分，共 {total} 户）的所有划法，均无法每格 "
                f"{params.min}-{params.max} 户 / no plan of its barrier-bounded area ({len(atoms)} units, {total} "
                f"households) has every grid in [{params.min}, {params.max}] (exhaustive search)"
            )
    return excused


def _in_wgs84(buildings: gpd.GeoDataFrame, prep: Prepared) -> gpd.GeoDataFrame:
    if prep.footprints_wgs84 is None:
        return buildings.to_crs(4326)
    source = gpd.GeoSeries(
        prep.footprints_wgs84.to_numpy(), index=buildings.index, crs=4326, name=buildings.geometry.name
    )
    return buildings.set_geometry(source)


def solve(prep: Prepared, params: PartitionSettings) -> np.ndarray:
    """Gridmap's solver on the prepared atoms; returns one label per building."""
    labels: np.ndarray = solve_atoms(
        prep.atom_xy,
        prep.atom_households,
        prep.atom_adjacency,
        contract(prep.adjacency, prep.atom_of),  # the rules' links: no large 小区 set apart
        target=params.target,
        low=params.min,
        high=params.max,
        seed=params.seed,
        locked=prep.locked_atoms,
    )[prep.atom_of]
    return labels


def partition(
    data: PlanInput, params: PartitionSettings, *, code_prefix: str | None = None, with_metrics: bool = True
) -> PlanResult:
    """Partition ``data.buildings`` into grids following the rules in ``params``."""
    started = time.perf_counter()
    prep = prepare(data, params)
    return finish(
        prep, solve(prep, params), params, code_prefix=code_prefix, started=started, with_metrics=with_metrics
    )


def _fresh_codes(prep: Prepared, labels: np.ndarray, fresh: gpd.GeoDataFrame, default: str) -> dict[int, str]:
    """Codes of the grids that are not locked: each in its 社区, old codes kept where a grid barely changed.

    A grid's 社区 is the polygon its representative point lies in, else the 社区 most of its buildings are
    recorded in, else the one their previous grids carried (a re-partition of data without 社区 polygons keeps
    its prefixes), else ``default``.
    """
    reps = fresh.geometry.representative_point()
    in_polygon = _prefixes(reps, prep.communities)
    recorded = majority_prefixes(labels, prep.buildings["community"]) if "community" in prep.buildings.columns else {}
    before = previous_prefixes(labels, prep.previous)
    prefixes = {
        int(k): p or recorded.get(int(k)) or before.get(int(k)) or default
        for k, p in zip(fresh["label"], in_polygon, strict=True)
    }
    weight = np.maximum(prep.buildings["households"].to_numpy(), 1)  # a building without households counts as one
    kept = kept_codes(labels, prep.previous, weight, prefixes, frozenset(prep.locked_codes))
    new = [i for i, k in enumerate(fresh["label"]) if int(k) not in kept]
    taken = frozenset(prep.locked_codes) | {c for c in prep.previous if isinstance(c, str)}
    row_height = float(np.sqrt(np.median(fresh.geometry.area))) if len(fresh) else 1.0
    codes = assign_codes(
        [prefixes[int(fresh["label"].iloc[i])] for i in new],
        reps.x.iloc[new].tolist(),
        reps.y.iloc[new].tolist(),
        row_height,
        taken,
    )
    return kept | {int(fresh["label"].iloc[i]): code for i, code in zip(new, codes, strict=True)}


def _prefixes(reps: gpd.GeoSeries, communities: gpd.GeoDataFrame | None) -> list[str | None]:
    if communities is None or "code" not in communities.columns:
        return [None] * len(reps)
    hits = gpd.sjoin(gpd.GeoDataFrame(geometry=reps), communities[["code", "geometry"]], how="left", predicate="within")
    hits = hits[~hits.index.duplicated(keep="first")]
    return [community_prefix(c) if isinstance(c, str) else None for c in hits["code"]]
