"""Address suggestions while typing: 小区, 地标, 楼栋 and 门牌 whose name contains what was typed so far.

The gazetteer answers a finished address with one building or none; a reporter typing on a phone wants a short
list to tap instead. Each suggestion carries its point, so the chosen one is reported by point (no second guess).
Typed text and names are compared in the gazetteer's normal form (全角, 栋/幢/号楼, numerals), with and without
leading admin names, so 玄武区香铺营 finds 香铺营小区.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from itertools import accumulate

import geopandas as gpd

from gridmap.spatial.geocode.admin import strip_admin
from gridmap.spatial.geocode.gazetteer import _in_compound
from gridmap.spatial.geocode.normalize import normalize

KINDS = {"compound": "小区", "landmark": "地标", "building": "楼栋", "address": "门牌"}
_RANK = {"compound": 0, "landmark": 1, "building": 2, "address": 3}


@dataclass(frozen=True)
class Suggestion:
    """A place to offer: its label as people write it, its kind, its point and building (if one)."""

    label: str
    kind: str  # compound | landmark | building | address
    lon: float
    lat: float
    building_id: str | None


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


def _housenumber(number: str) -> str:
    return number if number.endswith("号") or not number[-1:].isdigit() else number + "号"


class Suggester:
    """Labels of buildings, their addresses and 小区, searched by substring of the normal form.

    The normal forms are kept in one string, best-ranked first and each after a line break, so a search is a few
    ``str.find`` calls in C (a city's 10^5 labels answer in about a millisecond) and the first hits are the best.
    """

    def __init__(
        self,
        buildings: gpd.GeoDataFrame,
        compounds: gpd.GeoDataFrame | None = None,
        landmarks: gpd.GeoDataFrame | None = None,
    ) -> None:
        """Index ``buildings`` (``building_id``, ``name``, ``addr_street``, ``addr_housenumber``, ``compound_name``).

        ``compounds`` and ``landmarks`` (named points under the names people call them) need ``name`` and a geometry.
        """
        found: dict[tuple[str, str], Suggestion] = {}
        points = buildings.geometry.representative_point().to_crs(4326)
        columns = [buildings.get(c, [None] * len(buildings)) for c in ("name", "compound_name", "addr_street")]
        numbers = buildings.get("addr_housenumber", [None] * len(buildings))
        for bid, point, name, compound, street, number in zip(
            buildings["building_id"], points, *columns, numbers, strict=True
        ):
            x, y = float(point.x), float(point.y)
            name, compound, street, number = _text(name), _text(compound), _text(street), _text(number)
            if name:
                label = _in_compound(compound, name) if compound else name
                found.setdefault(("building", label), Suggestion(label, "building", x, y, str(bid)))
            if street and number:
                label = street + _housenumber(number)
                found.setdefault(("address", label), Suggestion(label, "address", x, y, str(bid)))
        for kind, places in (("compound", compounds), ("landmark", landmarks)):
            if places is None or places.empty:
                continue
            inside = places.geometry.representative_point().to_crs(4326)
            for name, point in zip(places["name"], inside, strict=True):
                if _text(name):
                    label = _text(name)
                    found.setdefault((kind, label), Suggestion(label, kind, point.x, point.y, None))
        self._items = sorted(found.values(), key=lambda s: (_RANK[s.kind], len(s.label), s.label))
        keys = [normalize(s.label).replace("\n", "") for s in self._items]
        self._text = "".join("\n" + k for k in keys)
        self._starts = list(accumulate((len(k) + 1 for k in keys), initial=0))[:-1]  # where each key's line begins

    def __len__(self) -> int:
        return len(self._items)

    def _hits(self, needle: str, skip: set[int], limit: int) -> list[int]:
        """Indexes of the first ``limit`` items whose line holds ``needle`` (not in ``skip``), in rank order."""
        out: list[int] = []
        at = self._text.find(needle)
        while at >= 0 and len(out) < limit:
            index = bisect_right(self._starts, at) - 1
            if index not in skip:
                out.append(index)
                skip.add(index)
            at = self._text.find(needle, self._starts[index + 1] if index + 1 < len(self._starts) else len(self._text))
        return out

    def suggest(self, typed: str, limit: int = 8) -> list[Suggestion]:
        """Up to ``limit`` places whose label contains ``typed``: those starting with it first, 小区 before 楼栋."""
        typed = normalize(typed).replace("\n", "")
        wanted = [w for w in dict.fromkeys((typed, strip_admin(typed))) if w]
        seen: set[int] = set()
        first = [i for w in wanted for i in self._hits("\n" + w, seen, limit)]
        rest = [i for w in wanted for i in self._hits(w, seen, limit)]
        return [self._items[i] for i in (sorted(first) + sorted(rest))[:limit]]
