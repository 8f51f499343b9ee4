"""Partition benchmark: gridmap on the real 新街口 and 望京 inputs, written to a Markdown table.

Run: .venv/bin/python benchmarks/partition/run.py  (writes benchmarks/partition/results.md)
Peers (spopt MaxP, GerryChain, pymetis) are added by the partitioner issue.
"""

from __future__ import annotations

import time
from pathlib import Path

from gridmap.partition.filemode import plan_input_from_files
from gridmap.partition.pipeline import partition
from gridmap.settings import HouseholdSettings, PartitionSettings

HERE = Path(__file__).resolve().parent
SHARED = HERE.parents[2] / "shared" / "data" / "partition_inputs"
INPUTS = ["nanjing_xinjiekou_2021-06", "beijing_wangjing_2020-09"]


def main() -> None:
    params = PartitionSettings()
    rows = []
    for name in INPUTS:
        data, _ = plan_input_from_files([SHARED / f"{name}.gpkg"], households_field="households", crs=None,
                                        model=HouseholdSettings())
        started = time.perf_counter()
        result = partition(data, params)
        elapsed = time.perf_counter() - started
        m = result.metrics
        rows.append(f"| {name} | gridmap | {m.buildings} | {m.households} | {m.grids} | {m.expected_grids} | "
                    f"{m.in_band_share:.1%} | {m.max_abs_deviation_pct} | {m.p95_abs_deviation_pct} | "
                    f"{len(m.violations)} | {len(m.infeasible)} | {m.mean_polsby_popper} | {elapsed:.2f} |")
    header = ("| input | method | buildings | households | grids | ⌈H/300⌉ | in [240,360] | max dev % | p95 dev % | "
              "violations | infeasible (reported) | mean Polsby-Popper | seconds |\n" + "|---" * 13 + "|")
    table = "\n".join([header, *rows])
    (HERE / "results.md").write_text(f"# Partition benchmark\n\n{table}\n")
    print(table)


if __name__ == "__main__":
    main()
