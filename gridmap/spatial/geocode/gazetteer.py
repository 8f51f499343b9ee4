"""A gazetteer of buildings and the matcher that finds them from address text.

Keys come from building names (望京西园319号楼), ``addr:street`` + ``addr:housenumber``
(中山路18号) and compound + building names. A query is normalised, stripped of admin
prefixes and of unit/floor/room, then matched exactly, then structurally (same numbers,
similar words), then fuzzily. Precision matters more than recall: a candidate whose
numbers differ from the query's is never taken, and an ambiguous answer is "not found".
"""

from __future__ import annotations

import os
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, replace

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from rapidfuzz import fuzz, process
from rapidfuzz.distance import Levenshtein

from gridmap.spatial.crs import metric_crs
from gridmap.spatial.geocode.admin import (
    admin_chain,
    admin_names_in,
    consistent,
    counties_at,
    counties_named,
    strip_admin,
)
from gridmap.spatial.geocode.freetext import Hit, TextFinder
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
    radius_m: float = 15.0  # how far the place reaches from its point: the stated uncertainty
    kind: str = "building"  # building | compound | landmark (a named point: shop, gate, stop…) | address


@dataclass(frozen=True)
class Match:
    """A geocoding answer; ``entry`` is None when nothing was found."""

    query: str
    entry: Entry | None
    level: str  # exact|structured|fuzzy|in_text|pinyin|landmark|interpolated; not_found|ambiguous|outside_area|…
    score: float
    matched_text: str = ""  # the span of the (normalised) text that named the place, or was understood
    uncertainty_m: float | None = None  # how far the place may be from the point: its size, widened by 附近…
    candidates: tuple[Entry, ...] = ()  # when ambiguous: the places it could be
    relation: str = ""  # 门口, 旁边, 附近…: the place is next to the one named
    note: str = ""  # why there is no answer, in words (简体中文 first)


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
    """Building keys → buildings, with exact, structured and fuzzy lookup, and places named inside sentences."""

    def __init__(
        self,
        buildings: gpd.GeoDataFrame,
        compounds: gpd.GeoDataFrame | None = None,
        *,
        landmarks: gpd.GeoDataFrame | None = None,
        area: frozenset[str] | None = None,
    ) -> None:
        """Index ``buildings`` and, by name, ``compounds`` and ``landmarks`` (named POIs: shops, bus stops…).

        Buildings need ``building_id``, ``name``, ``addr_street``, ``addr_housenumber`` and optionally
        ``compound_name``; a compound is answered at a point inside it, without a building. ``area`` is the
        counties (NBS codes) the data lies in: an admin name in a query that contradicts it is refused. None
        finds them from the boundaries in ``cn_ref`` (or the city the names mention); empty checks nothing.
        """
        points = buildings.geometry.representative_point().to_crs(4326)
        radii = _radii(buildings)
        self._full: dict[str, list[Entry]] = defaultdict(list)  # names and addresses as written
        self._short: dict[str, list[Entry]] = defaultdict(list)  # the same without leading admin names
        for (_, row), point, radius in zip(buildings.iterrows(), points, radii, strict=True):
            entry = Entry(str(row["building_id"]), str(row.get("name") or ""), float(point.x), float(point.y), radius)
            for key in _keys(row):
                _add(self._full, key, entry)
                _add(self._short, strip_admin(key), entry)
        self._places: dict[str, list[Entry]] = defaultdict(list)  # compounds and landmarks: after buildings
        for kind, frame in (("compound", compounds), ("landmark", landmarks)):
            if frame is None or frame.empty:
                continue
            inside = frame.geometry.representative_point().to_crs(4326)
            for name, point, radius in zip(frame["name"], inside, _radii(frame), strict=True):
                if isinstance(name, str) and name.strip():
                    entry = Entry("", name, float(point.x), float(point.y), radius, kind)
                    for key in admin_chain(normalize(name)):
                        _add(self._places, _without_xiaoqu(key), entry)
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
        self._in_text = _text_keys(self._full, self._by_key, self._places)
        self._streets = _street_numbers(buildings, points)
        self._longest_street = max(map(len, self._streets), default=0)
        self._finder = TextFinder(self._in_text)
        if area is None:
            area = counties_at(points.x.to_numpy(), points.y.to_numpy()) or counties_named(list(self._full))
        self.area = area
        if area:
            admin_names_in("")  # build the admin automaton now, not on the first query

    def __len__(self) -> int:
        return len(self._keys)

    def lookup(self, query: str) -> Match:
        """The place ``query`` names (a clean name or address, or a sentence naming one), or why there is none."""
        text = normalize(query)
        if not text:
            return Match(query, None, "not_found", 0.0, note="没有地址 / no address given")
        hits = self._finder.find(text)
        refused = self._outside_area(query, text, hits)
        if refused is not None:
            return refused
        clean = self._clean(query)
        if clean.entry is not None or clean.level == "ambiguous":
            return clean
        return self._along_street(query, text) or self._from_hits(query, text, hits)

    def _along_street(self, query: str, text: str) -> Match | None:
        """A 门牌 of a known street that is not mapped: placed between its mapped neighbours on the same side.

        Chinese house numbers run odd on one side of a street and even on the other; a number between two mapped
        ones of its parity is placed along the line between them, in proportion. Beyond the street's mapped
        numbers (or where its side has fewer than two) it is refused: the street may end, or turn, there.
        """
        for found in _HOUSE_NUMBER.finditer(text):
            head = text[: found.start()]
            longest = min(len(head), self._longest_street)  # the longest street name the text can end with
            street = next((head[-k:] for k in range(longest, 1, -1) if head[-k:] in self._streets), None)
            if street is None:
                continue
            number = int(found.group(1))
            side = sorted(p for p in self._streets[street] if p[0] % 2 == number % 2)
            if any(p[0] == number for p in side):
                return None  # mapped: the keys answer it (or found it ambiguous)
            span = f"{street}{number}号"
            below = [p for p in side if p[0] < number]
            above = [p for p in side if p[0] > number]
            if not below or not above:
                known = f"{side[0][0]}–{side[-1][0]}" if side else "无"
                note = (
                    f"「{street}」同侧已知门牌 {known} 号，{number} 号超出范围 / "
                    f"{span} is beyond the mapped numbers of {street} on its side ({known})"
                )
                return Match(query, None, "out_of_range", 0.0, matched_text=span, note=note)
            (n0, x0, y0), (n1, x1, y1) = below[-1], above[0]
            t = (number - n0) / (n1 - n0)
            lon, lat = x0 + t * (x1 - x0), y0 + t * (y1 - y0)
            kx = 111_320 * np.cos(np.radians(lat))
            gap = float(np.hypot((x1 - x0) * kx, (y1 - y0) * 110_540))
            if gap > MAX_GAP_M:
                note = f"「{span}」两侧已知门牌相距 {gap:.0f} 米，无法插值 / mapped neighbours {gap:.0f} m apart"
                return Match(query, None, "not_found", 0.0, matched_text=span, note=note)
            uncertainty = max(15.0, gap * min(t, 1 - t)) + 10.0  # the nearer neighbour is the best evidence
            relation, extra = _relation(text, Hit(found.start() - len(street), found.end(), span, 0))  # 门口, 楼下…
            entry = Entry("", span, float(lon), float(lat), uncertainty, "address")
            score = 100.0 * (1 - min(t, 1 - t))
            return Match(query, entry, "interpolated", score, span, uncertainty + extra, relation=relation)
        return None

    def _clean(self, query: str) -> Match:
        """The whole query as a name or address: exact, then structured, then fuzzy."""
        cores = [split_parts(text).core for text in admin_chain(normalize(query))]
        cores = [core for core in cores if core]
        if not cores:
            return Match(query, None, "not_found", 0.0)
        exact = self._exact(cores) or self._exact(
            [split_parts(text).core for text in admin_chain(normalize(query, all_numerals=True))]
        )
        if exact is not None:
            return self._answer(query, exact[1], "exact", 100.0, exact[0])
        core = cores[-1]
        wanted = numbers(core)
        # Structured: same numbers; the words around them nearly the same (typos, 区/期 variants). Not for a
        # 门牌 of a street we know: 中山东路300号 is not 中山北路300号 (interpolation places it, or refuses).
        house = _HOUSE_NUMBER.search(core)
        known_street = house is not None and core[: house.start()] in self._streets
        choices = self._with_numbers.get(wanted, []) if wanted and not known_street else []
        if choices:
            best = process.extractOne(core, choices, scorer=fuzz.ratio)
            if best is not None and best[1] >= STRUCTURED_MIN:
                return self._answer(query, self._by_key[best[0]], "structured", float(best[1]), core)
        if not wanted:
            # A name without numbers: allow about one typo per six characters, never more. A typo can hide
            # an admin prefix (江可省… for 江苏省…), so the whole text is compared too.
            for text in dict.fromkeys((core, cores[0])):
                found = _closest(text, self._keys, lambda i: not self._numbers[i])
                if found is not None:
                    return self._answer(query, self._by_key[self._keys[found[0]]], "fuzzy", found[1], text)
        return Match(query, None, "not_found", 0.0)

    def _exact(self, cores: list[str]) -> tuple[str, list[Entry]] | None:
        """The longest form of the query that is a key and its entries: names as written before shortened ones."""
        for index in (self._full, self._short):
            for core in cores:
                if core in index:
                    return core, index[core]
        for core in cores:  # a 小区 is named with or without the word 小区
            if _without_xiaoqu(core) in self._places:
                return core, self._places[_without_xiaoqu(core)]
        return None

    def _outside_area(self, query: str, text: str, hits: list[Hit]) -> Match | None:
        """A refusal when an admin name of the text (outside the names of places) is not where the data lies."""
        if not self.area:
            return None
        found = admin_names_in(text)
        starts = {h.start for h in hits} | {a.start for a in found}
        understood: list[str] = []
        wrong: list[str] = []
        for name in found:
            if any(h.start <= name.start and name.end <= h.end for h in hits):
                continue  # part of a place's own name (南京图书馆, 朝阳区第一中心小学)
            if name.short and name.start > 0 and name.end not in starts:
                continue  # 南京, 长春 as a word in a sentence: a city only in front of a place or another admin name
            understood.append(name.name)
            if not consistent(name.codes, self.area):
                wrong.append(name.name)
        if not wrong:
            return None
        note = (
            f"地址中的「{'、'.join(wrong)}」不在本系统的辖区内 / "
            f"{', '.join(wrong)} is outside the area of this data (understood: {' '.join(understood)})"
        )
        return Match(query, None, "outside_area", 0.0, matched_text="".join(understood), note=note)

    def _from_hits(self, query: str, text: str, hits: list[Hit]) -> Match:
        """The place a sentence names: the longest, most specific key found in it, if only one is that good."""
        if not hits:
            return Match(query, None, "not_found", 0.0, note="文中没有找到已知的地点 / no known place in the text")
        ranked = sorted(hits, key=_rank, reverse=True)
        best = ranked[0]
        tied = [h for h in ranked if _rank(h) == _rank(best)]
        entries: list[Entry] = []
        for hit in tied:
            for entry in self._in_text[hit.key]:
                if entry not in entries:
                    entries.append(entry)
        level = "pinyin" if best.mismatches else "in_text"
        span = text[best.start : best.end]
        if len(tied) > 1 and len({h.key for h in tied}) > 1 and _common_place(entries) is None:
            return _ambiguous(query, entries, level, span)
        why = _more_specific(text, best, best.key in self._places or _without_xiaoqu(best.key) in self._places)
        if why:
            return Match(query, None, "not_found", 0.0, matched_text=span, note=why)
        score = 100.0 * (1 - best.mismatches / max(len(best.key), 1))
        match = self._answer(query, entries, level, score, span)
        relation, extra = _relation(text, best)
        if match.entry is None or not relation:
            return match
        return replace(match, relation=relation, uncertainty_m=(match.uncertainty_m or 0.0) + extra)

    def _answer(self, query: str, entries: list[Entry], level: str, score: float, span: str = "") -> Match:
        """One place for ``entries`` (or ambiguous); a landmark named as written answers at level ``landmark``."""
        place = entries[0] if len(entries) == 1 else _common_place(entries)
        if place is None:
            return _ambiguous(query, entries, level, span, score)
        if place.kind == "landmark" and level in {"exact", "in_text"}:
            level = "landmark"  # by sound stays ``pinyin``: the 网格员 should check that one
        return Match(query, place, level, score, span, place.radius_m)


