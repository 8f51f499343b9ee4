"""A gazetteer of buildings and the matcher that finds them from address text.

Keys come from building names (望京西园319号楼), ``addr:street`` + ``addr:housenumber``
(中山路18号) and compound + building names. A query is normalised, stripped of admin
prefixes and of unit/floor/room, then matched exactly, then structurally (same numbers,
similar words), then fuzzily. Precision matters more than recall: a candidate whose
numbers differ from the query's is never taken, and an ambiguous answer is "not found".
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
from rapidfuzz import fuzz, process
from rapidfuzz.distance import Levenshtein

from gridmap.spatial.geocode.admin import strip_admin
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
    keys: list[str] = []
    name = row.get("name")
    if isinstance(name, str) and name.strip():
        keys.append(strip_admin(normalize(name)))
        compound = row.get("compound_name")
        if isinstance(compound, str) and compound and not normalize(name).startswith(normalize(compound)):
            keys.append(normalize(compound) + normalize(name))
    street, number = row.get("addr_street"), row.get("addr_housenumber")
    if isinstance(street, str) and street.strip():
        if isinstance(number, str) and number.strip():
            keys.append(strip_admin(normalize(street)) + _housenumber(number))
        elif numbers(normalize(street)):
            keys.append(strip_admin(normalize(street)))
    return [k for k in keys if len(k) >= 2]


class Gazetteer:
    """Building keys → buildings, with exact, structured and fuzzy lookup."""

    def __init__(self, buildings: gpd.GeoDataFrame) -> None:
        points = buildings.geometry.representative_point().to_crs(4326)
        self._by_key: dict[str, list[Entry]] = defaultdict(list)
        self._by_name: dict[str, list[Entry]] = defaultdict(list)  # whole names, admin prefix kept
        for (_, row), point in zip(buildings.iterrows(), points, strict=True):
            entry = Entry(str(row["building_id"]), str(row.get("name") or ""), float(point.x), float(point.y))
            for key in _keys(row):
                if entry not in self._by_key[key]:
                    self._by_key[key].append(entry)
            name = row.get("name")
            if isinstance(name, str) and len(normalize(name)) >= 6 and not numbers(normalize(name)):
                self._by_name[normalize(name)].append(entry)
        self._keys = list(self._by_key)
        self._numbers = [numbers(k) for k in self._keys]
        self._names = list(self._by_name)

    def __len__(self) -> int:
        return len(self._keys)

    def lookup(self, query: str) -> Match:
        """The building ``query`` names, or a not-found answer."""
        core = split_parts(strip_admin(normalize(query))).core
        if not core:
            return Match(query, None, "not_found", 0.0)
        if core in self._by_key:
            return self._answer(query, self._by_key[core], "exact", 100.0)
        wanted = numbers(core)
        # Structured: same numbers; the words around them nearly the same (typos, 区/期 variants).
        same = [i for i, n in enumerate(self._numbers) if n == wanted] if wanted else []
        if same:
            choices = [self._keys[i] for i in same]
            best = process.extractOne(core, choices, scorer=fuzz.ratio)
            if best is not None and best[1] >= STRUCTURED_MIN:
                return self._answer(query, self._by_key[best[0]], "structured", float(best[1]))
        if not wanted:
            # A name without numbers: allow about one typo per six characters, never more.
            found = _closest(core, self._keys, lambda i: not self._numbers[i])
            if found is not None:
                return self._answer(query, self._by_key[self._keys[found[0]]], "fuzzy", found[1])
            # A typo can hide an admin prefix (江可省… for 江苏省…): compare whole names, prefixes kept.
            whole = split_parts(normalize(query)).core
            found = _closest(whole, self._names, lambda i: True) if whole != core and len(whole) >= 6 else None
            if found is not None:
                return self._answer(query, self._by_name[self._names[found[0]]], "fuzzy", found[1])
        return Match(query, None, "not_found", 0.0)

    def _answer(self, query: str, entries: list[Entry], level: str, score: float) -> Match:
        if len(entries) > 1 and _spread_m(entries) > SAME_PLACE_M:
            return Match(query, None, "ambiguous", score)
        return Match(query, entries[0], level, score)


def _closest(text: str, keys: list[str], usable: Callable[[int], bool]) -> tuple[int, float] | None:
    """The key within one edit per six characters of ``text``, if it is the only one that close."""
    distances = np.array([Levenshtein.distance(text, key) for key in keys])
    if not len(distances):
        return None
    order = np.argsort(distances, kind="stable")
    best = int(order[0])
    limit = len(text) // 6
    if distances[best] > limit or not usable(best):
        return None
    if len(order) > 1 and distances[int(order[1])] == distances[best]:
        return None  # two keys equally close: not sure, so not found
    return best, 100.0 * (1 - float(distances[best]) / max(len(text), 1))


def _spread_m(entries: list[Entry]) -> float:
    lon = np.array([e.lon for e in entries])
    lat = np.array([e.lat for e in entries])
    dx = (lon.max() - lon.min()) * 111_320 * np.cos(np.radians(lat.mean()))
    dy = (lat.max() - lat.min()) * 110_540
    return float(np.hypot(dx, dy))
