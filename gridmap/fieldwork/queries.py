"""All SQL of field work (patrols, tracks, visits, coverage, 五个一 KPIs) in one place.

Distances are measured on the geography type (metres on the spheroid); geometries are EPSG:4326. A patrol's
``track`` is a LINESTRINGM whose M is the epoch second of each point, rebuilt from ``patrol_points`` on upload.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

PUBLISHED = "(SELECT id FROM grid_plans WHERE status = 'published')"
SAMPLE_M = 5.0  # street coverage is measured on points this far apart along the streets
# the UTM zone (EPSG 326xx north, 327xx south) of a grid's centre: where lengths and buffers are measured in metres
UTM = (
    "(CASE WHEN ST_Y(ST_Centroid(geom)) >= 0 THEN 32600 ELSE 32700 END "
    "+ least(60, greatest(1, floor((ST_X(ST_Centroid(geom)) + 180) / 6)::int + 1)))"
)


def rows(session: Session, sql: str, **params: Any) -> list[dict[str, Any]]:
    """The rows of ``sql`` as dicts."""
    return [dict(r) for r in session.execute(text(sql), params).mappings()]


# ---------------------------------------------------------------- patrols


def claim_patrol(session: Session, *, key: str, user_id: int, started_at: datetime) -> tuple[int, int]:
    """The patrol of ``key`` (made now if new): its id and owner."""
    session.execute(
        text(
            "INSERT INTO patrols (client_key, user_id, started_at, n_points, length_m, report_keys) "
            "VALUES (:key, :user, :start, 0, 0, '[]') ON CONFLICT (client_key) DO NOTHING"
        ),
        {"key": key, "user": user_id, "start": started_at},
    )
    row = session.execute(
        text("SELECT id, user_id FROM patrols WHERE client_key = :key FOR UPDATE"), {"key": key}
    ).one()
    return int(row[0]), int(row[1])


def add_points(session: Session, patrol_id: int, points: list[tuple[datetime, float, float, float | None]]) -> int:
    """Store positions (time, lon, lat, accuracy); a position already stored (same time) is kept once."""
    if not points:
        return 0
    ats, lons, lats, accs = (list(column) for column in zip(*points, strict=True))
    result = session.execute(
        text(
            "INSERT INTO patrol_points (patrol_id, at, accuracy_m, geom) "
            "SELECT :pid, t.a, t.c, ST_SetSRID(ST_MakePoint(t.x, t.y), 4326) FROM unnest("
            "CAST(:ats AS timestamptz[]), CAST(:accs AS float8[]), CAST(:lons AS float8[]), CAST(:lats AS float8[])"
            ") AS t(a, c, x, y) ON CONFLICT DO NOTHING"
        ),
        {"pid": patrol_id, "ats": ats, "accs": accs, "lons": lons, "lats": lats},
    )
    return int(getattr(result, "rowcount", 0) or 0)


def set_patrol_end(
    session: Session, patrol_id: int, *, started_at: datetime, ended_at: datetime | None, report_keys: list[str]
) -> None:
    """The patrol's start (the earliest told), end (once told, kept) and the reports made during it (merged)."""
    session.execute(
        text(
            "UPDATE patrols SET started_at = least(started_at, :start), ended_at = coalesce(ended_at, :end), "
            "report_keys = (SELECT coalesce(json_agg(DISTINCT k ORDER BY k), '[]'::json) FROM ("
            "  SELECT json_array_elements_text(report_keys) k UNION SELECT unnest(CAST(:keys AS text[]))) x) "
            "WHERE id = :pid"
        ),
        {"pid": patrol_id, "start": started_at, "end": ended_at, "keys": report_keys},
    )


def rebuild_track(session: Session, patrol_id: int) -> None:
    """The track (with times as M), point count and length, from the stored points."""
    session.execute(
        text(
            "WITH line AS (SELECT count(*) AS n, ST_SetSRID(ST_MakeLine("
            "  ST_MakePointM(ST_X(geom), ST_Y(geom), extract(epoch FROM at)) ORDER BY at), 4326) AS track "
            "  FROM patrol_points WHERE patrol_id = :pid) "
            "UPDATE patrols p SET n_points = line.n, "
            "track = CASE WHEN line.n >= 2 THEN line.track END, "
            "length_m = CASE WHEN line.n >= 2 THEN ST_Length(ST_Force2D(line.track)::geography) ELSE 0 END "
            "FROM line WHERE p.id = :pid"
        ),
        {"pid": patrol_id},
    )


