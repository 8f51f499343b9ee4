"""Storing a report in one SQL statement: its grid, an open duplicate, the row, its audit events.

For a point the statement finds the published grid covering it; for a place already found another way (an
address, a point snapped to the nearest grid) it takes that grid. Finding an open duplicate, inserting the request
and its audit events and counting the report on the original happen in one round trip, so a busy intake holds
no lock for longer than a statement.
"""

from __future__ import annotations

import json
import math
import secrets
from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.orm import Session

from gridmap.db.models import RequestCategory
from gridmap.requests.locate import Located
from gridmap.requests.schemas import NewRequest
from gridmap.settings import RequestSettings

_INTAKE = text(
    """
WITH pt AS (SELECT ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) AS g),
grid AS (
  SELECT CAST(:grid_code AS varchar) AS code, CAST(:plan_version AS integer) AS version WHERE :grid_code IS NOT NULL
  UNION ALL
  (SELECT g.code, p.version FROM grids g JOIN grid_plans p ON p.id = g.plan_id, pt
   WHERE :grid_code IS NULL AND p.status = 'published' AND ST_Covers(g.geom, pt.g) ORDER BY g.code LIMIT 1)
),
dup AS (
  SELECT r.id FROM requests r, pt
  WHERE :radius > 0 AND r.category = :category AND r.status NOT IN ('closed', 'merged')
    AND r.created_at >= :since AND r.created_at <= :now
    AND ST_DWithin(r.geom, pt.g, :degrees) AND ST_DWithin(r.geom::geography, pt.g::geography, :radius)
  ORDER BY r.created_at, r.id LIMIT 1
),
ins AS (
  INSERT INTO requests (category, description, status, grid_code, plan_version, address, match_level, building_id,
    department, channel, simulated, reporter_name, reporter_phone, reporter_user_id, photos, duplicate_of, report_count,
    reopen_count, rating_token, idempotency_key, payload_hash, created_at, updated_at, geom)
  SELECT :category, :description, CASE WHEN dup.id IS NULL THEN 'reported' ELSE 'merged' END, grid.code,
    grid.version, :address, :match_level, CAST(:building_id AS integer), :department, :channel, :simulated,
    :reporter_name, :reporter_phone,
    CAST(:reporter_user_id AS integer), CAST(:photos AS json), dup.id, 1, 0, :rating_token, :key, :digest,
    :now, :now, pt.g
  FROM pt CROSS JOIN grid LEFT JOIN dup ON true
  ON CONFLICT (idempotency_key) DO NOTHING
  RETURNING id, status, duplicate_of
),
counted AS (UPDATE requests SET report_count = report_count + 1, updated_at = :now
            WHERE id = (SELECT duplicate_of FROM ins))
INSERT INTO request_events (request_id, at, action, from_status, to_status, actor_id, actor, actor_role, data)
SELECT id, :now, 'report', NULL::varchar, status, CAST(:actor_id AS integer), :actor, :actor_role,
       CAST(:event_data AS json) FROM ins
UNION ALL
SELECT id, :now, 'merge', NULL::varchar, status, NULL::integer, 'system', 'system',
       json_build_object('duplicate_of', duplicate_of)
FROM ins WHERE duplicate_of IS NOT NULL
RETURNING request_id
"""
)


def store(
    session: Session,
    data: NewRequest,
    cat: RequestCategory,
    *,
    lon: float,
    lat: float,
    place: Located | None = None,
    actor: tuple[int | None, str, str],
    channel: str,
    now: datetime,
    settings: RequestSettings,
    key: str | None,
    digest: str,
    simulated: bool = False,
) -> int | None:
    """Store a report at a WGS84 point, in the grid of ``place`` or else the grid covering the point.

    Returns its id, or None when no grid covers the point (``place`` not given) or a concurrent retry with the
    same Idempotency-Key stored it first.
    """
    level = place.match_level if place else "point"
    radius = settings.duplicate_radius_m
    rows = session.execute(
        _INTAKE,
        {
            "lon": lon,
            "lat": lat,
            "grid_code": place.grid_code if place else None,
            "plan_version": place.plan_version if place else None,
            "match_level": level,
            "building_id": place.building_id if place else None,
            "radius": radius,
            "degrees": radius / 111_320 / max(math.cos(math.radians(lat)), 0.01),
            "category": cat.code,
            "since": now - timedelta(hours=settings.duplicate_window_hours),
            "now": now,
            "description": data.description,
            "address": data.address,
            "department": cat.department,
            "channel": channel,
            "simulated": simulated,
            "reporter_name": data.reporter_name,
            "reporter_phone": data.reporter_phone,
            "reporter_user_id": actor[0],
            "photos": json.dumps(list(data.photos)),
            "rating_token": secrets.token_urlsafe(24),
            "key": key,
            "digest": digest,
            "actor_id": actor[0],
            "actor": actor[1],
            "actor_role": actor[2],
            "event_data": json.dumps({"channel": channel, "match_level": level}),
        },
    ).all()
    return int(rows[0][0]) if rows else None
