"""15-digit grid codes: 6-digit county + 3-digit 街道 + 3-digit 社区 + 3-digit sequence.

Within a 社区, grids are numbered west→east in rows taken north→south
(the convention of DB11/T 2157-2023). :class:`GridCode` is the one place a code is parsed, split and formatted;
the functions below it do the same for the codes of the units above a grid (NBS 区划代码: province 2 digits,
city 4, county 6, 街道 9, 社区 12), so nothing else slices or pads a code by hand.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, TypeGuard

import numpy as np

from gridmap.errors import InvalidInput

if TYPE_CHECKING:
    import pandas as pd

# What an input field accepts (pydantic ``pattern=``; the OpenAPI document shows them):
GRID_PATTERN = r"^\d{15}$"  # a grid code
COMMUNITY_PATTERN = r"^\d{12}$"  # a 社区 code
UNIT_PATTERN = r"^\d{9}(\d{3})?$"  # a 街道 or 社区 code (a user's unit)
AREA_PATTERN = r"^\d{9,15}$"  # a grid code or the 社区/街道 prefix of one
PREFIX_PATTERN = r"^\d{1,15}$"  # a grid code or any prefix of one (filters by 社区/街道)
PREFIX = re.compile(COMMUNITY_PATTERN)
CODE = re.compile(GRID_PATTERN)
MAX_SEQUENCE = 999
COMMUNITY_DIGITS, STREET_DIGITS = 12, 9  # a grid code's 社区 and 街道 prefixes
Level = Literal["province", "city", "county", "street", "community", "grid"]
UnitLevel = Literal["street", "community", "grid"]
DIGITS: dict[Level, int] = {"province": 2, "city": 4, "county": 6, "street": 9, "community": 12, "grid": 15}
UNIT_LEVELS: dict[int, UnitLevel] = {9: "street", 12: "community", 15: "grid"}
UNIT_DIGITS: dict[str, int] = {level: digits for digits, level in UNIT_LEVELS.items()}  # street → 9, …
ALL_DIGITS = re.compile(r"^[0-9]+$")


@dataclass(frozen=True, order=True)
class GridCode:
    """A grid's code: the 12-digit code of its 社区 and a sequence number within it (1-999)."""

    community: str
    sequence: int

    def __post_init__(self) -> None:
        if not PREFIX.match(self.community):
            raise InvalidInput(
                f"社区编码 {self.community!r} 须为12位数字 / 社区 code must be 12 digits (county 6 + 街道 3 + 社区 3)"
            )
        if not 1 <= self.sequence <= MAX_SEQUENCE:
            raise InvalidInput(f"网格序号须为1-999 / grid sequence must be 1-999, got {self.sequence}")

    @classmethod
    def parse(cls, text: str) -> GridCode:
        """A code from its 15 digits; :class:`InvalidInput` otherwise."""
        if not CODE.match(text):
            raise InvalidInput(f"网格编码 {text!r} 须为15位数字 / a grid code has 15 digits")
        return cls(text[:COMMUNITY_DIGITS], int(text[COMMUNITY_DIGITS:]))

    @property
    def county(self) -> str:
        """The 6-digit 区县 code."""
        return self.community[:6]

    @property
    def street(self) -> str:
        """The 9-digit 街道 code."""
        return self.community[:STREET_DIGITS]

    @property
    def label(self) -> str:
        """The 3-digit sequence (``007``): how a map labels the grid within its 社区."""
        return f"{self.sequence:03d}"

    def __str__(self) -> str:
        return f"{self.community}{self.label}"

    @classmethod
    def free(cls, community: str, taken: Iterable[str]) -> Iterable[GridCode]:
        """The codes of ``community`` not in ``taken``, in sequence order."""
        used = set(taken)
        return (c for seq in range(1, MAX_SEQUENCE + 1) if str(c := cls(community, seq)) not in used)


def community_of(code: str) -> str:
    """The 12-digit 社区 code a grid code carries."""
    return GridCode.parse(code).community


def is_grid_code(text: object) -> TypeGuard[str]:
    """Whether ``text`` is a 15-digit grid code."""
    return isinstance(text, str) and CODE.match(text) is not None