def patrol_grid(session: Session, patrol_id: int, mine: list[str]) -> str | None:
    """The published grid holding most of the patrol's points (the user's own grids first)."""
    found = session.execute(
        text(
            "SELECT g.code FROM patrol_points pp JOIN grids g ON g.plan_id = "
            f"{PUBLISHED} AND ST_Contains(g.geom, pp.geom) WHERE pp.patrol_id = :pid "
            "GROUP BY g.code ORDER BY bool_or(g.code = ANY(:mine)) DESC, count(*) DESC, g.code LIMIT 1"
        ),
        {"pid": patrol_id, "mine": mine},
    ).scalar()
    return str(found) if found is not None else None


def set_patrol_coverage(
    session: Session, patrol_id: int, grid_code: str | None, *, street_m: float, building_m: float
) -> None:
    """The grid and the shares of its street length (within ``street_m``) and buildings (``building_m``) passed.

    Measured in the UTM zone of the grid, on points every ``SAMPLE_M`` metres along the streets (a buffer of a long
    back-and-forth track took seconds); a track that comes nowhere near its grid (> ~1 km) has no shares.
    """
    session.execute(
        text(
            f"WITH g AS (SELECT id, geom, {UTM} AS srid FROM grids WHERE plan_id = {PUBLISHED} AND code = :grid), "
            "p AS (SELECT ST_Transform(ST_Force2D(t.track), g.srid) AS line, g.srid FROM patrols t, g "
            "  WHERE t.id = :pid AND t.track IS NOT NULL AND ST_DWithin(ST_Force2D(t.track), g.geom, 0.01)), "
            "pieces AS (SELECT ST_Transform(ST_CollectionExtract(ST_Intersection(s.geom, g.geom), 2), g.srid) AS piece "
            "  FROM streets s JOIN g ON ST_Intersects(s.geom, g.geom)), "
            "samples AS (SELECT (ST_DumpPoints(ST_Segmentize(piece, :step))).geom AS pt FROM pieces), "
            "streets_share AS (SELECT avg(CASE WHEN ST_DWithin(pt, p.line, :sm) THEN 1.0 ELSE 0.0 END) AS v "
            "  FROM samples CROSS JOIN p), "
            "houses AS (SELECT avg(CASE WHEN ST_DWithin(ST_Transform(b.geom, p.srid), p.line, :bm) "
            "  THEN 1.0 ELSE 0.0 END) AS v FROM g JOIN grid_assignments a ON a.grid_id = g.id "
            "  JOIN buildings b ON b.id = a.building_id CROSS JOIN p) "
            "UPDATE patrols SET grid_code = :grid, "
            "street_share = (SELECT v FROM streets_share), building_share = (SELECT v FROM houses) WHERE id = :pid"
        ),
        {"pid": patrol_id, "grid": grid_code, "sm": street_m, "bm": building_m, "step": SAMPLE_M},
    )


PATROL_COLUMNS = (
    "p.id, p.client_key, p.user_id, u.username, coalesce(u.full_name, u.username) AS worker, p.grid_code, "
    "p.started_at, p.ended_at, p.n_points, p.length_m, p.street_share, p.building_share, p.report_keys, "
    "p.track_purged_at, extract(epoch FROM coalesce(p.ended_at, "
    "  to_timestamp(ST_M(ST_EndPoint(p.track)))) - p.started_at) / 60.0 AS minutes, "
    "(SELECT coalesce(json_agg(r.id ORDER BY r.id), '[]'::json) FROM requests r "
    "  WHERE r.idempotency_key IN (SELECT json_array_elements_text(p.report_keys))) AS request_ids"
)