RELATIONS = {  # words of place relation after a place, and how far they reach beyond it (metres)
    "门口": 20.0, "门前": 20.0, "楼下": 10.0, "入口": 20.0, "出口": 20.0, "里面": 0.0, "内": 0.0,
    "旁边": 50.0, "边上": 50.0, "隔壁": 50.0, "后面": 50.0, "前面": 50.0, "背后": 50.0,
    "东侧": 50.0, "西侧": 50.0, "南侧": 50.0, "北侧": 50.0, "东边": 50.0, "西边": 50.0, "南边": 50.0,
    "北边": 50.0, "东面": 50.0, "西面": 50.0, "南面": 50.0, "北面": 50.0, "对面": 60.0, "路口": 80.0,
    "附近": 150.0, "周边": 150.0, "周围": 150.0, "一带": 150.0,
}  # fmt: skip
_UNIT_FLOOR_ROOM = re.compile(r"(?:\d{1,2}单元)?(?:\d{1,2}(?:层|楼))?(?:\d{1,4}(?:室|号房))?")
_HOUSE_NUMBER = re.compile(r"(\d+)号(?!楼(?!下))")  # 300号楼 is a building; 300号楼下 is below 300号
MAX_GAP_M = 300.0  # mapped neighbours farther apart than this say too little about a number between them
_CODE_AFTER = re.compile(r"#?\d|[a-z]")  # 上海路#502, 望京街bus604站: a number or code the key lacks
# A number, or one character where a numeral was mistyped (德基广场出期), before a unit the key lacks.
# Everyday words ending in 期/区/座 that follow a place in a sentence (融科望京中心长期…, 小区 and 社区 of a place):
# no mistyped numeral.
_PLAIN_WORDS = (
    "长期|近期|定期|同期|早期|后期|晚期|中期|初期|末期|前期|假期|学期|日期|时期|星期|周期|为期|如期|到期|逾期|过期|"
    "延期|分期|短期|预期|工期|汛期|社区|小区|城区|市区|地区|街区|片区|辖区|景区|园区|校区|郊区|禁区|山区|讲座|在座|满座"
)
_NUMBER_AFTER = re.compile(rf"\d+[a-z]?(?:号楼|号|座|区|期|栋)|(?!{_PLAIN_WORDS})[\u4e00-\u9fff](?:号楼|座|区|期|栋)")
# What makes a text name another, more specific place than a key it begins with (金鹰 + 国际购物中心 ≠ 金鹰).
_NAME_GOES_ON = re.compile(
    r"(?:分店|分院|分校|分局|大厦|中心|广场|花园|公寓|新村|家园|大楼|公园|医院|学校|小学|中学|大学|幼儿园|酒店|宾馆|超市|"
    r"市场|银行|公司|东路|西路|南路|北路|中路|大街|大道|店|苑|府|城|路(?![灯面边口上])|街(?![边上])|巷(?![口子里])|弄|桥(?![下上])|"
    r"站(?![着在])|馆|院(?![子里内])|局|厂|园(?![里内])|村|坊|寓|阁|庄|轩)"
)


