"""Patrols (巡查): idempotent uploads from the phone, their coverage, listing by scope, tracks shown on demand.

A track is a 行踪轨迹, sensitive personal information (PIPL art. 28): positions exist only inside an explicit
patrol, another person's track is shown only when asked for with a reason, and every such reveal is logged.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from gridmap.auth.service import user_grids
from gridmap.db.models import Role, User
from gridmap.errors import Forbidden, InvalidInput, NotFound
from gridmap.fieldwork import queries as q
from gridmap.fieldwork.schemas import (
    PatrolCollection,
    PatrolFeature,
    PatrolProperties,
    PatrolTrack,
    PatrolUpload,
    PurgeResult,
    TrackPoint,
)
from gridmap.policy import WORKERS, Scope, admits, user_scope
from gridmap.settings import FieldworkSettings
from gridmap.units import unit_names

CLOCK_SKEW = timedelta(days=1)


def scope_sql(scope: Scope, user: User) -> tuple[str, dict[str, Any]]:
    """The patrols a user may see, as SQL on ``p``: the scope's grids, and always the user's own patrols."""
    if scope.everything:
        return "true", {}
    parts = ["p.user_id = :scope_me"]
    params: dict[str, Any] = {"scope_me": user.id}
    if scope.grids:
        parts.append("p.grid_code = ANY(:scope_grids)")
        params["scope_grids"] = sorted(scope.grids)
    if scope.prefix:
        parts.append("p.grid_code LIKE :scope_prefix")
        params["scope_prefix"] = f"{scope.prefix}%"
    return f"({' OR '.join(parts)})", params


def scoped_codes(session: Session, user: User, prefix: str | None = None) -> list[str]:
    """The published grids in the user's scope (starting with ``prefix``); :class:`NotFound` when none."""
    scope = user_scope(session, user)
    codes = [c for c in q.published_grid_codes(session) if scope.covers_grid(c)]
    if prefix:
        codes = [c for c in codes if c.startswith(prefix)]
    if not codes:
        raise NotFound("没有可显示的网格 / no grid of yours to show (none assigned, or none in this unit)")
    return codes


def upload(
    session: Session, key: str, body: PatrolUpload, *, user: User, now: datetime, settings: FieldworkSettings
) -> PatrolFeature:
    """Store a patrol's start, positions and end (any number of times: each position once); recompute coverage."""
    if not admits(user.role, WORKERS):
        raise Forbidden("只有网格员记录巡查 / only grid workers record patrols")
    if len(body.points) > settings.max_points_per_upload:
        raise InvalidInput(
            f"一次最多上传 {settings.max_points_per_upload} 个位置 / at most {settings.max_points_per_upload} "
            "positions per upload: send the rest in another upload"
        )
    oldest = now - timedelta(days=settings.retention_days)
    times = [body.started_at, *(p.t for p in body.points), *([body.ended_at] if body.ended_at else [])]
    if min(times) < oldest:
        raise InvalidInput(
            f"巡查位置早于保存期限（{settings.retention_days} 天）/ positions older than the retention of "
            f"{settings.retention_days} days are not kept"
        )
    if body.ended_at is not None and body.ended_at < body.started_at:
        raise InvalidInput("结束时间早于开始时间 / ended_at is before started_at")
    if any(p.t < body.started_at - CLOCK_SKEW for p in body.points):
        raise InvalidInput("位置时间早于巡查开始 / a position is a day before the patrol started: check the clock")
    mine = user_grids(session=session, user=user)
    if body.grid_code is not None and user.role is Role.grid_worker and body.grid_code not in mine:
        raise Forbidden(f"网格 {body.grid_code} 不是您的网格 / grid {body.grid_code} is not yours")
    patrol_id, owner = q.claim_patrol(session, key=key, user_id=user.id, started_at=body.started_at)
    if owner != user.id:
        raise Forbidden("这条巡查属于别人 / this patrol key belongs to another user: make a new key")
    q.add_points(session, patrol_id, [(p.t, p.lon, p.lat, p.accuracy) for p in body.points])
    q.set_patrol_end(
        session, patrol_id, started_at=body.started_at, ended_at=body.ended_at, report_keys=body.report_keys
    )
    q.rebuild_track(session, patrol_id)
    grid = q.patrol_grid(session, patrol_id, mine) or body.grid_code or (mine[0] if mine else None)
    q.set_patrol_coverage(
        session, patrol_id, grid, street_m=settings.street_buffer_m, building_m=settings.building_buffer_m
    )
    row = q.patrol(session, patrol_id)
    assert row is not None
    return _feature(session, row, settings, show_track=True)


