"""Stability: move one building ~20 m and count how many *other* buildings change grid.

Run:  .venv/bin/python -m benchmarks.partition.stability   (writes benchmarks/partition/stability.md)
Grids of the two plans are matched by the most shared buildings, so renumbering is not counted as change.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import shapely

from gridmap.partition.filemode import plan_input_from_files
from gridmap.partition.pipeline import PlanInput, partition
from gridmap.settings import HouseholdSettings, PartitionSettings

HERE = Path(__file__).resolve().parent
SHARED = HERE.parents[1] / "data" / "boundaries" / "partition_inputs"
TRIALS = 20
SHIFT_DEG = 0.0002  # about 20 m


def changed_share(before: pd.Series, after: pd.Series, moved: str) -> float:
    """Share of buildings other than ``moved`` whose grid differs after matching grids by overlap."""
    both = pd.DataFrame({"a": before, "b": after}).drop(index=moved)
    match = both.groupby("b")["a"].agg(lambda s: s.value_counts().idxmax())
    return float((both["b"].map(match) != both["a"]).mean())


def main() -> None:
    params = PartitionSettings()
    rows = []
    for name in ("nanjing_xinjiekou_2021-06", "beijing_wangjing_2020-09"):
        data, _ = plan_input_from_files(
            [SHARED / f"{name}.gpkg"], households_field="households", crs=None, model=HouseholdSettings()
        )
        base = partition(data, params, with_metrics=False).buildings["grid_code"]
        rng = np.random.default_rng(7)
        shares = []
        for index in rng.choice(data.buildings.index.to_numpy(), size=TRIALS, replace=False):
            moved = data.buildings.copy()
            angle = rng.uniform(0, 2 * np.pi)
            offset = (SHIFT_DEG * np.cos(angle), SHIFT_DEG * np.sin(angle))
            moved.loc[index, "geometry"] = shapely.transform(moved.loc[index, "geometry"], lambda c, o=offset: c + o)
            after = partition(PlanInput(moved, data.streets, data.communities), params, with_metrics=False)
            shares.append(changed_share(base, after.buildings["grid_code"], index))
        s = np.array(shares)
        rows.append(
            f"| {name} | {TRIALS} | {np.median(s):.1%} | {s.mean():.1%} | {np.percentile(s, 90):.1%} | "
            f"{(s == 0).mean():.0%} |"
        )
        print(rows[-1], flush=True)
    header = (
        "| input | buildings moved (one at a time, ~20 m) | median other buildings changed | mean | p90 | "
        "runs with no other change |\n|---|---|---|---|---|---|"
    )
    (HERE / "stability.md").write_text("# Partition stability\n\n" + header + "\n" + "\n".join(rows) + "\n")


if __name__ == "__main__":
    main()
