"""Typed settings, read from ``GRIDMAP_*`` environment variables or ``.env``."""

from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from gridmap.partition.codes import COMMUNITY_PATTERN


class HouseholdSettings(BaseModel):
    """The household model used when a building has no surveyed or mapped count."""

    dwelling_m2: float = Field(90.0, gt=0, description="gross floor area per household (m²)")
    default_levels: int = Field(6, ge=1, description="levels assumed for apartment blocks without a count")
    house_levels: int = Field(2, ge=1, description="levels assumed for houses without a count")
    house_households: int = Field(1, ge=1, description="households in a detached house")
    min_households: int = Field(1, ge=0, description="smallest count given to a residential building")


class PartitionSettings(BaseModel):
    """Size band and rules of the partitioner."""

    target: int = Field(300, gt=0)
    min: int = Field(240, gt=0)
    max: int = Field(360, gt=0)
    barrier_classes: tuple[str, ...] = (
        "motorway",
        "motorway_link",
        "trunk",
        "trunk_link",
        "primary",
        "primary_link",
        "secondary",
        "secondary_link",
        "tertiary",
        "tertiary_link",
    )
    study_buffer_m: float = 30.0
    code_prefix: str = Field("000000000000", pattern=COMMUNITY_PATTERN)
    seed: int = 0


class CalendarSettings(BaseModel):
    """Working calendar for SLAs counted in working hours (China Standard Time by default)."""

    timezone: str = "Asia/Shanghai"
    periods: tuple[tuple[str, str], ...] = (("08:30", "12:00"), ("14:00", "17:30"))
    weekdays: tuple[int, ...] = (0, 1, 2, 3, 4)  # Monday = 0
    holidays: tuple[str, ...] = ()  # ISO dates off work (法定节假日)
    workdays: tuple[str, ...] = ()  # ISO weekend dates worked instead (调休上班)


class RequestSettings(BaseModel):
    """Intake and workflow of requests."""

    duplicate_radius_m: float = Field(50.0, ge=0, description="same category this close is a duplicate")
    duplicate_window_hours: float = Field(24.0, ge=0, description="... when reported within this many hours")
    snap_outside_m: float = Field(100.0, ge=0, description="a point this close outside all grids goes to the nearest")
    reopen_below: int = Field(3, ge=1, le=5, description="a rating below this many stars reopens the request")
    satisfied_from: int = Field(4, ge=1, le=5, description="ratings from this many stars count as satisfied")
    public_rate: str = Field("30/minute", description="Open311 POSTs per client address (limits syntax)")
    public_read_rate: str = Field("300/minute", description="public reads (suggestions, map, tracking) per client")
    max_body_bytes: int = Field(64 * 1024, gt=0)
    max_photo_bytes: int = Field(10 * 1024 * 1024, gt=0, description="largest photo upload accepted")
    audit_log_days: int = Field(
        180, ge=180, description="a finished request's audit trail (its events) is kept this long (at least 180 days)"
    )
    max_photo_pixels: int = Field(
        50_000_000, gt=0, description="largest photo in pixels (width × height), checked before decoding: 48 MP phones"
    )
    calendar: CalendarSettings = CalendarSettings()


class LimitSettings(BaseModel):
    """Request bodies in, GeoJSON layers out.

    Bodies are refused with 413 from their ``Content-Length``, or counted while they stream, never read whole.
    Photo uploads may be ``requests.max_photo_bytes`` plus ``multipart_overhead_bytes``; Open311 bodies
    ``requests.max_body_bytes``; every other body (JSON, sign-in forms) ``body_bytes``. A GeoJSON layer answers
    in pages of at most ``layer_features`` features and ``layer_vertices`` vertices, with a ``next`` link.
    """

    body_bytes: int = Field(1024 * 1024, gt=0, description="largest JSON or form body of the API and the pages")
    multipart_overhead_bytes: int = Field(64 * 1024, ge=0, description="room for a photo upload's form fields")
    layer_features: int = Field(5_000, gt=0, description="features in one page of a GeoJSON layer (next: links)")
    layer_vertices: int = Field(250_000, gt=0, description="vertices in one page of a GeoJSON layer (about 6 MB)")
    feature_vertices: int = Field(10_000, gt=3, description="a feature with more is simplified to fit when sent")


