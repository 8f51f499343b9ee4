"""Tables. Geometries are EPSG:4326 with GiST indexes (GeoAlchemy2 creates them)."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from geoalchemy2 import Geometry
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Computed,
    Date,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

SRID = 4326


class Base(DeclarativeBase):
    """Declarative base of all gridmap tables."""


class AdminLevel(enum.StrEnum):
    """NBS administrative levels gridmap deals with."""

    county = "county"  # 区县, 6-digit code
    street = "street"  # 街道/乡镇, 9-digit code
    community = "community"  # 社区/村, 12-digit code


class HouseholdsSource(enum.StrEnum):
    """Where a building's household count came from."""

    surveyed = "surveyed"
    osm = "osm"
    estimated = "estimated"


class PlanStatus(enum.StrEnum):
    """Life cycle of a grid plan."""

    draft = "draft"
    published = "published"
    archived = "archived"


class Role(enum.StrEnum):
    """User roles."""

    admin = "admin"
    planner = "planner"
    leader = "leader"
    grid_worker = "grid_worker"  # 网格员
    department = "department"  # 职能部门
    community = "community"  # 社区工作人员 (分单)
    command = "command"  # 街道指挥中心 (派单)


def _enum(kind: type[enum.StrEnum], name: str) -> Enum:
    return Enum(kind, name=name, values_callable=lambda k: [m.value for m in k])


class AdminUnit(Base):
    """区县 / 街道 / 社区 with NBS codes; geometry when known."""

    __tablename__ = "admin_units"
    code: Mapped[str] = mapped_column(String(12), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    level: Mapped[AdminLevel] = mapped_column(_enum(AdminLevel, "admin_level"))
    parent_code: Mapped[str | None] = mapped_column(ForeignKey("admin_units.code"), index=True)
    geom: Mapped[Any | None] = mapped_column(Geometry("MULTIPOLYGON", srid=SRID), nullable=True)


class Compound(Base):
    """小区: a residential compound."""

    __tablename__ = "compounds"
    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str | None] = mapped_column(String(200))
    community_code: Mapped[str | None] = mapped_column(ForeignKey("admin_units.code"))
    geom: Mapped[Any] = mapped_column(Geometry("MULTIPOLYGON", srid=SRID))


class Building(Base):
    """楼栋: a building with its household count and where that count came from."""

    __tablename__ = "buildings"
    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str | None] = mapped_column(String(200))
    addr_street: Mapped[str | None] = mapped_column(String(200))
    addr_housenumber: Mapped[str | None] = mapped_column(String(50))
    building_type: Mapped[str | None] = mapped_column(String(50))
    levels: Mapped[int | None] = mapped_column(Integer)
    footprint_m2: Mapped[float] = mapped_column(Float)
    is_residential: Mapped[bool] = mapped_column(Boolean)
    households: Mapped[int] = mapped_column(Integer)
    households_source: Mapped[HouseholdsSource] = mapped_column(_enum(HouseholdsSource, "households_source"))
    compound_id: Mapped[int | None] = mapped_column(ForeignKey("compounds.id", ondelete="SET NULL"), index=True)
    community_code: Mapped[str | None] = mapped_column(ForeignKey("admin_units.code"))
    # 楼长: a GridPost (role building_head) since migration 0012, which moved the free-text head_name/head_phone
    geom: Mapped[Any] = mapped_column(Geometry("MULTIPOLYGON", srid=SRID))
    # the footprint in Web Mercator, for the vector tiles (migration 0016)
    geom_3857: Mapped[Any] = mapped_column(
        Geometry("MULTIPOLYGON", srid=3857, spatial_index=False), Computed("ST_Transform(geom, 3857)", persisted=True)
    )


class Street(Base):
    """A street or other linear feature; ``is_barrier`` ones bound grids."""

    __tablename__ = "streets"
    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str | None] = mapped_column(String(200))
    street_class: Mapped[str] = mapped_column(String(50))
    is_barrier: Mapped[bool] = mapped_column(Boolean)
    geom: Mapped[Any] = mapped_column(Geometry("MULTILINESTRING", srid=SRID))