def list_patrols(
    session: Session,
    *,
    scope_sql: str,
    scope_params: dict[str, Any],
    since: datetime | None,
    until: datetime | None,
    grid_prefix: str | None,
    user_id: int | None = None,
    limit: int = 500,
) -> list[dict[str, Any]]:
    """Patrols in a scope (``scope_sql`` on ``p.grid_code``), newest first, with their 2-D track as GeoJSON."""
    where = [scope_sql]
    if since is not None:
        where.append("p.started_at >= :since")
    if until is not None:
        where.append("p.started_at < :until")
    if grid_prefix:
        where.append("p.grid_code LIKE :prefix")
    if user_id is not None:
        where.append("p.user_id = :uid")
    return rows(
        session,
        f"SELECT {PATROL_COLUMNS}, ST_AsGeoJSON(ST_Force2D(p.track), 6) AS geometry FROM patrols p "
        f"JOIN users u ON u.id = p.user_id WHERE {' AND '.join(where)} ORDER BY p.started_at DESC, p.id DESC "
        "LIMIT :limit",
        since=since,
        until=until,
        prefix=f"{grid_prefix}%",
        uid=user_id,
        limit=limit,
        **scope_params,
    )


def patrol(session: Session, patrol_id: int) -> dict[str, Any] | None:
    """One patrol with its track's points (lon, lat, epoch seconds) and their accuracy."""
    found = rows(
        session,
        f"SELECT {PATROL_COLUMNS}, ST_AsGeoJSON(ST_Force2D(p.track), 6) AS geometry FROM patrols p "
        "JOIN users u ON u.id = p.user_id WHERE p.id = :pid",
        pid=patrol_id,
    )
    if not found:
        return None
    found[0]["points"] = rows(
        session,
        "SELECT ST_X(geom) AS lon, ST_Y(geom) AS lat, at, accuracy_m FROM patrol_points WHERE patrol_id = :pid "
        "ORDER BY at",
        pid=patrol_id,
    )
    return found[0]


def log_track_views(
    session: Session, patrol_ids: list[int], *, viewer_id: int, viewer: str, at: datetime, reason: str
) -> None:
    """Record that ``viewer`` saw these patrols' tracks, when and why."""
    session.execute(
        text(
            "INSERT INTO track_views (patrol_id, viewer_id, viewer, at, reason) "
            "SELECT unnest(CAST(:ids AS int[])), :vid, :viewer, :at, :reason"
        ),
        {"ids": patrol_ids, "vid": viewer_id, "viewer": viewer, "at": at, "reason": reason},
    )


def track_views(session: Session, patrol_id: int) -> list[dict[str, Any]]:
    """Who viewed a patrol's track."""
    return rows(
        session, "SELECT viewer, at, reason FROM track_views WHERE patrol_id = :pid ORDER BY at, id", pid=patrol_id
    )


def purge_tracks(session: Session, *, before: datetime, now: datetime) -> tuple[int, int]:
    """Delete positions and tracks of patrols started before ``before``; the summaries stay. (patrols, points)."""
    points = session.execute(
        text("DELETE FROM patrol_points WHERE patrol_id IN (SELECT id FROM patrols WHERE started_at < :before)"),
        {"before": before},
    )
    patrols = session.execute(
        text(
            "UPDATE patrols SET track = NULL, track_purged_at = :now "
            "WHERE started_at < :before AND track_purged_at IS NULL"
        ),
        {"before": before, "now": now},
    )
    return int(getattr(patrols, "rowcount", 0) or 0), int(getattr(points, "rowcount", 0) or 0)


# ---------------------------------------------------------------- patrol coverage maps


