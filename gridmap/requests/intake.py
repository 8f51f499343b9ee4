"""The fast path of intake: a point inside the published grids stored in one SQL statement.

Locating the grid, finding an open duplicate, inserting the request and its audit events and counting the
report on the original happen in one round trip, so a busy intake holds no lock for longer than a statement.
Anything else (addresses, points outside coverage) takes the general path in :mod:`gridmap.requests.service`.
"""

from __future__ import annotations

import json
import math
import secrets
from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.orm import Session

from gridmap.db.models import RequestCategory
from gridmap.requests.schemas import NewRequest
from gridmap.settings import RequestSettings

_INTAKE = text(
    """
WITH pt AS (SELECT ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) AS g),
grid AS (
  SELECT g.code, p.version FROM grids g JOIN grid_plans p ON p.id = g.plan_id, pt
  WHERE p.status = 'published' AND ST_Covers(g.geom, pt.g) ORDER BY g.code LIMIT 1
),
dup AS (
  SELECT r.id FROM requests r, pt
  WHERE :radius > 0 AND r.category = :category AND r.status NOT IN ('closed', 'merged')
    AND r.created_at >= :since AND r.created_at <= :now
    AND ST_DWithin(r.geom, pt.g, :degrees) AND ST_DWithin(r.geom::geography, pt.g::geography, :radius)
  ORDER BY r.created_at, r.id LIMIT 1
),
ins AS (
  INSERT INTO requests (category, description, status, grid_code, plan_version, address, match_level, department,
    channel, simulated, reporter_name, reporter_phone, reporter_user_id, photos, duplicate_of, report_count,
    reopen_count, rating_token, idempotency_key, payload_hash, created_at, updated_at, geom)
  SELECT :category, :description, CASE WHEN dup.id IS NULL THEN 'reported' ELSE 'merged' END, grid.code,
    grid.version, :address, 'point', :department, :channel, :simulated, :reporter_name, :reporter_phone,
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
_COVERED = text(
    "SELECT EXISTS (SELECT 1 FROM grids g JOIN grid_plans p ON p.id = g.plan_id WHERE p.status = 'published' "
    "AND ST_Covers(g.geom, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)))"
)


def store_point(
    session: Session,
    data: NewRequest,
    cat: RequestCategory,
    *,
    lon: float,
    lat: float,
    actor: tuple[int | None, str, str],
    channel: str,
    now: datetime,
    settings: RequestSettings,
    key: str | None,
    digest: str,
    simulated: bool = False,
) -> int | None:
    """Store a report at a WGS84 point inside the grids; its id, or None (outside coverage or a key race)."""
    radius = settings.duplicate_radius_m
    rows = session.execute(
        _INTAKE,
        {
            "lon": lon,
            "lat": lat,
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
            "event_data": json.dumps({"channel": channel, "match_level": "point"}),
        },
    ).all()
    return int(rows[0][0]) if rows else None
