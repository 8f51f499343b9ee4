"""五个一 KPIs per grid, 社区, 街道 or worker: patrol days and minutes, short patrols, visits per kind, 遍访 share.

The 遍访 share is the households visited in the current period of the routine plan over the households of the
grids (a worker: of the grids assigned to them). Patrol days count the days (service time zone) with a finished
patrol; a patrol shorter than the minimum counts as a patrol and as short.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import pandas as pd
from sqlalchemy.orm import Session

from gridmap.fieldwork import queries as q
from gridmap.fieldwork.kinds import VisitKind
from gridmap.fieldwork.visits import states
from gridmap.partition.codes import unit_at
from gridmap.settings import FieldworkSettings

LEVELS = ("grid", "community", "street", "all", "worker")
COLUMNS = [
    "patrols",
    "patrol_days",
    "patrol_minutes",
    "short_patrols",
    "visits",
    *(f"visits_{k.value}" for k in VisitKind),
    "households",
    "households_visited",
    "visit_share",
]


@dataclass(frozen=True)
class Period:
    """The KPI period: instants for patrols, days for visits, today for the 遍访 state."""

    since: datetime
    until: datetime
    first_day: date
    end_day: date  # exclusive
    today: date
    tz: str


def _unit(code: str, level: str) -> str:
    if level == "community":
        return unit_at(code, "community")
    if level == "street":
        return unit_at(code, "street")
    if level == "all":
        return "全部"
    return code


def five_ones(
    session: Session, codes: list[str], level: str, period: Period, settings: FieldworkSettings
) -> pd.DataFrame:
    """One row per unit with the 五个一 columns (see the module)."""
    acc: dict[str, dict[str, float]] = defaultdict(lambda: dict.fromkeys(COLUMNS, 0.0))
    days: dict[str, set[Any]] = defaultdict(set)
    workers = q.grid_workers(session, codes)

    def units(grid: str, worker: str | None) -> list[str]:
        if level == "worker":
            return [worker] if worker else []
        return [_unit(grid, level)]

    totals = q.patrol_totals(
        session, codes, since=period.since, until=period.until, tz=period.tz, min_minutes=settings.min_patrol_minutes
    )
    for r in totals:
        for unit in units(r["grid_code"], r["worker"]):
            row = acc[unit]
            row["patrols"] += r["patrols"]
            row["patrol_minutes"] += float(r["patrol_minutes"])
            row["short_patrols"] += r["short_patrols"]
            days[unit] |= set(r["days"] or [])
    for r in q.visit_totals(session, codes, since=period.first_day, until=period.end_day):
        for unit in units(r["grid_code"], r["worker"]):
            acc[unit]["visits"] += r["visits"]
            acc[unit][f"visits_{r['kind']}"] += r["visits"]
    for building, state in states(session, codes, today=period.today, plans=settings.visits_per_year):
        grid = str(building["grid_code"])
        for unit in workers.get(grid, []) if level == "worker" else units(grid, None):
            acc[unit]["households"] += state.households
            acc[unit]["households_visited"] += state.visited
    out = []
    for unit in sorted(acc):
        row = acc[unit]
        row["patrol_days"] = len(days[unit])
        row["patrol_minutes"] = round(row["patrol_minutes"], 1)
        share = row["households_visited"] / row["households"] if row["households"] else None
        out.append(
            {"level": level, "unit": unit}
            | {k: int(v) for k, v in row.items() if k != "patrol_minutes"}
            | {"patrol_minutes": row["patrol_minutes"], "visit_share": round(share, 4) if share is not None else None}
        )
    return pd.DataFrame(out, columns=["level", "unit", *COLUMNS])