def street_days(
    session: Session, codes: list[str], *, since: datetime, until: datetime, tz: str, street_m: float
) -> list[dict[str, Any]]:
    """Streets of grids ``codes`` (clipped to each) with the days in [since, until) patrols passed most of them."""
    return rows(
        session,
        f"WITH g AS (SELECT code, geom, {UTM} AS srid FROM grids WHERE plan_id = {PUBLISHED} AND code = ANY(:codes)), "
        "pieces AS (SELECT g.code AS grid_code, s.id AS street_id, s.name, g.srid, "
        "  ST_CollectionExtract(ST_Intersection(s.geom, g.geom), 2) AS geom FROM streets s "
        "  JOIN g ON ST_Intersects(s.geom, g.geom)), "
        "samples AS (SELECT x.*, row_number() OVER () AS n FROM (SELECT grid_code, street_id, srid, "
        "  (ST_DumpPoints(ST_Segmentize(ST_Transform(geom, srid), :step))).geom AS pt FROM pieces "
        "  WHERE NOT ST_IsEmpty(geom)) x), "
        "sizes AS (SELECT grid_code, street_id, count(*) AS total FROM samples GROUP BY 1, 2), "
        "tracks AS (SELECT (p.started_at AT TIME ZONE :tz)::date AS day, z.srid, "
        "  ST_Transform(ST_Force2D(p.track), z.srid) AS line FROM patrols p CROSS JOIN (SELECT DISTINCT srid FROM g) z "
        "  WHERE p.track IS NOT NULL AND p.started_at >= :since AND p.started_at < :until "
        "  AND p.grid_code = ANY(:codes)), "
        "hits AS (SELECT s.grid_code, s.street_id, t.day, count(DISTINCT s.n) AS near FROM samples s "
        "  JOIN tracks t ON t.srid = s.srid AND ST_DWithin(s.pt, t.line, :sm) GROUP BY 1, 2, 3), "
        "passed AS (SELECT h.grid_code, h.street_id, count(*) AS days FROM hits h JOIN sizes z "
        "  USING (grid_code, street_id) WHERE h.near >= 0.5 * z.total GROUP BY 1, 2) "
        "SELECT pc.grid_code, pc.street_id, coalesce(pc.name, '') AS name, coalesce(pa.days, 0) AS days_passed, "
        "ST_AsText(pc.geom) AS wkt FROM pieces pc LEFT JOIN passed pa USING (grid_code, street_id) "
        "WHERE NOT ST_IsEmpty(pc.geom) ORDER BY pc.grid_code, pc.street_id",
        codes=codes,
        since=since,
        until=until,
        tz=tz,
        sm=street_m,
        step=SAMPLE_M,
    )


def patrolled_grids(session: Session, codes: list[str], *, since: datetime, until: datetime) -> dict[str, int]:
    """Grid code → number of patrols started in [since, until)."""
    found = rows(
        session,
        "SELECT grid_code, count(*) AS n FROM patrols WHERE grid_code = ANY(:codes) "
        "AND started_at >= :since AND started_at < :until GROUP BY grid_code",
        codes=codes,
        since=since,
        until=until,
    )
    return {str(r["grid_code"]): int(r["n"]) for r in found}


def published_grid_codes(session: Session) -> list[str]:
    """Codes of the grids of the published plan."""
    return [str(c) for c in session.scalars(text(f"SELECT code FROM grids WHERE plan_id = {PUBLISHED} ORDER BY code"))]


# ---------------------------------------------------------------- visits


def building_place(session: Session, building_id: int) -> dict[str, Any] | None:
    """A building's label, published grid and a point on it."""
    found = rows(
        session,
        "SELECT b.id, coalesce(b.name, nullif(concat_ws('', b.addr_street, b.addr_housenumber), ''), '楼栋 ' || b.id) "
        "AS label, b.households, g.code AS grid_code, ST_X(ST_PointOnSurface(b.geom)) AS lon, "
        "ST_Y(ST_PointOnSurface(b.geom)) AS lat FROM buildings b "
        f"LEFT JOIN grid_assignments a ON a.building_id = b.id AND a.plan_id = {PUBLISHED} "
        "LEFT JOIN grids g ON g.id = a.grid_id WHERE b.id = :bid",
        bid=building_id,
    )
    return found[0] if found else None