def unit_level(code: str | None) -> UnitLevel | None:
    """``street``, ``community`` or ``grid`` for a code of 9, 12 or 15 digits; None for anything else."""
    if not code or not ALL_DIGITS.match(code):
        return None
    return UNIT_LEVELS.get(len(code))


def unit_at(code: str, level: Level) -> str:
    """The code of the ``level`` unit that holds the unit ``code`` (the 街道 of a 社区 or grid, a 街道's county).

    A code that is no deeper than ``level`` (or is no code, e.g. the placeholder 未定位) is returned as it is.
    """
    digits = DIGITS[level]
    return code[:digits] if len(code) > digits and ALL_DIGITS.match(code) else code


def units_at(codes: pd.Series, level: Level) -> pd.Series:
    """:func:`unit_at` over a column of codes (strings), vectorised."""
    digits = DIGITS[level]
    deeper = codes.str.fullmatch(r"[0-9]+").fillna(False).astype(bool) & (codes.str.len() > digits)
    return codes.str[:digits].where(deeper, codes)


def parent_of(code: str) -> str | None:
    """The unit directly above a 社区 or grid code (its 街道, its 社区); None for a 街道 or anything else."""
    level = unit_level(code)
    if level == "grid":
        return unit_at(code, "community")
    if level == "community":
        return unit_at(code, "street")
    return None


def units_above(code: str) -> list[str]:
    """The 街道 and 社区 codes that hold a 9-, 12- or 15-digit code or are it (no grid): the names it needs."""
    level = unit_level(code)
    if level is None:
        return []
    return [unit_at(code, "street")] + ([unit_at(code, "community")] if level != "street" else [])


def own_number(code: str) -> str:
    """The last 3 digits of a 社区 or grid code: its number within its 街道 or 社区 (``003``)."""
    if unit_level(code) not in ("community", "grid"):
        raise InvalidInput(f"{code!r} 不是社区或网格编码 / not a 社区 or grid code (12 or 15 digits)")
    return code[-3:]


def grid_label(code: object) -> str:
    """The 3-digit label of a grid code (see :attr:`GridCode.label`), or the text as it is when it is no code."""
    return GridCode.parse(code).label if is_grid_code(code) else str(code)


def community_prefix(text: str) -> str | None:
    """The 12-digit 社区 code a unit code starts with (a 社区 boundary's code may carry more digits), else None."""
    head = text[:COMMUNITY_DIGITS]
    return head if PREFIX.match(head) else None


def widen(code: str, level: Level) -> str:
    """A shorter unit code written at ``level``'s length with trailing zeros (the city 3201 as county 320100)."""
    return code + "0" * max(0, DIGITS[level] - len(code))


def community_sql(column: str) -> str:
    """SQL for the 社区 code a grid code column carries (for queries that group or compare by 社区)."""
    return f"left({column}, {COMMUNITY_DIGITS})"


def assign_codes(
    prefixes: Sequence[str],
    x: Sequence[float],
    y: Sequence[float],
    row_height: float,
    taken: frozenset[str] = frozenset(),
) -> list[str]:
    """Codes for grids with community ``prefixes`` and representative points ``x, y`` (metres).

    Codes in ``taken`` (locked grids, codes kept from the plan before) are skipped so they stay unique.
    """
    groups: dict[str, list[int]] = defaultdict(list)
    for i, p in enumerate(prefixes):
        groups[p].append(i)
    codes = [""] * len(prefixes)
    height = max(row_height, 1.0)
    for prefix, members in groups.items():
        free = iter(GridCode.free(prefix, taken))  # validates the prefix
        if len(members) > MAX_SEQUENCE:
            raise InvalidInput(f"社区 {prefix} would have {len(members)} grids; a code holds at most 999")
        top = max(y[i] for i in members)
        order = sorted(members, key=lambda i: (int(np.floor((top - y[i]) / height)), x[i]))
        for i in order:
            code = next(free, None)
            if code is None:
                raise InvalidInput(f"社区 {prefix} has no free grid code left (999 at most)")
            codes[i] = str(code)
    return codes