def _rank(hit: Hit) -> tuple[int, int, int]:
    """Longer first (a same-sound character costs one), then more specific: a number (楼号, 门牌) beats none."""
    return (hit.end - hit.start - hit.mismatches, 1 if numbers(hit.key) else 0, -hit.mismatches)


def _more_specific(text: str, hit: Hit, is_place: bool) -> str:
    """Why ``text`` names something the data lacks beyond ``hit`` (a building number, a longer name), or ''."""
    rest = text[hit.end :]
    if is_place and rest.startswith("小区"):
        rest = rest[2:]
    number = _NUMBER_AFTER.match(rest)
    if number and not hit.key.endswith(("号楼", "号")):
        return f"「{hit.key}」没有「{number.group()}」/ {hit.key} has no {number.group()} in the data"
    if any(rest.startswith(word) for word in RELATIONS):
        return ""
    at = _UNIT_FLOOR_ROOM.match(rest)
    if not (at and at.end()) and _CODE_AFTER.match(rest):
        return f"「{hit.key}{rest[:6]}」不在数据中 / {hit.key}{rest[:6]} is not in the data"
    name = _NAME_GOES_ON.match(rest)
    if name:
        return f"「{hit.key}{name.group()}」不在数据中 / {hit.key}{name.group()} is not in the data"
    return ""


