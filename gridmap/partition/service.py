"""DB mode: read buildings from PostGIS, partition, store the plan as a draft, publish."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import geopandas as gpd
from sqlalchemy import func, insert, select, text, update
from sqlalchemy.orm import Session

from gridmap.db.convert import to_db
from gridmap.db.models import SRID, Grid, GridAssignment, GridPlan, PlanStatus
from gridmap.errors import Conflict, InvalidInput, NotFound
from gridmap.partition.codes import community_sql
from gridmap.partition.fanout import Progress, partition_city
from gridmap.partition.handover import handover, move_open_requests
from gridmap.partition.pipeline import PlanInput, PlanResult, partition
from gridmap.settings import PartitionSettings


def _frame(session: Session, sql: str, params: dict[str, Any] | None = None) -> gpd.GeoDataFrame:
    return gpd.read_postgis(text(sql), session.connection(), geom_col="geom", params=params or {}, crs=SRID)


def load_plan_input(*, session: Session, community: str | None = None) -> PlanInput:
    """Residential buildings (with households and compound), streets and community polygons."""
    where = "AND b.community_code = :community" if community else ""
    buildings = _frame(
        session,
        "SELECT b.id, b.households, coalesce(b.compound_id::text, '') AS compound, c.name AS compound_name, "
        "b.community_code AS community, b.geom "
        f"FROM buildings b LEFT JOIN compounds c ON c.id = b.compound_id WHERE b.is_residential {where} ORDER BY b.id",
        {"community": community},
    ).set_index("id")
    near = (
        "WHERE ST_Intersects(geom, (SELECT ST_Expand(ST_Extent(geom), 0.01) FROM buildings "
        "WHERE community_code = :community))"
        if community
        else ""
    )
    streets = _frame(
        session, f"SELECT id, name, street_class, geom FROM streets {near} ORDER BY id", {"community": community}
    ).set_index("id")
    comm_where = "AND code = :community" if community else ""
    communities = _frame(
        session,
        f"SELECT code, name, geom FROM admin_units WHERE level = 'community' AND geom IS NOT NULL {comm_where}",
        {"community": community},
    )
    if communities.empty:
        return PlanInput(buildings=buildings, streets=streets)
    return PlanInput(buildings=buildings, streets=streets, communities=communities)


def save_plan(
    *, session: Session, result: PlanResult, name: str, params: PartitionSettings, publish: bool = False
) -> GridPlan:
    """Store ``result`` as a new plan version (draft unless ``publish``)."""
    version = (session.scalar(select(func.max(GridPlan.version))) or 0) + 1
    plan = GridPlan(
        name=name,
        version=version,
        status=PlanStatus.draft,
        params=params.model_dump(mode="json"),
        metrics=result.metrics.as_dict(),
    )
    session.add(plan)
    session.flush()
    write_grids(session=session, plan_id=plan.id, result=result)
    if publish:
        publish_plan(session=session, plan_id=plan.id)
    return plan


def write_grids(
    *, session: Session, plan_id: int, result: PlanResult, locked: frozenset[str] = frozenset()
) -> dict[str, int]:
    """Insert ``result``'s grids and building assignments into plan ``plan_id``; returns code -> grid id."""
    ids: dict[str, int] = {}
    for row in result.grids.itertuples():
        grid = Grid(
            plan_id=plan_id,
            code=row.grid_code,
            households=int(row.households),
            n_buildings=int(row.n_buildings),
            locked=row.grid_code in locked,
            community_code=row.community_code,
            metrics={
                "deviation_pct": float(row.deviation_pct),
                "polsby_popper": float(row.polsby_popper),
                "longest_walk_m": float(row.longest_walk_m),
                "area_m2": float(row.area_m2),
            },
            geom=to_db(row.geometry),
        )
        session.add(grid)
        session.flush()
        ids[row.grid_code] = grid.id
    assigned = result.buildings["grid_code"].dropna()
    if len(assigned):
        session.execute(
            insert(GridAssignment),
            [{"plan_id": plan_id, "building_id": int(b), "grid_id": ids[c]} for b, c in assigned.items()],
        )
    return ids


PUBLISH_LOCK = 0x67726964  # an advisory lock key of our own ("grid"): publishes run one at a time


