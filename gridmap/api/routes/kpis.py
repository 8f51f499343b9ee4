"""KPIs of the requests over a period, as JSON or CSV."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import pandas as pd
from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel
from sqlalchemy.orm import Session

from gridmap.api.deps import KpiUser, NowDep, SessionDep, SettingsDep
from gridmap.api.params import Moment
from gridmap.db.models import User
from gridmap.errors import NotFound
from gridmap.fieldwork.kinds import VisitKind
from gridmap.fieldwork.kpi import COLUMNS, Period, five_ones
from gridmap.fieldwork.patrols import scoped_codes
from gridmap.policy import user_scope
from gridmap.requests.kpi import Level, as_json, kpis
from gridmap.requests.views import kpi_frame
from gridmap.settings import Settings
from gridmap.units import unit_names

CODED_LEVELS = frozenset({Level.grid, Level.community, Level.street})

router = APIRouter(tags=["kpis"])


@router.get("/api/kpis", response_model=None)
def kpi_table(
    user: KpiUser,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    level: Level = Level.grid,
    since: Annotated[Moment, Query(description="start of the period (default: `days` before until)")] = None,
    days: int = Query(30, ge=1, le=3660, description="length of the period when since is not given"),
    until: Annotated[Moment, Query(description="end of the period, exclusive (default: now)")] = None,
    format: str = Query("json", pattern="^(json|csv)$"),
    simulated: bool = Query(True, description="include simulated requests"),
) -> dict[str, Any] | Response:
    """Response p50/p90, 办结率, 按时办结率 and 满意率 per grid, 社区, 街道 or department, of the caller's scope."""
    until = until or now + timedelta(seconds=1)  # requests made this very second count
    since = since or until - timedelta(days=days)
    frame = kpi_frame(
        session,
        since=since,
        until=until,
        settings=settings.requests,
        include_simulated=simulated,
        scope=user_scope(session, user),
    )
    table = kpis(frame, level, satisfied_from=settings.requests.satisfied_from)
    if format != "csv":
        units = as_json(named(session, table, level))
        return {"level": level.value, "since": since.isoformat(), "until": until.isoformat(), "units": units}
    if level is not Level.department:  # the 五个一 columns of the same units (patrols, visits, 遍访)
        fieldwork = five_ones_of(session, user, level.value, since, until, now, settings).drop(columns="level")
        table = table.merge(fieldwork, on="unit", how="outer") if len(table) else fieldwork
        table = table.drop(columns="level", errors="ignore")
        table.insert(0, "level", level.value)
        rates = ("_rate", "_min", "_share", "_minutes")
        counts = [c for c in table.columns if c not in ("level", "unit") and not c.endswith(rates)]
        table[counts] = table[counts].astype("Int64")
    name = f"kpis_{level.value}_{since:%Y%m%d}_{until:%Y%m%d}.csv"
    return Response(
        "\ufeff" + named(session, table, level).to_csv(index=False),  # a BOM so that Excel reads the Chinese right
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def named(session: Session, table: pd.DataFrame, level: Level) -> pd.DataFrame:
    """``table`` with ``unit_name`` beside ``unit``: 街道, 社区 and grids by name, as people call them."""
    if table.empty:
        return table
    names = unit_names(session, table["unit"]) if level in CODED_LEVELS else {}
    out = table.copy()
    out.insert(list(out.columns).index("unit") + 1, "unit_name", [names.get(u, u) for u in out["unit"]])
    return out


class FiveOnesRow(BaseModel):
    """One unit's 五个一 numbers."""

    level: str
    unit: str
    unit_name: str
    patrols: int
    patrol_days: int
    patrol_minutes: float
    short_patrols: int
    visits: int
    visits_by_kind: dict[str, int]
    households: int
    households_visited: int
    visit_share: float | None


class FiveOnes(BaseModel):
    """五个一 KPIs of a period."""

    level: str
    since: datetime
    until: datetime
    units: list[FiveOnesRow]


def five_ones_of(
    session: Session, user: User, level: str, since: datetime, until: datetime, now: datetime, settings: Settings
) -> pd.DataFrame:
    """The 五个一 table of the caller's grids for a period (empty when the caller has none)."""
    zone = ZoneInfo(settings.requests.calendar.timezone)
    try:
        codes = scoped_codes(session, user)
    except NotFound:
        return pd.DataFrame(columns=["level", "unit", *COLUMNS])
    period = Period(
        since=since,
        until=until,
        first_day=since.astimezone(zone).date(),
        end_day=(until - timedelta(microseconds=1)).astimezone(zone).date() + timedelta(days=1),
        today=now.astimezone(zone).date(),
        tz=str(zone),
    )
    return five_ones(session, codes, level, period, settings.fieldwork)


@router.get("/api/kpis/fieldwork", response_model=None)
def fieldwork_kpis(
    user: KpiUser,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    level: str = Query("grid", pattern="^(grid|community|street|all|worker)$"),
    since: Annotated[Moment, Query(description="start of the period (default: `days` before until)")] = None,
    days: int = Query(30, ge=1, le=3660, description="length of the period when since is not given"),
    until: Annotated[Moment, Query(description="end of the period, exclusive (default: now)")] = None,
    format: str = Query("json", pattern="^(json|csv)$"),
) -> FiveOnes | Response:
    """五个一 per grid, 社区, 街道 or worker: patrol days and minutes, short patrols, visits per kind, 遍访 share."""
    until = until or now + timedelta(seconds=1)
    since = since or until - timedelta(days=days)
    table = five_ones_of(session, user, level, since, until, now, settings)
    if format == "csv":
        name = f"five_ones_{level}_{since:%Y%m%d}_{until:%Y%m%d}.csv"
        return Response(
            "\ufeff" + table.to_csv(index=False),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    names = unit_names(session, [u for u in table["unit"] if str(u).isdigit()]) if level != "worker" else {}
    rows = [
        FiveOnesRow(
            level=level,
            unit=str(r["unit"]),
            unit_name=names.get(str(r["unit"]), str(r["unit"])),
            patrols=int(r["patrols"]),
            patrol_days=int(r["patrol_days"]),
            patrol_minutes=float(r["patrol_minutes"]),
            short_patrols=int(r["short_patrols"]),
            visits=int(r["visits"]),
            visits_by_kind={k.value: int(r[f"visits_{k.value}"]) for k in VisitKind},
            households=int(r["households"]),
            households_visited=int(r["households_visited"]),
            visit_share=None if pd.isna(r["visit_share"]) else float(r["visit_share"]),
        )
        for r in table.to_dict("records")
    ]
    return FiveOnes(level=level, since=since, until=until, units=rows)