def _relation(text: str, hit: Hit) -> tuple[str, float]:
    """The word of place relation right after the place (past 单元/层/室), and how far it reaches."""
    at = _UNIT_FLOOR_ROOM.match(text, hit.end)
    after = text[at.end() if at else hit.end :]
    if hit.key.endswith("楼"):
        after = "楼" + after  # 3号楼下: the 楼 of 楼下 is the building's
    for word, extra in RELATIONS.items():
        if after.startswith(word):
            return word, extra
    return "", 0.0


def _ambiguous(query: str, entries: list[Entry], level: str, span: str, score: float = 0.0) -> Match:
    note = f"「{span}」可能是多个地点，请补充 小区/楼号 / {span} could be several places: add 小区 or building number"
    return Match(query, None, "ambiguous", score, span, None, tuple(entries[:10]), note=note)


def _text_keys(
    full: dict[str, list[Entry]], by_key: dict[str, list[Entry]], places: dict[str, list[Entry]]
) -> dict[str, list[Entry]]:
    """Keys to look for inside sentences: every key, 小区 with and without 小区, 3号楼 also as 3号.

    A name as written wins over the same text left after an admin prefix (图书馆 over 南京图书馆 → 图书馆).
    """
    out: dict[str, list[Entry]] = defaultdict(list)
    full_forms: set[str] = set()
    for index in (full, by_key, places):
        for key, entries in index.items():
            forms = [key]
            if key.endswith("号楼"):
                forms.append(key[:-1])
            if index is places and not key.endswith("小区"):
                forms.append(key + "小区")
            for form in forms:
                if index is not full and form in full_forms:
                    continue
                for entry in entries:
                    _add(out, form, entry)
                if index is full:
                    full_forms.add(form)
    return dict(out)


