"""the people of a grid: people (personal data encrypted), their posts, the reveal log; 楼长 become records

Revision ID: 0012
Revises: 0006
Create Date: 2026-12-04 01:30:00

The free-text ``buildings.head_name``/``head_phone`` (0003) become a person with a ``building_head`` post in the
building's published grid; the phone is encrypted with the key of the environment's settings (the same key the
server reads: ``GRIDMAP_PEOPLE__PII_KEY`` or ``<home>/pii_key``).
"""
import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry

revision = '0012'
down_revision = "0010"
branch_labels = None
depends_on = None

POST_ROLES = "('grid_worker', 'grid_leader', 'building_head', 'lane_head', 'party_member', 'volunteer')"


def upgrade() -> None:
    op.create_table(
        'people',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('community_code', sa.String(length=12), nullable=True),
        sa.Column('user_id', sa.Integer(), sa.ForeignKey('users.id', ondelete='SET NULL'), nullable=True),
        sa.Column('phone_enc', sa.Text(), nullable=True),
        sa.Column('id_number_enc', sa.Text(), nullable=True),
        sa.Column('address_enc', sa.Text(), nullable=True),
        sa.Column('office_phone', sa.String(length=30), nullable=True),
        sa.Column('in_service', sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column('work_unit', sa.String(length=200), nullable=True),
        sa.Column('availability', sa.JSON(), nullable=False, server_default='[]'),
        sa.Column('home_building_id', sa.Integer(), sa.ForeignKey('buildings.id', ondelete='SET NULL'), nullable=True),
        sa.Column('home_grid_code', sa.String(length=15), nullable=True),
        sa.Column(
            'home_geom',
            Geometry(geometry_type='POINT', srid=4326, dimension=2, spatial_index=False, name='geometry'),
            nullable=True,
        ),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column('created_by', sa.String(length=100), nullable=True),
    )
    op.create_index('ix_people_community_code', 'people', ['community_code'])
    op.create_index('ix_people_user_id', 'people', ['user_id'])
    op.create_geospatial_index('idx_people_home_geom', 'people', ['home_geom'], unique=False, postgresql_using='gist')
    op.create_table(
        'grid_posts',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('person_id', sa.Integer(), sa.ForeignKey('people.id', ondelete='CASCADE'), nullable=False),
        sa.Column('role', sa.String(length=20), nullable=False),
        sa.Column('grid_code', sa.String(length=15), nullable=True),
        sa.Column('building_id', sa.Integer(), sa.ForeignKey('buildings.id', ondelete='CASCADE'), nullable=True),
        sa.Column('street_id', sa.Integer(), sa.ForeignKey('streets.id', ondelete='CASCADE'), nullable=True),
        sa.Column('placed_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('placed_by', sa.String(length=100), nullable=True),
        sa.CheckConstraint(f"role IN {POST_ROLES}", name='ck_grid_posts_role'),
        sa.CheckConstraint("role <> 'building_head' OR building_id IS NOT NULL", name='ck_grid_posts_building'),
        sa.CheckConstraint("role <> 'lane_head' OR street_id IS NOT NULL", name='ck_grid_posts_street'),
        sa.UniqueConstraint(
            'person_id', 'role', 'grid_code', 'building_id', 'street_id', name='uq_grid_posts_post',
            postgresql_nulls_not_distinct=True,
        ),
    )
    op.create_index('ix_grid_posts_person_id', 'grid_posts', ['person_id'])
    op.create_index('ix_grid_posts_grid_code', 'grid_posts', ['grid_code'])
    op.create_index(
        'uq_grid_posts_building_head', 'grid_posts', ['building_id'], unique=True,
        postgresql_where=sa.text("role = 'building_head'"),
    )
    op.create_index(
        'uq_grid_posts_lane_head', 'grid_posts', ['street_id'], unique=True,
        postgresql_where=sa.text("role = 'lane_head'"),
    )
    op.create_table(
        'pii_reveals',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('user_id', sa.Integer(), sa.ForeignKey('users.id', ondelete='SET NULL'), nullable=True),
        sa.Column('username', sa.String(length=100), nullable=False),
        sa.Column('role', sa.String(length=30), nullable=False),
        sa.Column('person_id', sa.Integer(), sa.ForeignKey('people.id', ondelete='SET NULL'), nullable=True),
        sa.Column('field', sa.String(length=20), nullable=False),
        sa.Column('reason', sa.Text(), nullable=False),
    )
    op.create_index('ix_pii_reveals_at', 'pii_reveals', ['at'])
    op.create_index('ix_pii_reveals_person_id', 'pii_reveals', ['person_id'])
    _heads_to_records()
    op.drop_column('buildings', 'head_phone')
    op.drop_column('buildings', 'head_name')


def _heads_to_records() -> None:
    conn = op.get_bind()
    heads = conn.execute(
        sa.text(
            "SELECT b.id, b.head_name, b.head_phone, b.community_code, g.code FROM buildings b "
            "LEFT JOIN grid_assignments a ON a.building_id = b.id "
            "AND a.plan_id = (SELECT id FROM grid_plans WHERE status = 'published') "
            "LEFT JOIN grids g ON g.id = a.grid_id WHERE b.head_name IS NOT NULL AND b.head_name <> ''"
        )
    ).all()
    if not heads:
        return
    from gridmap.people.pii import Cipher
    from gridmap.settings import get_settings

    cipher = Cipher(get_settings().effective_pii_key())
    for building, name, phone, community, grid in heads:
        person = conn.execute(
            sa.text(
                "INSERT INTO people (name, community_code, phone_enc, created_by) "
                "VALUES (:name, :community, :phone, 'migration 0012') RETURNING id"
            ),
            {"name": name, "community": (grid or "")[:12] or community, "phone": cipher.seal(phone)},
        ).scalar_one()
        conn.execute(
            sa.text(
                "INSERT INTO grid_posts (person_id, role, grid_code, building_id) "
                "VALUES (:person, 'building_head', :grid, :building)"
            ),
            {"person": person, "grid": grid, "building": building},
        )


def downgrade() -> None:
    op.add_column('buildings', sa.Column('head_name', sa.String(length=100), nullable=True))
    op.add_column('buildings', sa.Column('head_phone', sa.String(length=30), nullable=True))
    op.execute(  # names come back; phones stay sealed in the dropped table (decrypting them here would leak them)
        "UPDATE buildings b SET head_name = p.name FROM grid_posts r JOIN people p ON p.id = r.person_id "
        "WHERE r.role = 'building_head' AND r.building_id = b.id"
    )
    op.drop_table('pii_reveals')
    op.drop_table('grid_posts')
    op.drop_table('people')