class Landmark(Base):
    """A named point people name a place by (a shop, school, gate of a 小区, bus stop): from OSM nodes."""

    __tablename__ = "landmarks"
    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[str] = mapped_column(String(100), unique=True)  # osm:n<node id>
    osm_id: Mapped[int | None] = mapped_column(BigInteger)
    name: Mapped[str] = mapped_column(String(255))  # as the data writes it (OSM values are at most 255 characters)
    kind: Mapped[str] = mapped_column(String(30))  # gridmap.spatial.landmarks.KINDS: shop, amenity, entrance, stop…
    source: Mapped[str] = mapped_column(String(255))  # the file it was imported from
    geom: Mapped[Any] = mapped_column(Geometry("POINT", srid=SRID))


class GridPlan(Base):
    """A versioned set of grids; one plan is published at a time."""

    __tablename__ = "grid_plans"
    # One plan in force: two concurrent publishes cannot both win (migration 0005).
    __table_args__ = (
        Index(
            "uq_grid_plans_one_published",
            text("(true)"),
            unique=True,
            postgresql_where=text("status = 'published'"),
        ),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer)
    status: Mapped[PlanStatus] = mapped_column(_enum(PlanStatus, "plan_status"), index=True)
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str | None] = mapped_column(String(100))  # the planner who made the draft
    base_version: Mapped[int | None] = mapped_column(Integer)  # the published version it was copied from