def _street_numbers(buildings: gpd.GeoDataFrame, points: gpd.GeoSeries) -> dict[str, list[tuple[int, float, float]]]:
    """Normalised street name → its mapped plain house numbers (18, 18号; not 18-1 or 18a) and their points."""
    out: dict[str, list[tuple[int, float, float]]] = defaultdict(list)
    streets = buildings.get("addr_street", pd.Series(None, index=buildings.index))
    houses = buildings.get("addr_housenumber", pd.Series(None, index=buildings.index))
    for street, house, point in zip(streets, houses, points, strict=True):
        if not (isinstance(street, str) and isinstance(house, str)):
            continue
        plain = re.fullmatch(r"(\d+)号?", normalize(house))
        if plain and len(normalize(street)) >= 2:
            out[normalize(street)].append((int(plain.group(1)), float(point.x), float(point.y)))
    return dict(out)


def _radii(frame: gpd.GeoDataFrame) -> list[float]:
    """The radius (metres) of the smallest circle around each geometry, at least 5 m (a point)."""
    if frame.empty:
        return []
    projected = frame.to_crs(metric_crs(frame.to_crs(4326)))
    return [max(5.0, float(r)) for r in shapely.minimum_bounding_radius(projected.geometry.to_numpy())]


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
    reach = max(float(np.hypot(x - cx, y - cy)) + e.radius_m for (x, y), e in zip(xy, entries, strict=True))
    return Entry(nearest.building_id, nearest.name, float(cx / kx), float(cy / ky), reach, nearest.kind)
