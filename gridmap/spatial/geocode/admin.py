"""Strip administrative prefixes (省/市/区/街道/社区) checked against the NBS reference tables."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import pandas as pd

from gridmap.spatial.geocode.normalize import normalize

REF = Path(__file__).resolve().parents[3] / "data" / "boundaries" / "cn_ref"
SHORTENABLE = ("省", "市", "自治区", "特别行政区")
ADMIN_SUFFIXES = ("省", "市", "区", "县", "旗", "街道", "镇", "乡", "社区", "地区", "街区", "苏木", "居委会", "村委会")
# A name followed by a road word is part of a road name (中山路, 北京西路, 中山东路), not a prefix.
ROAD_AFTER = re.compile(r"[东西南北中]?(?:路|街|大街|大道|巷|道|弄|里|胡同|桥|门|园|村)")


@lru_cache(maxsize=4)
def admin_names(ref_dir: Path = REF) -> frozenset[str]:
    """Normalised admin names, longest first.

    Provinces and cities also in short form (北京, 南京); counties, 街道 and 社区 only in
    full (朝阳区, 望京街道, 望京西园三区社区) so that a place name such as 望京西园 is
    never mistaken for the 望京 of 望京街道.
    """
    names: set[str] = set()
    for table in ("provinces.csv", "cities.csv"):
        for name in pd.read_csv(ref_dir / table, dtype=str)["name"]:
            if name in {"市辖区", "县"}:
                continue
            names.add(normalize(name))
            for suffix in SHORTENABLE:
                if name.endswith(suffix) and len(name) - len(suffix) >= 2:
                    names.add(normalize(name[: -len(suffix)]))
    for table in ("areas.csv", "streets.csv"):
        names.update(
            normalize(n) for n in pd.read_csv(ref_dir / table, dtype=str)["name"] if n.endswith(ADMIN_SUFFIXES)
        )
    for name in pd.read_csv(ref_dir / "villages_subset.csv", dtype=str)["name"]:
        for suffix in ("社区居委会", "居委会", "村委会"):
            if name.endswith(suffix):
                names.add(normalize(name[: -len(suffix)] + "社区"))
                names.add(normalize(name))
    return frozenset(n for n in names if len(n) >= 2)


def admin_chain(text: str, names: frozenset[str] | None = None) -> list[str]:
    """``text``, then ``text`` without each further leading admin name (北京市朝阳区望京… → 朝阳区望京… → 望京…).

    A place can carry an admin word in its own name (江苏省美术馆, 南京图书馆): the caller tries the longer
    forms first, so that name is not cut down to one that other places share (美术馆, 图书馆).
    """
    names = names if names is not None else admin_names()
    chain = [text]
    while True:
        for end in range(min(len(text) - 2, 20), 1, -1):  # longest admin name first; keep >= 2 chars
            if text[:end] in names and not ROAD_AFTER.match(text, end):
                text = text[end:]
                chain.append(text)
                break
        else:
            return chain


def strip_admin(text: str, names: frozenset[str] | None = None) -> str:
    """``text`` without leading admin names (several may follow each other: 北京市朝阳区望京街道…)."""
    return admin_chain(text, names)[-1]