class Grid(Base):
    """网格: one grid of a plan, with its 15-digit code."""

    __tablename__ = "grids"
    __table_args__ = (UniqueConstraint("plan_id", "code"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("grid_plans.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(15))
    households: Mapped[int] = mapped_column(Integer)
    n_buildings: Mapped[int] = mapped_column(Integer)
    locked: Mapped[bool] = mapped_column(Boolean, default=False)
    community_code: Mapped[str | None] = mapped_column(String(12))
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    geom: Mapped[Any] = mapped_column(Geometry("POLYGON", srid=SRID))


class GridAssignment(Base):
    """Which grid a building belongs to in a plan."""

    __tablename__ = "grid_assignments"
    plan_id: Mapped[int] = mapped_column(ForeignKey("grid_plans.id", ondelete="CASCADE"), primary_key=True)
    building_id: Mapped[int] = mapped_column(ForeignKey("buildings.id", ondelete="CASCADE"), primary_key=True)
    grid_id: Mapped[int] = mapped_column(ForeignKey("grids.id", ondelete="CASCADE"), index=True)


class User(Base):
    """A person who signs in."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    full_name: Mapped[str | None] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(Text)
    role: Mapped[Role] = mapped_column(_enum(Role, "user_role"))
    department: Mapped[str | None] = mapped_column(String(200))
    unit_code: Mapped[str | None] = mapped_column(String(12))  # 社区 (12 digits) or 街道 (9 digits), see policy
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class UserGrid(Base):
    """A grid worker's grids, by grid code so the link survives new plan versions."""

    __tablename__ = "user_grids"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    grid_code: Mapped[str] = mapped_column(String(15), primary_key=True)


class RequestCategory(Base):
    """A kind of problem residents report, with its default department and time limits."""

    __tablename__ = "request_categories"

    code: Mapped[str] = mapped_column(String(50), primary_key=True)
    name_zh: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100))
    department: Mapped[str] = mapped_column(String(200))
    respond_minutes: Mapped[int] = mapped_column(Integer)
    accept_minutes: Mapped[int] = mapped_column(Integer)
    resolve_minutes: Mapped[int] = mapped_column(Integer)
    working_hours: Mapped[bool] = mapped_column(Boolean, default=False)  # SLA counted on the working calendar
    blocks_lane: Mapped[bool] = mapped_column(Boolean, default=False)  # shown on the blocked-lane map
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class ServiceRequest(Base):
    """A reported problem; ``grid_code`` is the grid at report time and is kept when plans change."""

    __tablename__ = "requests"
    # The duplicate check at intake looks only at open requests near a new report (migration 0004); lists
    # filter open requests by status and a 社区/街道 code prefix (LIKE 'prefix%' needs pattern ops, 0006).
    __table_args__ = (
        Index(
            "ix_requests_open_geom",
            "geom",
            postgresql_using="gist",
            postgresql_where=text("status NOT IN ('closed', 'merged')"),
        ),
        Index(
            "ix_requests_open_grid_prefix",
            text("grid_code varchar_pattern_ops"),
            "status",
            postgresql_where=text("status NOT IN ('closed', 'merged')"),
        ),
        Index(
            "ix_requests_open_department",
            "department",
            "status",
            postgresql_where=text("status NOT IN ('closed', 'merged') AND dispatched_at IS NOT NULL"),
        ),
        CheckConstraint("rating_source IN ('resident', 'callback', 'staff')", name="ck_requests_rating_source"),
        CheckConstraint("rating_token ~ '^[0-9a-f]{64}$'", name="ck_requests_rating_token_sha256"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    category: Mapped[str] = mapped_column(ForeignKey("request_categories.code"), index=True)
    description: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(30), default="reported", index=True)
    grid_code: Mapped[str | None] = mapped_column(String(15), index=True)
    plan_version: Mapped[int | None] = mapped_column(Integer)
    address: Mapped[str | None] = mapped_column(String(300))
    match_level: Mapped[str | None] = mapped_column(String(30))
    building_id: Mapped[int | None] = mapped_column(ForeignKey("buildings.id", ondelete="SET NULL"))
    department: Mapped[str | None] = mapped_column(String(200), index=True)
    size: Mapped[str | None] = mapped_column(String(10))  # small | big, set by the 社区 at triage
    channel: Mapped[str] = mapped_column(String(20), default="staff")  # staff | open311 | simulated
    simulated: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    reporter_name: Mapped[str | None] = mapped_column(String(100))
    reporter_phone: Mapped[str | None] = mapped_column(String(30))
    reporter_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    photos: Mapped[list[str]] = mapped_column(JSON, default=list)
    duplicate_of: Mapped[int | None] = mapped_column(ForeignKey("requests.id", ondelete="SET NULL"), index=True)
    report_count: Mapped[int] = mapped_column(Integer, default=1)
    reopen_count: Mapped[int] = mapped_column(Integer, default=0)
    rating: Mapped[int | None] = mapped_column(Integer)
    rating_comment: Mapped[str | None] = mapped_column(Text)
    # resident: the reporter's own 评单; callback: stars given on a 回访 call by 社区/街道 staff (migration 0007);
    # staff: a rating staff entered before 0007 (counted in neither 满意率)
    rating_source: Mapped[str | None] = mapped_column(String(20))
    # SHA-256 (hex) of the resident's link token, never the token itself (gridmap.requests.link_tokens, 0017)
    rating_token: Mapped[str | None] = mapped_column(String(64))
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    payload_hash: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), index=True)
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    responded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    dispatched_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    accepted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    geom: Mapped[Any | None] = mapped_column(Geometry("POINT", srid=SRID), nullable=True)


class RequestEvent(Base):
    """One audited transition of a request: who, when, why."""

    __tablename__ = "request_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    action: Mapped[str] = mapped_column(String(30))
    from_status: Mapped[str | None] = mapped_column(String(30))
    to_status: Mapped[str] = mapped_column(String(30))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    actor: Mapped[str] = mapped_column(String(100))  # username, or "public" / "system"
    actor_role: Mapped[str] = mapped_column(String(30))
    reason: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class AuthSession(Base):
    """A signed-in session: one per token issued; logout revokes it, idleness ends it (migration 0009)."""

    __tablename__ = "auth_sessions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # the token's ``jti``
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    client: Mapped[str | None] = mapped_column(String(64))


