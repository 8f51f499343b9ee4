"""Patrols (巡查): the phone uploads its patrol (idempotent), staff list patrols by scope, a track on demand."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi import Path as PathParam

from gridmap.api.deps import CurrentUser, NowDep, SessionDep, SettingsDep
from gridmap.api.params import Moment
from gridmap.fieldwork import patrols
from gridmap.fieldwork.schemas import KEY, PatrolCollection, PatrolFeature, PatrolTrack, PatrolUpload
from gridmap.partition.codes import PREFIX_PATTERN

router = APIRouter(tags=["patrols"])
Reason = Annotated[
    str | None, Query(min_length=2, max_length=200, description="why another person's track is viewed (logged)")
]


@router.put("/api/patrols/{key}", response_model=PatrolFeature)
def upload_patrol(
    key: Annotated[str, PathParam(pattern=KEY, description="made on the phone when the patrol starts")],
    body: PatrolUpload,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
) -> PatrolFeature:
    """开始/上传/结束巡查: start, new positions, end; sending the same positions again stores them once."""
    return patrols.upload(session, key, body, user=user, now=now, settings=settings.fieldwork)


@router.get("/api/patrols", response_model=PatrolCollection)
def list_patrols(
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    since: Moment = None,
    until: Moment = None,
    grid_code: str | None = Query(None, pattern=PREFIX_PATTERN, description="a grid code or a prefix (社区/街道)"),
    reason: Reason = None,
) -> PatrolCollection:
    """Patrols as GeoJSON in the caller's scope (like requests), newest first (at most 500).

    Duration, length and the shares of the grid's streets and buildings passed come with each; another
    person's track is included only when a ``reason`` is given, and each such reveal is logged.
    """
    return patrols.list_patrols(
        session,
        user=user,
        now=now,
        settings=settings.fieldwork,
        since=since,
        until=until,
        grid_code=grid_code,
        reason=reason,
    )


@router.get("/api/patrols/{patrol_id}/track", response_model=PatrolTrack)
def patrol_track(
    patrol_id: Annotated[int, PathParam(ge=1, le=2**31 - 1)],
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    reason: Reason = None,
) -> PatrolTrack:
    """One patrol's track with the time and accuracy of every position (another person's: reason, logged)."""
    return patrols.track(session, patrol_id, user=user, now=now, settings=settings.fieldwork, reason=reason)
