"""15-digit grid codes: 6-digit county + 3-digit 街道 + 3-digit 社区 + 3-digit sequence.

Within a 社区, grids are numbered west→east in rows taken north→south
(the convention of DB11/T 2157-2023). :class:`GridCode` is the one place a code is parsed, split and formatted.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from gridmap.errors import InvalidInput

PREFIX = re.compile(r"^\d{12}$")
CODE = re.compile(r"^\d{15}$")
MAX_SEQUENCE = 999
COMMUNITY_DIGITS, STREET_DIGITS = 12, 9  # a grid code's 社区 and 街道 prefixes (vectorised lookups use these)


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

    def __str__(self) -> str:
        return f"{self.community}{self.sequence:03d}"

    @classmethod
    def free(cls, community: str, taken: Iterable[str]) -> Iterable[GridCode]:
        """The codes of ``community`` not in ``taken``, in sequence order."""
        used = set(taken)
        return (c for seq in range(1, MAX_SEQUENCE + 1) if str(c := cls(community, seq)) not in used)


def community_of(code: str) -> str:
    """The 12-digit 社区 code a grid code carries."""
    return GridCode.parse(code).community


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
