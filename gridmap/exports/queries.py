"""The SQL of the exports: a plan's grids with their people, and its buildings with their grid."""

from __future__ import annotations

from sqlalchemy import TextClause, text

GRIDS = text(
    """
    SELECT g.code, g.households, g.n_buildings, g.community_code, g.locked,
           coalesce(string_agg(coalesce(nullif(u.full_name, ''), u.username), '、' ORDER BY u.username), '') AS workers,
           ST_AsBinary(g.geom) AS wkb
    FROM grids g
    LEFT JOIN user_grids ug ON ug.grid_code = g.code
    LEFT JOIN users u ON u.id = ug.user_id AND u.role = 'grid_worker' AND u.is_active
    WHERE g.plan_id = :plan
    GROUP BY g.id
    ORDER BY g.code
    """
)

BUILDINGS = text(
    """
    SELECT b.id, b.name, b.addr_street, b.addr_housenumber, b.households, b.households_source::text AS source,
           c.name AS compound, g.code AS grid_code, h.name AS head_name, h.phone_enc AS head_phone_enc,
           h.office_phone AS head_office_phone, ST_AsBinary(b.geom) AS wkb
    FROM grid_assignments a
    JOIN buildings b ON b.id = a.building_id
    JOIN grids g ON g.id = a.grid_id
    LEFT JOIN compounds c ON c.id = b.compound_id
    LEFT JOIN grid_posts p ON p.building_id = b.id AND p.role = 'building_head'
    LEFT JOIN people h ON h.id = p.person_id
    WHERE a.plan_id = :plan
    ORDER BY g.code, b.id
    """
)

REGRID_HOUSEHOLDS: TextClause = text(
    """
    UPDATE grids g SET households = s.households
    FROM (
        SELECT a.grid_id, sum(b.households)::int AS households
        FROM grid_assignments a JOIN buildings b ON b.id = a.building_id
        WHERE a.grid_id IN (SELECT grid_id FROM grid_assignments WHERE building_id = ANY(:ids))
        GROUP BY a.grid_id
    ) s
    WHERE g.id = s.grid_id AND g.households <> s.households
    """
)