def _feature(session: Session, row: dict[str, Any], settings: FieldworkSettings, *, show_track: bool) -> PatrolFeature:
    minutes = float(row["minutes"]) if row["minutes"] is not None else None
    grid = row["grid_code"]
    props = PatrolProperties(
        id=row["id"],
        key=row["client_key"],
        worker=row["worker"],
        username=row["username"],
        grid_code=grid,
        grid_name=unit_names(session, [grid])[grid] if grid else None,
        started_at=row["started_at"],
        ended_at=row["ended_at"],
        minutes=round(minutes, 1) if minutes is not None else None,
        length_m=round(float(row["length_m"]), 1),
        n_points=row["n_points"],
        street_share=row["street_share"],
        building_share=row["building_share"],
        short=row["ended_at"] is not None and (minutes or 0.0) < settings.min_patrol_minutes,
        track_purged=row["track_purged_at"] is not None,
        request_ids=list(row["request_ids"] or []),
    )
    geometry = json.loads(row["geometry"]) if show_track and row["geometry"] else None
    return PatrolFeature(id=row["id"], geometry=geometry, properties=props)


def list_patrols(
    session: Session,
    *,
    user: User,
    now: datetime,
    settings: FieldworkSettings,
    since: datetime | None,
    until: datetime | None,
    grid_code: str | None,
    reason: str | None,
) -> PatrolCollection:
    """Patrols in the user's scope; tracks of others only with a ``reason`` (then each reveal is logged)."""
    scope = user_scope(session, user)
    where, params = scope_sql(scope, user)
    found = q.list_patrols(
        session, scope_sql=where, scope_params=params, since=since, until=until, grid_prefix=grid_code
    )
    shown = [r["id"] for r in found if r["user_id"] != user.id and reason and r["geometry"]]
    if shown:
        q.log_track_views(session, shown, viewer_id=user.id, viewer=user.username, at=now, reason=reason or "")
    features = [_feature(session, r, settings, show_track=r["user_id"] == user.id or bool(reason)) for r in found]
    return PatrolCollection(features=features, tracks_logged=len(shown))


def visible_patrol(session: Session, patrol_id: int, user: User) -> dict[str, Any]:
    """A patrol the user may see (own, or in scope), with its points; :class:`NotFound` / :class:`Forbidden`."""
    row = q.patrol(session, patrol_id)
    if row is None:
        raise NotFound(f"巡查 {patrol_id} 不存在 / patrol {patrol_id} does not exist")
    if row["user_id"] != user.id and not user_scope(session, user).covers_grid(row["grid_code"]):
        raise Forbidden(f"该巡查不在您的辖区 / patrol {patrol_id} is outside your scope")
    return row


def track(
    session: Session, patrol_id: int, *, user: User, now: datetime, settings: FieldworkSettings, reason: str | None
) -> PatrolTrack:
    """One patrol's track with every position; another person's only with a reason, and the reveal is logged."""
    row = visible_patrol(session, patrol_id, user)
    if row["user_id"] != user.id:
        if not reason:
            raise InvalidInput("查看他人巡查轨迹须填写原因 / viewing another person's track needs a reason")
        q.log_track_views(session, [patrol_id], viewer_id=user.id, viewer=user.username, at=now, reason=reason)
    feature = _feature(session, row, settings, show_track=True)
    points = [TrackPoint(**p) for p in row["points"]]
    return PatrolTrack(id=feature.id, geometry=feature.geometry, properties=feature.properties, points=points)


def purge(session: Session, *, now: datetime, retention_days: int) -> PurgeResult:
    """Delete the positions and tracks of patrols older than the retention (for cron: ``gridmap patrols purge``)."""
    before = now - timedelta(days=retention_days)
    patrols, points = q.purge_tracks(session, before=before, now=now)
    return PurgeResult(patrols=patrols, points=points, before=before)
