"""In-band share and time on the benchmark inputs under other household models and bands (hard variants).

Every real input is solved with several household models (floor area per household, levels) and size bands,
so the solver is not tuned to the four default runs. Prints one row per run: grids, grids out of band that the
rules do not force, the in-band share of the others, and seconds (whole process and exhaustive search alone).

Run: ``python -m benchmarks.partition.hard [--quick]``.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterator

from benchmarks.partition.run import INPUTS
from gridmap.partition import exact
from gridmap.partition.filemode import plan_input_from_files
from gridmap.partition.pipeline import PlanInput, finish, prepare, solve
from gridmap.settings import HouseholdSettings, PartitionSettings

MODELS = {
    "default": HouseholdSettings(),
    "60 m²/household": HouseholdSettings(dwelling_m2=60.0),
    "130 m²/household, 9 levels": HouseholdSettings(dwelling_m2=130.0, default_levels=9),
}
BANDS = {"240-360": (240, 300, 360), "200-300": (200, 250, 300), "270-330": (270, 300, 330)}


def runs(quick: bool) -> Iterator[tuple[str, PlanInput, str, PartitionSettings]]:
    for name, (path, field) in INPUTS.items():
        for model_name, model in MODELS.items():
            if field is not None and model_name != "default":
                continue  # surveyed counts: the model does not apply
            data, _ = plan_input_from_files([path], households_field=field, crs=None, model=model)
            for band_name, (low, target, high) in BANDS.items():
                if quick and band_name != "240-360":
                    continue
                yield f"{name} / {model_name}", data, band_name, PartitionSettings(min=low, target=target, max=high)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="the default band only")
    args = parser.parse_args()
    print("| input / household model | band | grids | out, not forced | in band where sizes allow | s | exact s |")
    print("|---|---|---|---|---|---|---|")
    worst = 1.0
    for name, data, band, params in runs(args.quick):
        exact.clear_cache()
        exact.SECONDS[0] = 0.0
        started = time.perf_counter()
        prep = prepare(data, params)
        result = finish(prep, solve(prep, params), params, started=started)
        seconds = time.perf_counter() - started
        m = result.metrics
        out = [v for v in m.violations if v.rule == "size"]
        worst = min(worst, m.in_band_share_feasible)
        sizes = sorted(
            int(s)
            for s, c in zip(result.grids["households"], result.grids["grid_code"], strict=True)
            if c in {v.grid for v in out}
        )
        print(
            f"| {name} | {band} | {m.grids} | {len(out)} {sizes} | {m.in_band_share_feasible:.1%} | "
            f"{seconds:.2f} | {exact.SECONDS[0]:.2f} |",
            flush=True,
        )
    print(f"\nworst in-band share where sizes allow: {worst:.1%}")


if __name__ == "__main__":
    main()
