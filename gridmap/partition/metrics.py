"""Plan quality, shared by the CLI, the API and the benchmark.

Everything is computed from the buildings' households and geometries as
given, and from the grid polygons: nothing trusts the solver's own numbers.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components, dijkstra

from gridmap.partition.solver import subgraph
from gridmap.settings import PartitionSettings

TOLERANCE_M = 1.0


@dataclass
class Violation:
    """A broken hard rule."""

    rule: str
    grid: str | None
    detail: str


@dataclass(frozen=True)
class Note:
    """Why a grid is as it is although it looks wrong (forced out of band, a block across a barrier), per language."""

    grid: str
    zh: str
    en: str

    def __str__(self) -> str:
        """Both languages, as the CLI summary prints it: ``code: 中文 / English``."""
        return f"{self.grid}: {self.zh} / {self.en}"

    @classmethod
    def split(cls, grid: str, text: str) -> Note:
        """A note from a ``中文 / English`` text (the partitioner's reasons are written that way)."""
        zh, _, en = text.partition(" / ")
        return cls(grid, zh, en or zh)


@dataclass
class PlanMetrics:
    """Summary of a plan."""

    grids: int
    expected_grids: int
    households: int
    buildings: int
    in_band_share: float
    max_abs_deviation_pct: float
    p95_abs_deviation_pct: float
    mean_polsby_popper: float
    max_longest_walk_m: float
    runtime_s: float = 0.0
    violations: list[Violation] = field(default_factory=list)
    infeasible: list[str] = field(default_factory=list)  # the notes as one text each, both languages
    notes: list[Note] = field(default_factory=list)  # the same, 简体中文 and English apart (what pages show)
    community_runtimes_s: list[float] = field(default_factory=list)
    size_infeasible_grids: list[str] = field(default_factory=list)  # out of band because the rules force it
    in_band_share_feasible: float = 0.0  # in-band share of the other grids: the solver's own score

    @classmethod
    def empty(cls) -> PlanMetrics:
        """Placeholder when a caller skipped the evaluation (scale runs)."""
        return cls(0, 0, 0, 0, 0.0, 0.0, 0.0, 0.0, 0.0)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


def polsby_popper(polygons: gpd.GeoSeries) -> np.ndarray[Any, np.dtype[np.float64]]:
    """4πA / P² per polygon (1 for a circle)."""
    area, perimeter = polygons.area.to_numpy(), polygons.length.to_numpy()
    return np.where(perimeter > 0, 4 * math.pi * area / np.maximum(perimeter, 1e-9) ** 2, 0.0)


def longest_walk(points: gpd.GeoSeries, adjacency: csr_matrix, members: np.ndarray[Any, np.dtype[np.int64]]) -> float:
    """Longest shortest path (m) between buildings of one grid through its adjacency (two-sweep estimate)."""
    if len(members) < 2:
        return 0.0
    xy = shapely.get_coordinates(points.to_numpy()[members])
    sub = subgraph(adjacency, members).tocoo()
    weights = np.hypot(*(xy[sub.row] - xy[sub.col]).T)
    graph = csr_matrix((weights, (sub.row, sub.col)), shape=(len(members), len(members)))
    dist = dijkstra(graph, directed=False, indices=0)
    far = int(np.argmax(np.where(np.isfinite(dist), dist, -1)))
    dist = dijkstra(graph, directed=False, indices=far)
    finite = dist[np.isfinite(dist)]
    return float(finite.max()) if len(finite) else 0.0


def grid_table(
    grids: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame,
    adjacency: csr_matrix,
    params: PartitionSettings,
    *,
    with_walk: bool = True,
) -> gpd.GeoDataFrame:
    """Per-grid metric columns (``grids`` and ``buildings`` in a metric CRS, buildings with ``grid_code``)."""
    out = grids.copy()
    by_grid = buildings.groupby("grid_code")
    out["households"] = out["grid_code"].map(by_grid["households"].sum()).fillna(0).astype("int64")
    out["n_buildings"] = out["grid_code"].map(by_grid.size()).fillna(0).astype("int64")
    out["deviation_pct"] = ((out["households"] - params.target) / params.target * 100).round(1)
    out["in_band"] = out["households"].between(params.min, params.max)
    out["polsby_popper"] = polsby_popper(out.geometry).round(3)
    out["longest_walk_m"] = 0.0
    if with_walk:
        points = buildings.geometry.representative_point()
        codes = buildings["grid_code"].to_numpy()
        positions = pd.Series(np.arange(len(codes))).groupby(codes).indices
        nowhere = np.empty(0, dtype=np.int64)
        out["longest_walk_m"] = [
            round(longest_walk(points, adjacency, np.asarray(positions.get(c, nowhere))), 1) for c in out["grid_code"]
        ]
    out["area_m2"] = out.geometry.area.round(0)
    return out


def evaluate(
    grids: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame,
    barriers: gpd.GeoSeries,
    area: shapely.Geometry,
    adjacency: csr_matrix,
    params: PartitionSettings,
    compound_col: str | None = "compound",
    cores: dict[str, shapely.Geometry] | None = None,
    component_households: dict[str, int] | None = None,
    no_in_band_plan: dict[str, str] | None = None,
) -> PlanMetrics:
    """Check every hard rule and summarise sizes and shapes (all inputs in one metric CRS).

    ``cores`` are the grids' residential parts (their buildings' cells): a barrier may
    border a street block without residents that was merged into a grid for tiling,
    and that is reported as a note, not a violation. ``component_households`` gives,
    per grid, the households of the barrier-bounded area it lies in, to tell a size the
    rules make impossible from a size the solver missed; ``no_in_band_plan`` names grids whose
    area an exhaustive search proved cannot have every grid in band, with the reason.
    """
    violations: list[Violation] = []
    notes: list[Note] = []
    unassigned = buildings["grid_code"].isna()
    for bid in buildings.loc[unassigned].index[:20]:
        violations.append(Violation("assignment", None, f"楼栋 {bid} 不属于任何网格 / building {bid} is in no grid"))
    codes = buildings["grid_code"].to_numpy()
    for code, geom in zip(grids["grid_code"], grids.geometry, strict=True):
        if geom.geom_type != "Polygon":
            why = f"网格边界不是单个多边形 / grid polygon is a {geom.geom_type}"
            violations.append(Violation("single_polygon", code, why))
        members = np.flatnonzero(codes == code)
        if len(members) > 1:
            n, _ = connected_components(subgraph(adjacency, members), directed=False)
            if n > 1:
                why = f"楼栋分成 {n} 个互不相连的片区 / buildings fall into {n} unconnected groups"
                violations.append(Violation("contiguity", code, why))
        core = cores.get(code, geom) if cores else geom
        crossed = barriers[barriers.intersects(geom).to_numpy()]
        inner, core_inner = geom.buffer(-TOLERANCE_M), core.buffer(-TOLERANCE_M)
        lines = crossed.geometry.to_numpy()
        in_core = shapely.length(shapely.intersection(lines, core_inner)) > TOLERANCE_M
        in_grid = shapely.length(shapely.intersection(lines, inner)) > TOLERANCE_M
        for name, crosses, borders in zip(crossed.index, in_core, in_grid, strict=True):
            if crosses:
                violations.append(Violation("barrier", code, f"跨越主干道/铁路/河流 {name} / crosses barrier {name}"))
            elif borders:
                zh = f"为覆盖完整，含 {name} 对面一块无住户街区"
                notes.append(Note(code, zh, f"holds a street block without residents across barrier {name}"))
    violations.extend(_tiling(grids, area))
    if compound_col and compound_col in buildings.columns:
        violations.extend(_compounds(buildings, compound_col, params))
    sizes = grids["households"].to_numpy()
    forced: list[str] = []
    for code, size, n_b in zip(grids["grid_code"], sizes, grids["n_buildings"], strict=True):
        if params.min <= size <= params.max:
            continue
        comp = (component_households or {}).get(code)
        if n_b == 1 and size > params.max:
            notes.append(
                Note(
                    code,
                    f"单栋楼即有 {size} 户 (超过 {params.max})，只能自成一格",
                    f"one building of {size} households (> {params.max}) is its own grid",
                )
            )
            forced.append(code)
        elif comp is not None and math.ceil(comp / params.max) > math.floor(comp / params.min):
            notes.append(
                Note(
                    code,
                    f"{size} 户；所在主干道围合片区共 {comp} 户，无论分几格都无法每格 {params.min}-{params.max} 户",
                    f"{size} households; its barrier-bounded area holds {comp}, which no number of grids splits "
                    f"into [{params.min}, {params.max}]",
                )
            )
            forced.append(code)
        elif no_in_band_plan and code in no_in_band_plan:
            reason = Note.split(code, no_in_band_plan[code])
            notes.append(Note(code, f"{size} 户；{reason.zh}", f"{size} households; {reason.en}"))
            forced.append(code)
        else:
            violations.append(
                Violation("size", code, f"{size} 户，超出 {params.min}-{params.max} 户 / {size} households out of band")
            )
    households = int(buildings["households"].sum())
    return summarise(grids, households, len(buildings), params, violations, notes, forced)


def summarise(
    grids: gpd.GeoDataFrame,
    households: int,
    buildings: int,
    params: PartitionSettings,
    violations: list[Violation],
    notes: list[Note],
    size_infeasible: list[str] | None = None,
) -> PlanMetrics:
    """Headline numbers of a plan from its grid table (``households``, ``polsby_popper``, ``longest_walk_m``).

    ``size_infeasible`` are the grids whose size the rules force out of band; the in-band share
    of the others says how well the solver did where sizes allow.
    """
    sizes = grids["households"].to_numpy()
    dev = np.abs(sizes - params.target) / params.target * 100 if len(sizes) else np.zeros(1)
    in_band = (sizes >= params.min) & (sizes <= params.max)
    free = ~grids["grid_code"].isin(size_infeasible or []).to_numpy() if len(sizes) else np.zeros(0, dtype=bool)
    return PlanMetrics(
        grids=len(grids),
        expected_grids=math.ceil(households / params.target) if households else 0,
        households=households,
        buildings=buildings,
        in_band_share=round(float(np.mean(in_band)) if len(sizes) else 0.0, 4),
        max_abs_deviation_pct=round(float(dev.max()), 1),
        p95_abs_deviation_pct=round(float(np.percentile(dev, 95)), 1),
        mean_polsby_popper=round(float(grids["polsby_popper"].mean()), 3) if "polsby_popper" in grids else 0.0,
        max_longest_walk_m=round(float(grids["longest_walk_m"].max()), 1) if "longest_walk_m" in grids else 0.0,
        violations=violations,
        infeasible=[str(n) for n in notes],
        notes=notes,
        size_infeasible_grids=list(size_infeasible or []),
        in_band_share_feasible=round(float(np.mean(in_band[free])), 4) if free.any() else 1.0,
    )


def _tiling(grids: gpd.GeoDataFrame, area: shapely.Geometry) -> list[Violation]:
    out: list[Violation] = []
    union = shapely.union_all(grids.geometry.to_numpy(), grid_size=0.01)
    overlap = float(grids.geometry.area.sum() - union.area)
    gap = float(shapely.difference(area, union, grid_size=0.01).area)
    if overlap > TOLERANCE_M**2 * 10:
        out.append(Violation("tiling", None, f"网格相互重叠 {overlap:.0f} 平方米 / grids overlap by {overlap:.0f} m²"))
    if gap > TOLERANCE_M**2 * 10:
        why = f"{gap:.0f} 平方米未被任何网格覆盖 / {gap:.0f} m² of the study area is in no grid"
        out.append(Violation("tiling", None, why))
    return out


def _compounds(buildings: gpd.GeoDataFrame, compound_col: str, params: PartitionSettings) -> list[Violation]:
    out: list[Violation] = []
    inside = buildings[buildings[compound_col].notna() & (buildings[compound_col].astype(str) != "-1")]
    for compound, group in inside.groupby(compound_col):
        if int(group["households"].sum()) <= params.max and group["grid_code"].nunique() > 1:
            names = group["compound_name"].dropna() if "compound_name" in group else group[compound_col].iloc[:0]
            name = str(names.iloc[0]) if len(names) else f"#{compound}"
            hh, n = int(group["households"].sum()), group["grid_code"].nunique()
            out.append(
                Violation("compound", None, f"小区 {name}（{hh} 户）被分到 {n} 个网格 / {name} is split over {n} grids")
            )
    return out
