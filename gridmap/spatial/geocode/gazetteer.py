"""A gazetteer of buildings and the matcher that finds them from address text.

Keys come from building names (望京西园319号楼), ``addr:street`` + ``addr:housenumber``
(中山路18号) and compound + building names. A query is normalised, stripped of admin
prefixes and of unit/floor/room, then matched exactly, then structurally (same numbers,
similar words), then fuzzily. Precision matters more than recall: a candidate whose
numbers differ from the query's is never taken, and an ambiguous answer is "not found".
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from rapidfuzz import fuzz, process
from rapidfuzz.distance import Levenshtein

from gridmap.spatial.geocode.admin import admin_chain, strip_admin
from gridmap.spatial.geocode.normalize import normalize, numbers, split_parts

STRUCTURED_MIN = 80.0
SAME_PLACE_M = 50.0


@dataclass(frozen=True)
class Entry:
    """One building a key can point to."""

    building_id: str
    name: str
    lon: float
    lat: float


@dataclass(frozen=True)
class Match:
    """A geocoding answer; ``entry`` is None when nothing was found."""

    query: str
    entry: Entry | None
    level: str  # exact | structured | fuzzy | not_found | ambiguous
    score: float


def _housenumber(value: object) -> str:
    text = normalize(str(value))
    return text if text.endswith(("号", "号楼")) or not text[-1:].isdigit() else text + "号"


def _keys(row: pd.Series) -> list[str]:
    """The texts that name the building, in full (admin words of its own name kept: 南京图书馆)."""
    keys: list[str] = []
    name = row.get("name")
    if isinstance(name, str) and name.strip():
        keys.append(normalize(name))
        compound = row.get("compound_name")
        if isinstance(compound, str) and compound.strip():
            keys.append(_in_compound(normalize(compound), normalize(name)))
    street, number = row.get("addr_street"), row.get("addr_housenumber")
    if isinstance(street, str) and street.strip():
        if isinstance(number, str) and number.strip():
            keys.append(normalize(street) + _housenumber(number))
        elif numbers(normalize(street)):
            keys.append(normalize(street))
    return [k for k in keys if len(k) >= 2]


def _in_compound(compound: str, name: str) -> str:
    """How people name a building of a compound: 望京西园三区 + 望京西园319号楼 → 望京西园三区319号楼."""
    shared = len(os.path.commonprefix([compound, name]))
    while shared and name[shared - 1].isdigit():  # 望京西园3区 and 望京西园319号楼 share 望京西园, not 望京西园3
        shared -= 1
    return name if shared == len(compound) else compound + name[shared:]


def with_compound_names(buildings: gpd.GeoDataFrame, compounds: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """``buildings`` with ``compound_name``: the name of the smallest named compound holding each one."""
    named = compounds[compounds["name"].fillna("").str.strip() != ""].to_crs(buildings.crs)
    out = buildings.copy()
    out["compound_name"] = None
    if named.empty or buildings.empty:
        return out
    named = named.assign(_area=shapely.area(named.geometry.to_numpy()))  # degrees will do: only to rank them
    points = gpd.GeoDataFrame(geometry=buildings.geometry.representative_point(), crs=buildings.crs)
    hits = gpd.sjoin(points, named[["name", "_area", "geometry"]], predicate="within").sort_values("_area")
    first = hits[~hits.index.duplicated()]
    out.loc[first.index, "compound_name"] = first["name"]
    return out


def _without_xiaoqu(key: str) -> str:
    return key[: -len("小区")] if key.endswith("小区") and len(key) > 4 else key


def _add(index: dict[str, list[Entry]], key: str, entry: Entry) -> None:
    if len(key) >= 2 and entry not in index[key]:
        index[key].append(entry)


class Gazetteer:
    """Building keys → buildings, with exact, structured and fuzzy lookup."""

    def __init__(self, buildings: gpd.GeoDataFrame, compounds: gpd.GeoDataFrame | None = None) -> None:
        """Index ``buildings`` and, by name, ``compounds``.

        Buildings need ``building_id``, ``name``, ``addr_street``, ``addr_housenumber`` and optionally
        ``compound_name``; a compound is answered at a point inside it, without a building.
        """
        points = buildings.geometry.representative_point().to_crs(4326)
        self._full: dict[str, list[Entry]] = defaultdict(list)  # names and addresses as written
        self._short: dict[str, list[Entry]] = defaultdict(list)  # the same without leading admin names
        for (_, row), point in zip(buildings.iterrows(), points, strict=True):
            entry = Entry(str(row["building_id"]), str(row.get("name") or ""), float(point.x), float(point.y))
            for key in _keys(row):
                _add(self._full, key, entry)
                _add(self._short, strip_admin(key), entry)
        self._places: dict[str, list[Entry]] = defaultdict(list)  # compounds: asked for after buildings
        if compounds is not None and not compounds.empty:
            inside = compounds.geometry.representative_point().to_crs(4326)
            for name, point in zip(compounds["name"], inside, strict=True):
                if isinstance(name, str) and name.strip():
                    for key in admin_chain(normalize(name)):
                        _add(self._places, _without_xiaoqu(key), Entry("", name, float(point.x), float(point.y)))
        every: dict[str, list[Entry]] = defaultdict(list)
        for index in (self._full, self._short):
            for key, entries in index.items():
                for entry in entries:
                    _add(every, key, entry)
        self._by_key = dict(every)
        self._keys = list(self._by_key)
        self._numbers = [numbers(k) for k in self._keys]
        self._with_numbers: dict[tuple[str, ...], list[str]] = defaultdict(list)  # the keys of each number tuple
        for key, found in zip(self._keys, self._numbers, strict=True):
            self._with_numbers[found].append(key)

    def __len__(self) -> int:
        return len(self._keys)

    def lookup(self, query: str) -> Match:
        """The building ``query`` names, or a not-found answer."""
        cores = [split_parts(text).core for text in admin_chain(normalize(query))]
        cores = [core for core in cores if core]
        if not cores:
            return Match(query, None, "not_found", 0.0)
        exact = self._exact(cores) or self._exact(
            [split_parts(text).core for text in admin_chain(normalize(query, all_numerals=True))]
        )
        if exact is not None:
            return self._answer(query, exact, "exact", 100.0)
        core = cores[-1]
        wanted = numbers(core)
        # Structured: same numbers; the words around them nearly the same (typos, 区/期 variants).
        choices = self._with_numbers.get(wanted, []) if wanted else []
        if choices:
            best = process.extractOne(core, choices, scorer=fuzz.ratio)
            if best is not None and best[1] >= STRUCTURED_MIN:
                return self._answer(query, self._by_key[best[0]], "structured", float(best[1]))
        if not wanted:
            # A name without numbers: allow about one typo per six characters, never more. A typo can hide
            # an admin prefix (江可省… for 江苏省…), so the whole text is compared too.
            for text in dict.fromkeys((core, cores[0])):
                found = _closest(text, self._keys, lambda i: not self._numbers[i])
                if found is not None:
                    return self._answer(query, self._by_key[self._keys[found[0]]], "fuzzy", found[1])
        return Match(query, None, "not_found", 0.0)

    def _exact(self, cores: list[str]) -> list[Entry] | None:
        """Entries of the longest form of the query that is a key: names as written before shortened ones."""
        for index in (self._full, self._short):
            for core in cores:
                if core in index:
                    return index[core]
        for core in cores:  # a 小区 is named with or without the word 小区
            if _without_xiaoqu(core) in self._places:
                return self._places[_without_xiaoqu(core)]
        return None

    def _answer(self, query: str, entries: list[Entry], level: str, score: float) -> Match:
        if len(entries) == 1:
            return Match(query, entries[0], level, score)
        place = _common_place(entries)
        return Match(query, place, level, score) if place else Match(query, None, "ambiguous", score)


def _closest(text: str, keys: list[str], usable: Callable[[int], bool]) -> tuple[int, float] | None:
    """The key within one edit per six characters of ``text``, if it is the only one that close."""
    limit = len(text) // 6
    # the two closest keys within the limit (rapidfuzz, in C: a gazetteer of a city has 10^5 keys)
    near = process.extract(text, keys, scorer=Levenshtein.distance, limit=2, score_cutoff=limit)
    if not near or not usable(near[0][2]):
        return None
    if len(near) > 1 and near[1][1] == near[0][1]:
        return None  # two keys equally close: not sure, so not found
    return near[0][2], 100.0 * (1 - float(near[0][1]) / max(len(text), 1))


def _common_place(entries: list[Entry]) -> Entry | None:
    """One point within ``SAME_PLACE_M`` of every entry (two wings of one mall), or None if there is none.

    The point is the centre of the smallest circle around the entries, in metres on a local plane; the answer
    carries the id and name of the entry nearest to it.
    """
    lat0 = float(np.mean([e.lat for e in entries]))
    kx, ky = 111_320 * np.cos(np.radians(lat0)), 110_540
    xy = np.array([(e.lon * kx, e.lat * ky) for e in entries])
    points = shapely.multipoints(xy)
    if shapely.minimum_bounding_radius(points) > SAME_PLACE_M:
        return None
    cx, cy = shapely.get_coordinates(shapely.centroid(shapely.minimum_bounding_circle(points)))[0]
    nearest = entries[int(np.argmin(np.hypot(xy[:, 0] - cx, xy[:, 1] - cy)))]
    return Entry(nearest.building_id, nearest.name, float(cx / kx), float(cy / ky))
