"""Typed settings, read from ``GRIDMAP_*`` environment variables or ``.env``."""

from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


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
    code_prefix: str = Field("000000000000", pattern=r"^\d{12}$")
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
    calendar: CalendarSettings = CalendarSettings()


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
    notify: NotifySettings = NotifySettings()

    @property
    def pg_data(self) -> Path:
        """Data directory of the embedded cluster."""
        return self.home.resolve() / "pg"

    def effective_database_url(self) -> str:
        """The SQLAlchemy URL: the configured server, else the embedded cluster."""
        if self.database_url:
            return self.database_url
        return f"postgresql+psycopg2://postgres@127.0.0.1:{self.db_port}/{self.db_name}"

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


@lru_cache
def get_settings() -> Settings:
    """Settings of this process (tests build their own ``Settings`` instead)."""
    return Settings()
