"""KPIs of the requests over a period, as JSON or CSV."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response

from gridmap.api.deps import KpiUser, NowDep, SessionDep, SettingsDep
from gridmap.api.params import Moment
from gridmap.policy import user_scope
from gridmap.requests.kpi import Level, as_json, kpis
from gridmap.requests.views import kpi_frame
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
    if not table.empty:  # 街道, 社区 and grids by name, as people call them (codes stay in `unit`)
        names = unit_names(session, table["unit"]) if level in CODED_LEVELS else {}
        table.insert(2, "unit_name", [names.get(unit, unit) for unit in table["unit"]])
    if format == "csv":
        name = f"kpis_{level.value}_{since:%Y%m%d}_{until:%Y%m%d}.csv"
        return Response(
            "\ufeff" + table.to_csv(index=False),  # a BOM so that Excel reads the Chinese right
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    return {"level": level.value, "since": since.isoformat(), "until": until.isoformat(), "units": as_json(table)}