def publish_plan(*, session: Session, plan_id: int, confirm: bool = True) -> GridPlan:
    """Make draft ``plan_id`` the published plan and archive the one before, in the caller's transaction.

    Publishes are serialised by a transaction-level advisory lock, and the plan's status is read again after
    the lock is held, so a second concurrent publish of the same draft is refused instead of repeated; the
    unique index on the published status (migration 0005) backs this up. Grids that need staffing after the
    publish (see :mod:`gridmap.partition.handover`) must be confirmed (``confirm``); open requests follow their
    point to the new grids.
    """
    session.execute(select(func.pg_advisory_xact_lock(PUBLISH_LOCK)))
    plan = session.get(GridPlan, plan_id, with_for_update=True, populate_existing=True)
    if plan is None:
        raise NotFound(f"grid plan {plan_id} does not exist")
    if plan.status is not PlanStatus.draft:
        status = f"{STATUS_ZH[plan.status]} / plan {plan_id} is {plan.status.value}"
        raise Conflict(f"方案 {plan_id} 已是{status}: only a draft can be published")
    if foreign := foreign_codes(session=session, plan_id=plan_id):
        listed = ", ".join(f"{code} (应为 should be {community}xxx)" for code, community in foreign[:10])
        raise InvalidInput(
            f"{len(foreign)} 个网格的编码不属于其社区，不能发布 / {len(foreign)} grid codes do not carry their "
            f"社区's code: {listed}. 请重新划分或修正编码 / re-partition or fix the codes first"
        )
    before = published_plan(session=session)
    change = handover(session, plan_id, before.id if before else None)
    if change.needs_staffing and not confirm:
        listed = ", ".join(f"{c.grid_code} ({REASON_ZH[c.reason]})" for c in change.needs_staffing[:10])
        n = len(change.needs_staffing)
        raise Conflict(
            f"{n} 个网格需重新配备网格员，请确认后发布 / {n} grids need staffing; publish with confirm=true: {listed}"
        )
    session.execute(
        update(GridPlan)
        .where(GridPlan.status == PlanStatus.published, GridPlan.id != plan_id)
        .values(status=PlanStatus.archived)
    )
    plan.status, plan.published_at = PlanStatus.published, datetime.now(UTC)
    session.flush()
    move_open_requests(session, plan_id, plan.version)
    return plan


REASON_ZH = {"new": "新网格 new", "changed": "变动较大 changed", "removed": "已撤销 removed"}


FOREIGN_CODES = text(
    f"""
    SELECT code, community FROM (
      SELECT g.code,
             coalesce(mode() WITHIN GROUP (ORDER BY b.community_code),
                      mode() WITHIN GROUP (ORDER BY {community_sql("pg.code")})) AS community
      FROM grids g
      JOIN grid_assignments a ON a.grid_id = g.id
      JOIN buildings b ON b.id = a.building_id
      LEFT JOIN grid_assignments pa ON pa.building_id = a.building_id AND pa.plan_id = (
        SELECT id FROM grid_plans WHERE status = 'published')
      LEFT JOIN grids pg ON pg.id = pa.grid_id
      WHERE g.plan_id = :plan
      GROUP BY g.code
    ) per_grid
    WHERE community IS NOT NULL AND community <> {community_sql("code")}
    ORDER BY code
    """
)


def foreign_codes(*, session: Session, plan_id: int) -> list[tuple[str, str]]:
    """Grids of ``plan_id`` whose code does not carry the 社区 most of their buildings belong to.

    A building's 社区 is the one it is recorded in, else the one of its grid in the published plan.
    Returns (grid code, the 社区 code it should carry).
    """
    return [(str(c), str(k)) for c, k in session.execute(FOREIGN_CODES, {"plan": plan_id}).all()]


STATUS_ZH = {PlanStatus.draft: "草稿", PlanStatus.published: "已发布方案", PlanStatus.archived: "已归档方案"}


def published_plan(*, session: Session) -> GridPlan | None:
    """The plan in force, if any."""
    return session.scalar(select(GridPlan).where(GridPlan.status == PlanStatus.published))


def partition_db(
    *,
    session: Session,
    params: PartitionSettings,
    community: str | None = None,
    publish: bool = False,
    code_prefix: str | None = None,
    scheduler: str | None = None,
    progress: Progress | None = None,
) -> GridPlan:
    """Partition what is stored and save it as a plan; many 社区 fan out over dask."""
    data = load_plan_input(session=session, community=community)
    if community:
        result = partition(data, params, code_prefix=community if len(community) == 12 else code_prefix)
    else:
        result = partition_city(data, params, scheduler=scheduler, default_prefix=code_prefix, progress=progress)
    name = f"{'社区 ' + community if community else '全部'} {datetime.now(UTC):%Y-%m-%d %H:%M}"
    return save_plan(session=session, result=result, name=name, params=params, publish=publish)