def insert_visit(session: Session, values: dict[str, Any]) -> int | None:
    """Store a visit; its id, or None when its client key is already taken (see ``visit_by_key``)."""
    found = session.execute(
        text(
            "INSERT INTO visits (client_key, user_id, building_id, grid_code, unit, room, visited_on, kind, note, "
            "photos, created_at, made_at, payload_hash) VALUES (:key, :user_id, :building_id, :grid_code, :unit, "
            ":room, :visited_on, :kind, :note, '[]', :now, :made_at, :payload_hash) "
            "ON CONFLICT (client_key) DO NOTHING RETURNING id"
        ),
        values,
    ).scalar_one_or_none()
    return None if found is None else int(found)


def visit_by_key(session: Session, key: str) -> dict[str, Any] | None:
    """The visit stored under a client key (Idempotency-Key): its id, who recorded it and its body's digest."""
    found = rows(session, "SELECT id, user_id, payload_hash FROM visits WHERE client_key = :key", key=key)
    return found[0] if found else None


VISIT_COLUMNS = (
    "v.id, v.client_key, v.user_id, v.building_id, coalesce(b.name, nullif(concat_ws('', b.addr_street, "
    "b.addr_housenumber), ''), '楼栋 ' || b.id) AS building, v.grid_code, v.unit, v.room, v.visited_on, v.kind, "
    "v.note, v.photos, v.request_id, v.made_at, coalesce(u.full_name, u.username) AS worker"
)


def visit(session: Session, visit_id: int) -> dict[str, Any] | None:
    """One visit."""
    found = rows(
        session,
        f"SELECT {VISIT_COLUMNS} FROM visits v JOIN buildings b ON b.id = v.building_id "
        "LEFT JOIN users u ON u.id = v.user_id WHERE v.id = :vid",
        vid=visit_id,
    )
    return found[0] if found else None


def list_visits(
    session: Session, *, scope_sql: str, scope_params: dict[str, Any], since: date, until: date, limit: int
) -> list[dict[str, Any]]:
    """Visits in a scope (``scope_sql`` on ``v.grid_code``) on days [since, until), newest first."""
    return rows(
        session,
        f"SELECT {VISIT_COLUMNS} FROM visits v JOIN buildings b ON b.id = v.building_id "
        f"LEFT JOIN users u ON u.id = v.user_id WHERE {scope_sql} AND v.visited_on >= :since "
        "AND v.visited_on < :until ORDER BY v.visited_on DESC, v.id DESC LIMIT :limit",
        since=since,
        until=until,
        limit=limit,
        **scope_params,
    )


def set_visit_photos(session: Session, visit_id: int, photos: list[str]) -> None:
    """A visit's photo list."""
    session.execute(
        text("UPDATE visits SET photos = CAST(:p AS json) WHERE id = :vid"),
        {"vid": visit_id, "p": json.dumps(photos)},
    )


def set_visit_request(session: Session, visit_id: int, request_id: int) -> None:
    """The request a visit turned into."""
    session.execute(text("UPDATE visits SET request_id = :rid WHERE id = :vid"), {"vid": visit_id, "rid": request_id})


def grid_buildings(session: Session, codes: list[str]) -> list[dict[str, Any]]:
    """Residential buildings of published grids ``codes``: id, label, households, grid, outline (WKT)."""
    return rows(
        session,
        "SELECT b.id AS building_id, coalesce(b.name, nullif(concat_ws('', b.addr_street, b.addr_housenumber), ''), "
        "'楼栋 ' || b.id) AS name, b.households, g.code AS grid_code, ST_AsText(b.geom) AS wkt, "
        "ST_X(ST_PointOnSurface(b.geom)) AS lon, ST_Y(ST_PointOnSurface(b.geom)) AS lat FROM buildings b "
        f"JOIN grid_assignments a ON a.building_id = b.id AND a.plan_id = {PUBLISHED} "
        "JOIN grids g ON g.id = a.grid_id WHERE g.code = ANY(:codes) AND b.is_residential ORDER BY b.id",
        codes=codes,
    )


def building_visits(session: Session, building_ids: list[int], *, since: date) -> list[dict[str, Any]]:
    """Visits of buildings since a day: building, household (单元/室), kind, day."""
    return rows(
        session,
        "SELECT building_id, coalesce(unit, '') AS unit, coalesce(room, '') AS room, kind, visited_on FROM visits "
        "WHERE building_id = ANY(:ids) AND visited_on >= :since ORDER BY visited_on",
        ids=building_ids,
        since=since,
    )