class ImportSettings(BaseModel):
    """Caps on what one ``gridmap import`` reads: a hostile or broken file is refused before anything is stored."""

    max_vertices_per_feature: int = Field(100_000, gt=0, description="vertices of one building, street or area")
    max_vertices_per_file: int = Field(20_000_000, gt=0, description="vertices of all features of one file")
    max_unzipped_bytes: int = Field(2 * 1024**3, gt=0, description="a zipped Shapefile's size once uncompressed")
    max_zip_ratio: float = Field(500.0, gt=1, description="uncompressed ÷ compressed size of a zip member")


class AuthSettings(BaseModel):
    """Sign-in: lockout, password policy, sessions, the sign-in log and proxies (等保 habits by default)."""

    max_failures: int = Field(5, ge=1, description="failed sign-ins of one account that lock it")
    max_failures_per_client: int = Field(20, ge=1, description="failed sign-ins from one client address that lock it")
    failure_window_minutes: float = Field(15.0, gt=0, description="failures count within this many minutes")
    lockout_minutes: float = Field(15.0, gt=0, description="a locked account or client waits this long")
    password_min_length: int = Field(10, ge=1, description="new passwords have at least this many characters")
    password_min_classes: int = Field(
        3, ge=1, le=4, description="... from this many of: lower case, upper case, digits, other characters"
    )
    idle_minutes: float = Field(30.0, gt=0, description="a session unused this long is signed out")
    sign_in_log_days: int = Field(180, ge=180, description="sign-ins are kept this long (at least 180 days)")
    trusted_proxies: tuple[str, ...] = Field(
        (), description="addresses of reverse proxies whose X-Forwarded-For/-Proto are believed"
    )


class NotifySettings(BaseModel):
    """In-app notifications (the scan for new reports and stages due) and outbound webhooks."""

    enabled: bool = Field(True, description="run the scan and the webhook sender in the server process")
    report_seconds: float = Field(2.0, gt=0, description="new reports are looked for this often")
    scan_seconds: float = Field(60.0, gt=0, description="stages due soon or overdue are looked for this often")
    due_soon_fraction: float = Field(0.25, gt=0, lt=1, description="a stage is due soon with this much time left")
    stream_seconds: float = Field(300.0, gt=0, description="an event stream ends after this (browsers reconnect)")
    keepalive_seconds: float = Field(20.0, gt=0, description="a quiet event stream sends a comment this often")
    outbox_seconds: float = Field(5.0, gt=0, description="the webhook outbox is polled this often besides NOTIFY")
    retry_base_seconds: float = Field(10.0, gt=0, description="first retry delay, doubled after each failure")
    retry_max_seconds: float = Field(3600.0, gt=0, description="longest delay between two attempts")
    max_attempts: int = Field(8, ge=1, description="a delivery is given up after this many failed attempts")
    webhook_timeout_seconds: float = Field(5.0, gt=0)
    public_url: str | None = Field(None, description="base URL of this server, for links in webhook messages")


class PeopleSettings(BaseModel):
    """The people of a grid: the key personal data is encrypted with, and what the 网格公示牌 prints."""

    pii_key: str | None = Field(
        None, description="Fernet key for phones and ID numbers (else generated once in home/pii_key, mode 0600)"
    )
    supervision_phone: str = Field("12345", max_length=40, description="监督电话 printed on every grid card")
    card_title: str = Field("网格公示牌", max_length=40)
    reveal_log_days: int = Field(
        180, ge=180, description="a reveal of a full number (pii_reveals) is logged this long (at least 180 days)"
    )


