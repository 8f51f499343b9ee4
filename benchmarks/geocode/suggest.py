"""Address suggestions while typing: build time and time per query, on the two extracts and at city scale.

The extracts' buildings and 小区 are read as ``gridmap geocode`` reads them; the city-scale index has 100,000
synthetic 楼栋 names (seeded). Queries are the first 1, 2 and 4 characters of labels picked at random plus names
that are in no label (a miss scans everything). The first query of a process also loads the NBS admin names
(shared with the gazetteer) and is left out of the percentiles; it is reported on its own.

    .venv/bin/python -m benchmarks.geocode.suggest      # writes benchmarks/geocode/suggest.md
"""

from __future__ import annotations

import random
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

from gridmap.spatial.geocode.batch import gazetteer_layers
from gridmap.spatial.geocode.suggest import Suggester

HERE = Path(__file__).resolve().parent
OSM = HERE.parents[1] / "data" / "boundaries" / "osm"
WORDS = list("东南西北中山华阳光明金银花园新村苑城府里巷路街龙凤江河湖海")


def synthetic(n: int, seed: int = 0) -> gpd.GeoDataFrame:
    """``n`` buildings named like 华阳光明12号楼, on a line of small squares."""
    rng = random.Random(seed)
    names = ["".join(rng.choices(WORDS, k=4)) + f"{rng.randint(1, 300)}号楼" for _ in range(n)]
    boxes = [shapely.box(118 + i * 1e-6, 32, 118 + i * 1e-6 + 1e-5, 32.00001) for i in range(n)]
    empty = [None] * n
    columns = {"building_id": range(n), "name": names, "addr_street": empty, "addr_housenumber": empty}
    return gpd.GeoDataFrame(columns | {"compound_name": empty}, geometry=boxes, crs=4326)


def measure(name: str, suggester: Suggester, build_s: float, seed: int = 1) -> str:
    """One table row: entries, build time, first query, p50/p95/max of the rest."""
    rng = random.Random(seed)
    labels = [s.label for s in suggester._items]
    picked = rng.sample(labels, min(300, len(labels)))
    queries = [label[:k] for label in picked for k in (1, 2, 4)] + ["不存在的名字", "zzz", "999号楼"]
    start = time.perf_counter()
    suggester.suggest("初次")
    first_ms = 1000 * (time.perf_counter() - start)
    times = []
    for q in queries:
        start = time.perf_counter()
        suggester.suggest(q)
        times.append(1000 * (time.perf_counter() - start))
    p50, p95 = np.percentile(times, [50, 95])
    return (
        f"| {name} | {len(suggester):,} | {build_s:.2f} | {first_ms:.0f} | {len(times)} | {p50:.2f} | {p95:.2f} "
        f"| {max(times):.2f} |"
    )


def main() -> None:
    """Run and write ``suggest.md``."""
    rows = []
    for extract in ("nanjing_xinjiekou_2021-06", "beijing_wangjing_2020-09"):
        layers = gazetteer_layers([OSM / f"{extract}.osm"])
        start = time.perf_counter()
        built = Suggester(*layers)
        rows.append(measure(extract, built, time.perf_counter() - start))
    frame = synthetic(100_000)
    start = time.perf_counter()
    built = Suggester(frame)
    rows.append(measure("synthetic city, 100,000 楼栋", built, time.perf_counter() - start))
    table = "\n".join(
        [
            "# Address suggestions (GET /api/geocode/suggest)",
            "",
            "Time inside `Suggester` (no HTTP, no database): build once per database and buildings version, then",
            "one search per keystroke. First query includes loading the NBS admin names (once per process).",
            "",
            "| index | entries | build s | first query ms | queries | p50 ms | p95 ms | max ms |",
            "|---|---|---|---|---|---|---|---|",
            *rows,
            "",
            "Reproduce: `.venv/bin/python -m benchmarks.geocode.suggest`",
            "",
        ]
    )
    (HERE / "suggest.md").write_text(table, encoding="utf-8")
    print(table)  # noqa: T201


if __name__ == "__main__":
    main()
