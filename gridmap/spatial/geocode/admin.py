"""Admin names (省/市/区/街道/社区) from the NBS reference tables: stripped as prefixes, checked against the data."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import ahocorasick
import numpy as np
import pandas as pd
import pyogrio
import shapely

from gridmap.partition.codes import unit_at, widen
from gridmap.resources import REFERENCE
from gridmap.spatial.geocode.normalize import normalize

REF = REFERENCE
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


@dataclass(frozen=True)
class AdminName:
    """An admin name found in a text: where, which units it may be (NBS codes), whether in short form."""

    start: int
    end: int
    name: str
    codes: frozenset[str]
    short: bool


@lru_cache(maxsize=4)
def _admin_codes(ref_dir: Path = REF) -> dict[str, frozenset[str]]:
    """Normalised admin name → NBS codes of every unit of that name (朝阳区: Beijing's and Changchun's)."""
    found: dict[str, set[str]] = {}

    def add(name: str, code: str) -> None:
        key = normalize(name)
        if len(key) >= 2:
            found.setdefault(key, set()).add(code)

    for table in ("provinces.csv", "cities.csv"):
        frame = pd.read_csv(ref_dir / table, dtype=str)
        for code, name in zip(frame["code"], frame["name"], strict=True):
            if name in {"市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划"}:
                continue
            add(name, code)
            for suffix in SHORTENABLE:
                if name.endswith(suffix) and len(name) - len(suffix) >= 2:
                    add(name[: -len(suffix)], code)
    for table in ("areas.csv", "streets.csv"):
        frame = pd.read_csv(ref_dir / table, dtype=str)
        for code, name in zip(frame["code"], frame["name"], strict=True):
            if name.endswith(ADMIN_SUFFIXES):
                add(name, code)
    return {k: frozenset(v) for k, v in found.items()}


@lru_cache(maxsize=4)
def _admin_automaton(ref_dir: Path = REF) -> ahocorasick.Automaton:
    automaton = ahocorasick.Automaton()
    for name in _admin_codes(ref_dir):
        automaton.add_word(name, name)
    automaton.make_automaton()
    return automaton


def admin_names_in(text: str, ref_dir: Path = REF) -> list[AdminName]:
    """Admin names in normalised ``text``, leftmost-longest, not overlapping, not part of a road name."""
    codes = _admin_codes(ref_dir)
    spans = sorted(
        ((end + 1 - len(name), end + 1, name) for end, name in _admin_automaton(ref_dir).iter(text)),
        key=lambda s: (s[0], s[0] - s[1]),
    )
    out: list[AdminName] = []
    taken = 0
    for start, end, name in spans:
        if start < taken or ROAD_AFTER.match(text, end):
            continue
        out.append(AdminName(start, end, name, codes[name], short=not name.endswith(ADMIN_SUFFIXES)))
        taken = end
    return out


def consistent(codes: frozenset[str], counties: frozenset[str]) -> bool:
    """Whether a unit of ``codes`` holds, or lies in, one of ``counties`` (6-digit NBS codes)."""
    for code in codes:
        if len(code) <= 6 and any(county.startswith(code) for county in counties):
            return True
        if len(code) > 6 and unit_at(code, "county") in counties:
            return True
    return False


def counties_at(lon: np.ndarray, lat: np.ndarray, ref_dir: Path = REF) -> frozenset[str]:
    """Counties (NBS codes) whose boundary in ``district_boundaries_gcj02`` holds one of the WGS84 points.

    Boundaries are GCJ-02 and the points WGS84: the few hundred metres between them only matter at a county's
    edge, where a neighbouring county then also counts as where the data lies (a check, not a placement).
    """
    if len(lon) == 0:
        return frozenset()
    points = shapely.points(lon, lat)
    found: set[str] = set()
    for path in sorted((ref_dir / "district_boundaries_gcj02").glob("*.geojson")):
        shape = shapely.union_all(pyogrio.read_dataframe(path).geometry.to_numpy()).buffer(0.005)
        if shapely.contains(shape, points).any():
            found.add(widen(path.stem, "county"))
    counties = {c for c in found if not c.endswith("00")}  # a city's outline (320100) only where no county is known
    cities = {unit_at(c, "city") for c in found if c.endswith("00")}
    if cities and not counties:
        areas = pd.read_csv(ref_dir / "areas.csv", dtype=str)
        counties = {str(c) for c in areas["code"] if unit_at(str(c), "city") in cities}
    return frozenset(counties)


def counties_named(texts: list[str], ref_dir: Path = REF) -> frozenset[str]:
    """Where data lies when no boundary holds it: the counties of the city its names mention most (南京图书馆…).

    Only full names of cities and counties count (南京市, 玄武区) and short city names at the start of a name;
    two mentions at least, else nothing (and nothing is checked).
    """
    votes: dict[str, int] = {}
    for text in texts:
        for found in admin_names_in(text, ref_dir):
            if found.short and found.start > 0:
                continue
            for city in {unit_at(c, "city") for c in found.codes if len(c) in (4, 6)}:
                votes[city] = votes.get(city, 0) + 1
    if not votes or max(votes.values()) < 2:
        return frozenset()
    best = max(votes, key=lambda c: votes[c])
    areas = pd.read_csv(ref_dir / "areas.csv", dtype=str)
    return frozenset(str(c) for c in areas["code"] if str(c).startswith(best))
