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


def assign_codes(prefixes: Sequence[str], x: Sequence[float], y: Sequence[float], row_height: float) -> list[str]:
    """Codes for grids with community ``prefixes`` and representative points ``x, y`` (metres)."""
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
        for seq, i in enumerate(order, start=1):
            codes[i] = f"{prefix}{seq:03d}"
    return codes