class FieldworkSettings(BaseModel):
    """五个一 field work: patrols (巡查) and visit plans (走访). Visit plans are visits per year per kind.

    Defaults: every household (常规) twice a year; 重点人员, 困难家庭 and 空巢老人 monthly; 重点场所 weekly.
    """

    retention_days: int = Field(180, ge=1, description="patrol positions (行踪轨迹) are deleted after this many days")
    min_patrol_minutes: float = Field(30.0, ge=0, description="a patrol shorter than this is flagged")
    street_buffer_m: float = Field(20.0, gt=0, description="a street counts as passed within this distance")
    building_buffer_m: float = Field(30.0, gt=0, description="a building counts as passed within this distance")
    max_points_per_upload: int = Field(5000, ge=1, description="positions accepted in one upload")
    visits_per_year: dict[str, int] = Field(
        default_factory=lambda: {
            "routine": 2,
            "key_person": 12,
            "hardship": 12,
            "elderly_alone": 12,
            "key_place": 52,
            "other": 2,
        },
        description="visit plan: visits per year per kind (1, 2, 4, 12 or 52: calendar years, halves, quarters, "
        "months or ISO weeks)",
    )
    route_stops: int = Field(8, ge=1, le=30, description="buildings on the suggested route of the day")
    visit_clock_skew_minutes: int = Field(
        5, ge=0, le=1440, description="a visit's phone time (made_at) may be this far ahead of the server's clock"
    )
    visit_max_age_days: int = Field(
        7, ge=1, le=366, description="a visit kept offline on the phone is accepted up to this many days old"
    )


class Settings(BaseSettings):
    """Everything gridmap reads from its environment."""

    model_config = SettingsConfigDict(env_prefix="GRIDMAP_", env_file=".env", env_nested_delimiter="__", extra="ignore")

    home: Path = Field(Path(".gridmap"), description="state directory: embedded cluster, secret key")
    database_url: str | None = Field(None, description="use this PostGIS instead of the embedded cluster")
    db_port: int = Field(54329, description="port of the embedded cluster on 127.0.0.1")
    db_name: str = "gridmap"
    db_pool_size: int = Field(10, ge=1, description="database connections per server process")
    map_threads: int = Field(
        1, ge=1, description="map pages and layers built at once per server process (more: add workers)"
    )
    pg_bin: Path = Path("/usr/lib/postgresql/15/bin")
    host: str = "127.0.0.1"
    port: int = 8000
    secret_key: str | None = None
    token_minutes: int = 12 * 60
    user_cache_seconds: float = Field(30.0, ge=0, description="a signed-in user is re-read after this long (0: always)")
    tiles: str | None = Field(None, description="optional XYZ tile URL template for base maps")
    households: HouseholdSettings = HouseholdSettings()
    partition: PartitionSettings = PartitionSettings()
    requests: RequestSettings = RequestSettings()
    auth: AuthSettings = AuthSettings()
    limits: LimitSettings = LimitSettings()
    imports: ImportSettings = ImportSettings()
    notify: NotifySettings = NotifySettings()
    people: PeopleSettings = PeopleSettings()
    fieldwork: FieldworkSettings = FieldworkSettings()

    @property
    def pg_data(self) -> Path:
        """Data directory of the embedded cluster."""
        return self.home.resolve() / "pg"

    def effective_database_url(self) -> str:
        """The SQLAlchemy URL: the configured server, else the embedded cluster (with its password)."""
        if self.database_url:
            return self.database_url
        from gridmap.db.cluster import LocalCluster

        return LocalCluster(data_dir=self.pg_data, port=self.db_port, pg_bin=self.pg_bin).url(self.db_name)

    def effective_secret_key(self) -> str:
        """JWT signing key: configured, else generated once and kept in ``home``."""
        if self.secret_key:
            return self.secret_key
        path = self.home / "secret_key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        return path.read_text().strip()

    def effective_pii_key(self) -> str:
        """Key for personal data at rest: configured, else generated once in ``home`` (mode 0600), never in the repo."""
        if self.people.pii_key:
            return self.people.pii_key
        path = self.home / "pii_key"
        if not path.exists():
            from cryptography.fernet import Fernet

            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch(mode=0o600)
            path.chmod(0o600)
            path.write_bytes(Fernet.generate_key())
        return path.read_text().strip()


@lru_cache
def get_settings() -> Settings:
    """Settings of this process (tests build their own ``Settings`` instead)."""
    return Settings()
