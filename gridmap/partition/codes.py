"""15-digit grid codes: 6-digit county + 3-digit 街道 + 3-digit 社区 + 3-digit sequence.

Within a 社区, grids are numbered west→east in rows taken north→south
(the convention of DB11/T 2157-2023).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from gridmap.errors import InvalidInput

PREFIX = re.compile(r"^\d{12}$")


def assign_codes(
    prefixes: Sequence[str],
    x: Sequence[float],
    y: Sequence[float],
    row_height: float,
    taken: frozenset[str] = frozenset(),
) -> list[str]:
    """Codes for grids with community ``prefixes`` and representative points ``x, y`` (metres).

    Codes in ``taken`` (locked grids) are skipped so they stay unique.
    """
    for p in set(prefixes):
        if not PREFIX.match(p):
            raise InvalidInput(f"grid code prefix {p!r} must be 12 digits (county 6 + 街道 3 + 社区 3)")
    groups: dict[str, list[int]] = defaultdict(list)
    for i, p in enumerate(prefixes):
        groups[p].append(i)
    codes = [""] * len(prefixes)
    height = max(row_height, 1.0)
    for prefix, members in groups.items():
        if len(members) > 999:
            raise InvalidInput(f"社区 {prefix} would have {len(members)} grids; a code holds at most 999")
        top = max(y[i] for i in members)
        order = sorted(members, key=lambda i: (int(np.floor((top - y[i]) / height)), x[i]))
        free = (f"{prefix}{seq:03d}" for seq in range(1, 1000) if f"{prefix}{seq:03d}" not in taken)
        for i in order:
            code = next(free, None)
            if code is None:
                raise InvalidInput(f"社区 {prefix} has no free grid code left (999 at most)")
            codes[i] = code
    return codes
