"""schema ogc: the published plan's layers as views for OGC API - Features, scoped by the caller's role

Revision ID: 0013
Revises: 0006
Create Date: 2026-12-04 01:30:00

Each request sets ``gridmap.scope`` (a JSON object, see ``gridmap.ogc.scope``) on its connection; the views
show only what that scope covers. Without the setting they show nothing (fail closed).
"""
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

SCOPE = "nullif(current_setting('gridmap.scope', true), '')::jsonb"

UPGRADE = f"""
CREATE SCHEMA ogc;
COMMENT ON SCHEMA ogc IS 'gridmap: read-only layers served by OGC API - Features (/ogc)';

CREATE FUNCTION ogc.grid_in_scope(code text) RETURNS boolean LANGUAGE sql STABLE AS $$
  SELECT coalesce((s ->> 'all')::boolean, false)
      OR (code IS NOT NULL AND (
            code IN (SELECT jsonb_array_elements_text(s -> 'grids'))
         OR (s ->> 'prefix' IS NOT NULL AND starts_with(code, s ->> 'prefix'))))
  FROM (SELECT {SCOPE} AS s) q
$$;

CREATE FUNCTION ogc.signed_in() RETURNS boolean LANGUAGE sql STABLE AS $$
  SELECT {SCOPE} IS NOT NULL
$$;

CREATE VIEW ogc.grids AS
  SELECT g.id, g.code, g.households, g.n_buildings, g.community_code, u.name AS community_name,
         p.version AS plan_version, g.geom
  FROM grids g JOIN grid_plans p ON p.id = g.plan_id AND p.status = 'published'
  LEFT JOIN admin_units u ON u.code = g.community_code
  WHERE ogc.grid_in_scope(g.code);
COMMENT ON VIEW ogc.grids IS '网格 of the published plan';

CREATE VIEW ogc.buildings AS
  SELECT b.id, b.name, b.addr_street, b.addr_housenumber, b.building_type, b.levels, b.households,
         b.households_source::text AS households_source, b.community_code, g.code AS grid_code, b.geom
  FROM buildings b
  LEFT JOIN (grid_assignments a JOIN grid_plans p ON p.id = a.plan_id AND p.status = 'published'
             JOIN grids g ON g.id = a.grid_id) ON a.building_id = b.id
  WHERE b.is_residential AND ogc.grid_in_scope(g.code);
COMMENT ON VIEW ogc.buildings IS '楼栋: residential buildings with households and their grid in the published plan';

CREATE VIEW ogc.compounds AS
  SELECT c.id, c.name, c.community_code, c.geom FROM compounds c WHERE ogc.signed_in();
COMMENT ON VIEW ogc.compounds IS '小区';

CREATE VIEW ogc.streets AS
  SELECT s.id, s.name, s.street_class, s.is_barrier, s.geom FROM streets s WHERE ogc.signed_in();
COMMENT ON VIEW ogc.streets IS '道路';

CREATE VIEW ogc.communities AS
  SELECT u.code AS id, u.name, u.parent_code, u.geom FROM admin_units u
  WHERE u.level = 'community' AND u.geom IS NOT NULL AND ogc.signed_in();
COMMENT ON VIEW ogc.communities IS '社区 boundaries';

CREATE VIEW ogc.subdistricts AS
  SELECT u.code AS id, u.name, u.parent_code, u.geom FROM admin_units u
  WHERE u.level = 'street' AND u.geom IS NOT NULL AND ogc.signed_in();
COMMENT ON VIEW ogc.subdistricts IS '街道 boundaries';

CREATE VIEW ogc.requests AS
  SELECT r.id, r.category, c.name_zh AS category_name, r.status, r.grid_code, r.plan_version, r.department,
         r.size, r.channel, r.simulated, r.report_count, r.created_at, r.updated_at, r.dispatched_at,
         r.resolved_at, r.closed_at, r.geom
  FROM requests r JOIN request_categories c ON c.code = r.category
  WHERE r.geom IS NOT NULL AND CASE
    WHEN ({SCOPE} ->> 'department') IS NOT NULL
      THEN r.department = ({SCOPE} ->> 'department') AND r.dispatched_at IS NOT NULL
    ELSE ogc.grid_in_scope(r.grid_code) END;
COMMENT ON VIEW ogc.requests IS '诉求 (staff only; no reporter data)';
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute("DROP SCHEMA ogc CASCADE")