def grid_outlines(session: Session, codes: list[str]) -> list[dict[str, Any]]:
    """Published grids ``codes`` with households and outline (WKT)."""
    return rows(
        session,
        f"SELECT code AS grid_code, households, ST_AsText(geom) AS wkt FROM grids WHERE plan_id = {PUBLISHED} "
        "AND code = ANY(:codes) ORDER BY code",
        codes=codes,
    )


def street_lines(session: Session, bounds: tuple[float, float, float, float]) -> list[dict[str, Any]]:
    """Streets meeting a WGS84 box: id, name, line (WKT), for the walking graph."""
    x0, y0, x1, y1 = bounds
    return rows(
        session,
        "SELECT id, coalesce(name, '') AS name, ST_AsText(geom) AS wkt FROM streets "
        "WHERE geom && ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326) ORDER BY id",
        x0=x0,
        y0=y0,
        x1=x1,
        y1=y1,
    )


# ---------------------------------------------------------------- 五个一 KPIs


def patrol_totals(
    session: Session, codes: list[str], *, since: datetime, until: datetime, tz: str, min_minutes: float
) -> list[dict[str, Any]]:
    """Per grid and worker: patrols, days with a patrol, minutes, short patrols, in [since, until)."""
    return rows(
        session,
        "SELECT p.grid_code, coalesce(u.full_name, u.username) AS worker, count(*) AS patrols, "
        "count(DISTINCT (p.started_at AT TIME ZONE :tz)::date) AS patrol_days, "
        "coalesce(sum(extract(epoch FROM p.ended_at - p.started_at)) / 60.0, 0) AS patrol_minutes, "
        "count(*) FILTER (WHERE p.ended_at - p.started_at < make_interval(secs => :mins * 60)) AS short_patrols, "
        "array_agg(DISTINCT (p.started_at AT TIME ZONE :tz)::date) AS days "
        "FROM patrols p JOIN users u ON u.id = p.user_id WHERE p.grid_code = ANY(:codes) AND p.ended_at IS NOT NULL "
        "AND p.started_at >= :since AND p.started_at < :until GROUP BY p.grid_code, worker",
        codes=codes,
        since=since,
        until=until,
        tz=tz,
        mins=min_minutes,
    )


def visit_totals(session: Session, codes: list[str], *, since: date, until: date) -> list[dict[str, Any]]:
    """Per grid, worker and kind: visits on days [since, until)."""
    return rows(
        session,
        "SELECT v.grid_code, coalesce(u.full_name, u.username, '—') AS worker, v.kind, count(*) AS visits "
        "FROM visits v LEFT JOIN users u ON u.id = v.user_id WHERE v.grid_code = ANY(:codes) "
        "AND v.visited_on >= :since AND v.visited_on < :until GROUP BY v.grid_code, worker, v.kind",
        codes=codes,
        since=since,
        until=until,
    )


def grid_workers(session: Session, codes: list[str]) -> dict[str, list[str]]:
    """Grid code → names of its grid workers."""
    found = rows(
        session,
        "SELECT ug.grid_code, coalesce(u.full_name, u.username) AS worker FROM user_grids ug "
        "JOIN users u ON u.id = ug.user_id AND u.role = 'grid_worker' WHERE ug.grid_code = ANY(:codes) "
        "ORDER BY u.username",
        codes=codes,
    )
    out: dict[str, list[str]] = {}
    for r in found:
        out.setdefault(str(r["grid_code"]), []).append(str(r["worker"]))
    return out


def published_extent(session: Session) -> tuple[float, float, float, float] | None:
    """The WGS84 box of the published grids (None without any)."""
    row = session.execute(
        text(
            "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM "
            f"(SELECT ST_Extent(geom) AS e FROM grids WHERE plan_id = {PUBLISHED}) x"
        )
    ).one()
    return None if row[0] is None else (float(row[0]), float(row[1]), float(row[2]), float(row[3]))
