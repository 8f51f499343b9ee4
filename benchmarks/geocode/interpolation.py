"""门牌 interpolation measured by leave-one-out, and numbers beyond a street's mapped range.

For every plain mapped house number (18, 18号; not 18-1 or 18a) of a street, all its copies are hidden from the
street's numbers, and the number is asked of the interpolation step (``Gazetteer._along_street``; the full lookup
would answer the hidden building's own address key exactly): gridmap places it between its nearest mapped
neighbours of the same parity (odd/even side) or refuses it (no neighbour on one side: ``out_of_range``;
neighbours more than 300 m apart: ``not_found``). The error is the distance from the answer to the nearest hidden
copy. The hidden number is asked alone and inside a complaint sentence. Then for each street side, numbers beyond
its lowest and highest mapped ones (same parity) are asked of the full lookup: every one must be refused.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass

import geopandas as gpd
import numpy as np

from gridmap.spatial.geocode.gazetteer import Gazetteer
from gridmap.spatial.geocode.normalize import normalize


@dataclass
class LeaveOneOut:
    """What leave-one-out found on one extract."""

    mapped: int = 0  # plain (street, number) pairs
    asked: int = 0  # of those, with a mapped neighbour of the same side below and above
    answered: int = 0
    in_sentence: int = 0  # answered inside a sentence, at the same point
    errors: list[float] | None = None  # metres, one per answer
    within_stated: int = 0  # answers whose error is within the stated uncertainty
    edge_refused: int = 0  # numbers at an end of their side: refused (out_of_range), as they should be
    edges: int = 0
    beyond: int = 0  # numbers beyond the mapped range asked
    beyond_refused: int = 0


def _metres(lon: float, lat: float, lon2: float, lat2: float) -> float:
    kx = 111_320 * np.cos(np.radians(lat))
    return float(np.hypot((lon - lon2) * kx, (lat - lat2) * 110_540))


def leave_one_out(gaz: Gazetteer, sentence: Callable[[str, random.Random], str], rng: random.Random) -> LeaveOneOut:
    """Hide each mapped plain 门牌 of ``gaz``'s streets in turn and interpolate it from its same-side neighbours."""
    out = LeaveOneOut(errors=[])
    assert out.errors is not None
    streets = gaz._streets  # normalised street → [(number, lon, lat)] of its plain mapped numbers
    for street, points in list(streets.items()):
        numbers = sorted({n for n, _, _ in points})
        out.mapped += len(numbers)
        for number in numbers:
            copies = [(x, y) for n, x, y in points if n == number]
            side = [n for n in numbers if n % 2 == number % 2 and n != number]
            inner = any(n < number for n in side) and any(n > number for n in side)
            query = f"{street}{number}号"
            streets[street] = [p for p in points if p[0] != number]
            try:
                match = gaz._along_street(query, normalize(query))
                spoken = gaz._along_street(query, normalize(sentence(query, rng)))
            finally:
                streets[street] = points
            if not inner:
                out.edges += 1
                out.edge_refused += match is not None and match.level == "out_of_range"
                continue
            out.asked += 1
            if match is None or match.entry is None:
                continue
            out.answered += 1
            error = min(_metres(match.entry.lon, match.entry.lat, x, y) for x, y in copies)
            out.errors.append(error)
            out.within_stated += error <= (match.uncertainty_m or 0.0)
            heard = spoken.entry if spoken is not None else None
            out.in_sentence += heard is not None and (heard.lon, heard.lat) == (match.entry.lon, match.entry.lat)
        for parity in (0, 1):
            side = [n for n in numbers if n % 2 == parity]
            if not side:
                continue
            wanted = [side[-1] + 2, side[-1] + 100] + ([side[0] - 2] if side[0] - 2 > 0 else [])
            for number in wanted:
                if number in numbers:
                    continue
                out.beyond += 1
                out.beyond_refused += gaz.lookup(f"{street}{number}号").entry is None
    return out


def plain_numbers(buildings: gpd.GeoDataFrame) -> int:
    """How many buildings carry a plain house number with a street."""
    plain = buildings["addr_housenumber"].fillna("").map(lambda v: bool(re.fullmatch(r"\d+号?", normalize(str(v)))))
    return int((plain & buildings["addr_street"].notna()).sum())


def row(source: str, r: LeaveOneOut) -> str:
    """One line of the markdown table."""
    errors = np.array(r.errors or [])
    median = f"{np.median(errors):.0f}" if len(errors) else "–"
    p90 = f"{np.percentile(errors, 90):.0f}" if len(errors) else "–"
    within = f"{(errors <= 50).mean():.2f}" if len(errors) else "–"
    stated = f"{r.within_stated / len(errors):.2f}" if len(errors) else "–"
    return (
        f"| {source} | {r.mapped} | {r.asked} | {r.answered} | {r.in_sentence} | {median} | {p90} | {within} | "
        f"{stated} | {r.edge_refused}/{r.edges} | {r.beyond_refused}/{r.beyond} |"
    )


HEADER = [
    "| source | mapped plain 门牌 | hidden with neighbours both sides | interpolated | same in a sentence "
    "| median error m | p90 error m | within 50 m | within stated uncertainty | ends of a side refused "
    "| beyond the range refused |",
    "|---|---|---|---|---|---|---|---|---|---|---|",
]