class SignInEvent(Base):
    """One sign-in attempt or sign-out: who, from where, when, how it ended (kept ``sign_in_log_days``)."""

    __tablename__ = "sign_in_events"
    __table_args__ = (
        Index("ix_sign_in_events_username_at", "username", "at"),
        Index("ix_sign_in_events_client_at", "client", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    username: Mapped[str] = mapped_column(String(100))  # as typed, cut to 100 characters
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    client: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(20))  # success | failure | locked | logout
    via: Mapped[str] = mapped_column(String(20))  # token | form


class NotifyEvent(Base):
    """Something people must hear of, stored once by ``key``: a new task, a returned case, a stage due or late."""

    __tablename__ = "notify_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    # report:<request> | event:<request_event> | <kind>:<request>:<stage>:<stage start, epoch s>
    key: Mapped[str] = mapped_column(String(120), unique=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # new_task | returned | due_soon | overdue
    stage: Mapped[str | None] = mapped_column(String(10))  # respond | accept | resolve (the SLA kinds)
    since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # when that stage started
    status: Mapped[str] = mapped_column(String(30))  # the request's status then
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # names, grid, reason, due: a snapshot


class Notification(Base):
    """One user's copy of an event (通知), unread until ``read_at``."""

    __tablename__ = "notifications"
    __table_args__ = (
        UniqueConstraint("user_id", "event_id"),
        Index("ix_notifications_unread", "user_id", postgresql_where=text("read_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    event_id: Mapped[int] = mapped_column(ForeignKey("notify_events.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    read_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Webhook(Base):
    """An outbound group robot of a unit: a 社区/街道 code, a grid code or a department name."""

    __tablename__ = "webhooks"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    unit_kind: Mapped[str] = mapped_column(String(20))  # grid | community | street | department
    unit: Mapped[str] = mapped_column(String(200), index=True)
    url: Mapped[str] = mapped_column(Text)
    format: Mapped[str] = mapped_column(String(20))  # wecom | dingtalk | json
    kinds: Mapped[list[str]] = mapped_column(JSON, default=list)  # the event kinds sent
    secret: Mapped[str | None] = mapped_column(String(200))  # 钉钉 加签 secret
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class WebhookDelivery(Base):
    """The outbox: one event for one webhook, retried with exponential backoff until delivered or given up."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("webhook_id", "event_id"),
        Index("ix_webhook_deliveries_due", "next_attempt_at", postgresql_where=text("status = 'pending'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    webhook_id: Mapped[int] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"))
    event_id: Mapped[int] = mapped_column(ForeignKey("notify_events.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(20), default="pending")  # pending | delivered | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Person(Base):
    """Someone who serves in a grid (网格员, 网格长, 楼长, 街巷长, 党员, 志愿者); personal data encrypted (0012).

    ``phone_enc`` and ``id_number_enc`` hold Fernet tokens (:mod:`gridmap.people.pii`), never plaintext; the
    office phone is a public line and is printed as it is. The home address is kept encrypted as well: lists show
    the geocoded home building instead.
    """

    __tablename__ = "people"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    community_code: Mapped[str | None] = mapped_column(String(12), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    phone_enc: Mapped[str | None] = mapped_column(Text)
    id_number_enc: Mapped[str | None] = mapped_column(Text)
    address_enc: Mapped[str | None] = mapped_column(Text)
    office_phone: Mapped[str | None] = mapped_column(String(30))
    in_service: Mapped[bool] = mapped_column(Boolean, default=False)  # 在职党员
    work_unit: Mapped[str | None] = mapped_column(String(200))
    availability: Mapped[list[str]] = mapped_column(JSON, default=list)  # gridmap.people.roles.AVAILABILITY
    home_building_id: Mapped[int | None] = mapped_column(ForeignKey("buildings.id", ondelete="SET NULL"))
    home_grid_code: Mapped[str | None] = mapped_column(String(15))  # the grid of the home building when geocoded
    home_geom: Mapped[Any | None] = mapped_column(Geometry("POINT", srid=SRID), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    created_by: Mapped[str | None] = mapped_column(String(100))


class GridPost(Base):
    """A person's post in a grid: role, and the grid, building (楼长) or street (街巷长) it is for."""

    __tablename__ = "grid_posts"
    __table_args__ = (
        CheckConstraint(
            "role IN ('grid_worker', 'grid_leader', 'building_head', 'lane_head', 'party_member', 'volunteer')",
            name="ck_grid_posts_role",
        ),
        CheckConstraint("role <> 'building_head' OR building_id IS NOT NULL", name="ck_grid_posts_building"),
        CheckConstraint("role <> 'lane_head' OR street_id IS NOT NULL", name="ck_grid_posts_street"),
        Index(
            "uq_grid_posts_building_head", "building_id", unique=True, postgresql_where=text("role = 'building_head'")
        ),
        Index("uq_grid_posts_lane_head", "street_id", unique=True, postgresql_where=text("role = 'lane_head'")),
        UniqueConstraint(
            "person_id", "role", "grid_code", "building_id", "street_id", name="uq_grid_posts_post",
            postgresql_nulls_not_distinct=True,
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(20))
    grid_code: Mapped[str | None] = mapped_column(String(15), index=True)  # None: a registered 党员 not yet placed
    building_id: Mapped[int | None] = mapped_column(ForeignKey("buildings.id", ondelete="CASCADE"))
    street_id: Mapped[int | None] = mapped_column(ForeignKey("streets.id", ondelete="CASCADE"))
    placed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    placed_by: Mapped[str | None] = mapped_column(String(100))


class PastPost(Base):
    """A post given up (卸任, or replaced as 楼长/街巷长): who held it, for what, from when until when (0019).

    ``person_id`` becomes NULL when the person record is removed: the post's history stays, the person does not.
    """

    __tablename__ = "grid_post_history"

    id: Mapped[int] = mapped_column(primary_key=True)
    post_id: Mapped[int] = mapped_column(Integer)  # the id it had in grid_posts
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"), index=True)
    role: Mapped[str] = mapped_column(String(20))
    grid_code: Mapped[str | None] = mapped_column(String(15), index=True)
    building_id: Mapped[int | None] = mapped_column(ForeignKey("buildings.id", ondelete="SET NULL"), index=True)
    street_id: Mapped[int | None] = mapped_column(ForeignKey("streets.id", ondelete="SET NULL"))
    placed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    placed_by: Mapped[str | None] = mapped_column(String(100))
    ended_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ended_by: Mapped[str] = mapped_column(String(100))


class PersonChange(Base):
    """The audit of people records: who did what to which record when, and the names of the fields (0019).

    Never a value: no name, phone, ID number or address. ``person_id`` has no foreign key, so the row of a
    removal outlives the record it removed.
    """

    __tablename__ = "people_changes"
    __table_args__ = (
        CheckConstraint(
            "action IN ('create', 'update', 'place', 'end_post', 'delete')", name="ck_people_changes_action"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    username: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(30))
    person_id: Mapped[int] = mapped_column(Integer, index=True)
    action: Mapped[str] = mapped_column(String(20))
    fields: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")
    post_id: Mapped[int | None] = mapped_column(Integer)


class PiiReveal(Base):
    """One reveal of a person's (or a reporter's) phone or ID number: who, when, why (PIPL); kept, never edited."""

    __tablename__ = "pii_reveals"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    username: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(30))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"), index=True)
    request_id: Mapped[int | None] = mapped_column(  # a reporter's phone: the request names whose it is
        ForeignKey("requests.id", ondelete="SET NULL"), index=True
    )
    field: Mapped[str] = mapped_column(String(20))  # phone | id_number
    reason: Mapped[str] = mapped_column(Text)


class Patrol(Base):
    """巡查: one explicit patrol of a grid worker; its track (M = epoch seconds) is derived from its points.

    The track and points are kept ``fieldwork.retention_days`` and then purged; the summary numbers stay.
    """

    __tablename__ = "patrols"
    id: Mapped[int] = mapped_column(primary_key=True)
    client_key: Mapped[str] = mapped_column(String(64), unique=True)  # made on the phone: uploads are idempotent
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    grid_code: Mapped[str | None] = mapped_column(String(15), index=True)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    n_points: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    length_m: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    street_share: Mapped[float | None] = mapped_column(Float)  # of the grid's street length within 20 m
    building_share: Mapped[float | None] = mapped_column(Float)  # of the grid's buildings within 30 m
    report_keys: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")  # reports made meanwhile
    track_purged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    track: Mapped[Any | None] = mapped_column(
        Geometry("LINESTRINGM", srid=SRID, dimension=3, spatial_index=False), nullable=True
    )
    __table_args__ = (Index("ix_patrols_track", "track", postgresql_using="gist"),)


class PatrolPoint(Base):
    """One recorded position of a patrol (thinned to ~10 m on the phone), with its accuracy."""

    __tablename__ = "patrol_points"
    patrol_id: Mapped[int] = mapped_column(ForeignKey("patrols.id", ondelete="CASCADE"), primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    accuracy_m: Mapped[float | None] = mapped_column(Float)
    geom: Mapped[Any] = mapped_column(Geometry("POINT", srid=SRID, spatial_index=False))


class TrackView(Base):
    """Who saw another person's patrol track, when and why (a 行踪轨迹 is sensitive personal information)."""

    __tablename__ = "track_views"
    id: Mapped[int] = mapped_column(primary_key=True)
    patrol_id: Mapped[int] = mapped_column(ForeignKey("patrols.id", ondelete="CASCADE"), index=True)
    viewer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    viewer: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    reason: Mapped[str] = mapped_column(Text)


class Visit(Base):
    """走访 (民情日记): a visit to a building or a household in it (单元/室)."""

    __tablename__ = "visits"
    __table_args__ = (
        CheckConstraint(
            "kind IN ('routine', 'key_person', 'hardship', 'elderly_alone', 'key_place', 'other')",
            name="ck_visits_kind",
        ),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    client_key: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    building_id: Mapped[int] = mapped_column(ForeignKey("buildings.id", ondelete="CASCADE"), index=True)
    grid_code: Mapped[str | None] = mapped_column(String(15), index=True)
    unit: Mapped[str | None] = mapped_column(String(20))
    room: Mapped[str | None] = mapped_column(String(20))
    visited_on: Mapped[date] = mapped_column(Date, index=True)
    kind: Mapped[str] = mapped_column(String(20))
    note: Mapped[str | None] = mapped_column(Text)
    photos: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")
    request_id: Mapped[int | None] = mapped_column(ForeignKey("requests.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    made_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # on the phone (an offline visit)
    payload_hash: Mapped[str | None] = mapped_column(String(64))  # the body's SHA-256, kept with client_key


class TileBuild(Base):
    """Which published plan version the ``tile_shapes`` were made from (``gridmap.ogc.tile_shapes``)."""

    __tablename__ = "tile_builds"
    plan_id: Mapped[int] = mapped_column(ForeignKey("grid_plans.id", ondelete="CASCADE"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    built_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    seconds: Mapped[float] = mapped_column(Float)


class TileShape(Base):
    """A shape of the published plan's vector tiles in EPSG:3857, simplified for its zoom ``band``."""

    __tablename__ = "tile_shapes"
    __mapper_args__ = {"primary_key": ["plan_id", "layer", "band", "ref_id"]}  # no key of its own: rebuilt whole
    plan_id: Mapped[int] = mapped_column(ForeignKey("grid_plans.id", ondelete="CASCADE"))
    layer: Mapped[str] = mapped_column(Text)  # grids, streets, compounds, boundaries
    band: Mapped[int] = mapped_column(Integer)
    ref_id: Mapped[int | None] = mapped_column(Integer)
    code: Mapped[str | None] = mapped_column(Text)
    name: Mapped[str | None] = mapped_column(Text)
    kind: Mapped[str | None] = mapped_column(Text)  # street class, admin level
    households: Mapped[int | None] = mapped_column(Integer)
    n_buildings: Mapped[int | None] = mapped_column(Integer)
    community_code: Mapped[str | None] = mapped_column(Text)
    geom: Mapped[Any] = mapped_column(Geometry(srid=3857, spatial_index=False))
