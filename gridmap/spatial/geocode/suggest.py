"""Address suggestions while typing: 小区, 楼栋 and 门牌 whose name contains what was typed so far.

The gazetteer answers a finished address with one building or none; a reporter typing on a phone wants a short
list to tap instead. Each suggestion carries its point, so the chosen one is reported by point (no second guess).
Typed text and names are compared in the gazetteer's normal form (全角, 栋/幢/号楼, numerals), with and without
leading admin names, so 玄武区香铺营 finds 香铺营小区.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd

from gridmap.spatial.geocode.admin import strip_admin
from gridmap.spatial.geocode.gazetteer import _in_compound
from gridmap.spatial.geocode.normalize import normalize

KINDS = {"compound": "小区", "building": "楼栋", "address": "门牌"}
_RANK = {"compound": 0, "building": 1, "address": 2}


@dataclass(frozen=True)
class Suggestion:
    """A place to offer: its label as people write it, its kind, its point and building (if one)."""

    label: str
    kind: str  # compound | building | address
    lon: float
    lat: float
    building_id: str | None


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


def _housenumber(number: str) -> str:
    return number if number.endswith("号") or not number[-1:].isdigit() else number + "号"


class Suggester:
    """Labels of buildings, their addresses and 小区, searched by substring of the normal form."""

    def __init__(self, buildings: gpd.GeoDataFrame, compounds: gpd.GeoDataFrame | None = None) -> None:
        """Index ``buildings`` (``building_id``, ``name``, ``addr_street``, ``addr_housenumber``, ``compound_name``)."""
        found: dict[tuple[str, str], Suggestion] = {}
        points = buildings.geometry.representative_point().to_crs(4326)
        for (_, row), point in zip(buildings.iterrows(), points, strict=True):
            bid, x, y = str(row["building_id"]), float(point.x), float(point.y)
            name, compound = _text(row.get("name")), _text(row.get("compound_name"))
            street, number = _text(row.get("addr_street")), _text(row.get("addr_housenumber"))
            if name:
                label = _in_compound(compound, name) if compound else name
                found.setdefault(("building", label), Suggestion(label, "building", x, y, bid))
            if street and number:
                label = street + _housenumber(number)
                found.setdefault(("address", label), Suggestion(label, "address", x, y, bid))
        if compounds is not None and not compounds.empty:
            inside = compounds.geometry.representative_point().to_crs(4326)
            for name, point in zip(compounds["name"], inside, strict=True):
                if _text(name):
                    label = _text(name)
                    found.setdefault(("compound", label), Suggestion(label, "compound", point.x, point.y, None))
        self._items = sorted(found.values(), key=lambda s: (_RANK[s.kind], len(s.label), s.label))
        self._keys = [normalize(s.label) for s in self._items]

    def __len__(self) -> int:
        return len(self._items)

    def suggest(self, typed: str, limit: int = 8) -> list[Suggestion]:
        """Up to ``limit`` places whose label contains ``typed``: those starting with it first, 小区 before 楼栋."""
        wanted = {normalize(typed)}
        wanted |= {strip_admin(w) for w in wanted}
        wanted = {w for w in wanted if w}
        if not wanted:
            return []
        starts: list[Suggestion] = []
        contains: list[Suggestion] = []
        for item, key in zip(self._items, self._keys, strict=True):
            if any(key.startswith(w) for w in wanted):
                starts.append(item)
                if len(starts) >= limit:
                    break
            elif len(contains) < limit and any(w in key for w in wanted):
                contains.append(item)
        return (starts + contains)[:limit]
