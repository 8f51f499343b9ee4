"""KPIs per grid / 社区 / 街道 / department: each rate with its numerator, denominator and sample size.

The 社区 and 街道 of a request come from its 15-digit grid code (first 12 and 9 digits), so a request keeps
the units it was reported in when plans change later. 满意率 is counted twice, apart: from the reporters' own 评单
(``satisfaction_rate``) and from the stars residents gave on a 回访 call (``callback_satisfaction_rate``); ratings
staff entered before 回访 existed (``rating_source`` staff) count in neither.
"""

from __future__ import annotations

import enum

import numpy as np
import pandas as pd

from gridmap.partition.codes import units_at
from gridmap.requests.states import DONE, Status

INPUT = [
    "grid_code",
    "department",
    "status",
    "created_at",
    "responded_at",
    "resolved_at",
    "resolve_due",
    "rating",
    "rating_source",
]


class Level(enum.StrEnum):
    """Units KPIs are grouped by."""

    grid = "grid"
    community = "community"
    street = "street"
    department = "department"
    all = "all"


def _unit(frame: pd.DataFrame, level: Level) -> pd.Series:
    codes = frame["grid_code"].fillna("未定位").astype(str)
    if level is Level.grid:
        return codes
    if level is Level.community:
        return units_at(codes, "community")
    if level is Level.street:
        return units_at(codes, "street")
    if level is Level.department:
        return frame["department"].fillna("未派单").astype(str)
    return pd.Series("全部", index=frame.index)


def _rate(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


def kpis(frame: pd.DataFrame, level: Level, *, satisfied_from: int = 4) -> pd.DataFrame:
    """One row per unit: response p50/p90 (minutes), 办结率, 按时办结率, 满意率 with their counts.

    Merged duplicates are left out: they are counted in the request they were merged into.
    """
    frame = frame.loc[frame["status"] != Status.merged.value, INPUT].copy()
    frame["unit"] = _unit(frame, level)
    rows = []
    for unit, group in frame.groupby("unit", sort=True):
        response = (group["responded_at"] - group["created_at"]).dt.total_seconds().dropna() / 60
        done = group["status"].isin([s.value for s in DONE]) & group["resolved_at"].notna()
        on_time = done & (group["resolved_at"] <= group["resolve_due"])
        rated = group["rating"].notna() & (group["rating_source"] == "resident")
        satisfied = rated & (group["rating"] >= satisfied_from)
        called = group["rating"].notna() & (group["rating_source"] == "callback")
        called_satisfied = called & (group["rating"] >= satisfied_from)
        n_done, n_rated, n_called = int(done.sum()), int(rated.sum()), int(called.sum())
        rows.append(
            {
                "level": level.value,
                "unit": unit,
                "requests": len(group),
                "response_p50_min": round(float(np.percentile(response, 50)), 1) if len(response) else None,
                "response_p90_min": round(float(np.percentile(response, 90)), 1) if len(response) else None,
                "responded": len(response),
                "resolved": n_done,
                "resolution_rate": _rate(n_done, len(group)),
                "resolved_on_time": int(on_time.sum()),
                "on_time_rate": _rate(int(on_time.sum()), n_done),
                "satisfied": int(satisfied.sum()),
                "rated": n_rated,
                "satisfaction_rate": _rate(int(satisfied.sum()), n_rated),
                "callback_satisfied": int(called_satisfied.sum()),
                "called_back": n_called,
                "callback_satisfaction_rate": _rate(int(called_satisfied.sum()), n_called),
            }
        )
    return pd.DataFrame(rows)


def as_json(table: pd.DataFrame) -> list[dict[str, object]]:
    """KPI rows as JSON objects, each rate next to its numerator and denominator."""
    out: list[dict[str, object]] = []
    for record in table.to_dict("records"):
        row = {k: None if pd.isna(v) else v for k, v in record.items()}
        n = int(record["requests"])
        out.append(
            {
                "level": row["level"],
                "unit": row["unit"],
                "unit_name": row.get("unit_name", row["unit"]),
                "requests": n,
                "response_minutes": {
                    "p50": row["response_p50_min"],
                    "p90": row["response_p90_min"],
                    "n": row["responded"],
                },
                "resolution_rate": {"value": row["resolution_rate"], "numerator": row["resolved"], "denominator": n},
                "on_time_rate": {
                    "value": row["on_time_rate"],
                    "numerator": row["resolved_on_time"],
                    "denominator": row["resolved"],
                },
                "satisfaction_rate": {
                    "value": row["satisfaction_rate"],
                    "numerator": row["satisfied"],
                    "denominator": row["rated"],
                },
                "callback_satisfaction_rate": {
                    "value": row["callback_satisfaction_rate"],
                    "numerator": row["callback_satisfied"],
                    "denominator": row["called_back"],
                },
            }
        )
    return out
