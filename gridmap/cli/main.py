"""``gridmap``: one command tree over the services (heavy imports happen inside commands)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from sqlalchemy import Engine

from gridmap.cli import db, notify, patrols, simulate, users
from gridmap.cli.cards import cards_command
from gridmap.cli.common import console, engine, settings, user_errors
from gridmap.cli.exports import export_command, import_households_command
from gridmap.cli.geocode import geocode_command
from gridmap.cli.imports import import_command
from gridmap.cli.interrupts import checkpoint, remembered_interrupts
from gridmap.cli.partition import partition_command
from gridmap.partition.codes import unit_at
from gridmap.resources import DEMO_OSM
from gridmap.settings import Settings

app = typer.Typer(help="gridmap 网格化管理: grids of ~300 households for Chinese communities", no_args_is_help=True)
app.add_typer(db.app, name="db")
app.add_typer(users.app, name="users")
app.add_typer(simulate.app, name="simulate")
app.add_typer(notify.app, name="notify")
app.add_typer(patrols.app, name="patrols")
app.command("import")(import_command)
app.command("partition")(partition_command)
app.command("geocode")(geocode_command)
app.command("export")(export_command)
app.command("import-households")(import_households_command)
app.command("cards")(cards_command)

DEMO_DATA = DEMO_OSM
# 玄武区 新街口街道 (NBS 320102003); the demo area has no 社区 polygons, so its grids share 社区 part 000 (not an
# NBS 社区: it is named "新街口街道 000社区"). The demo's 社区 user works for that 社区, the 街道 user for 新街口街道.
DEMO_PREFIX = "320102003000"
DEMO_USERS = ("admin", "planner", "leader")


@app.command("load-reference")
def load_reference() -> None:
    """Load NBS codes of 区县/街道/社区 and county boundaries from data/boundaries/cn_ref."""
    from gridmap.db.session import session_scope
    from gridmap.ingest.admin import load_reference as run

    with user_errors(), session_scope(engine()) as session:
        counts = run(session=session)
    console.print(f"admin units: {counts}")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="address to listen on (default GRIDMAP_HOST, 127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option(help="port (default GRIDMAP_PORT, 8000)")] = None,
    workers: Annotated[int, typer.Option(min=1, help="server processes; about one per CPU core")] = 1,
    proxy_headers: Annotated[
        bool,
        typer.Option(
            "--proxy-headers/--no-proxy-headers",
            help="believe X-Forwarded-For/-Proto from --forwarded-allow-ips (behind a reverse proxy)",
        ),
    ] = False,
    forwarded_allow_ips: Annotated[
        str | None,
        typer.Option(help="comma-separated proxy addresses (default GRIDMAP_AUTH__TRUSTED_PROXIES, else 127.0.0.1)"),
    ] = None,
    access_log: Annotated[
        bool, typer.Option("--access-log/--no-access-log", help="log every request (costs intake speed)")
    ] = False,
) -> None:
    """Serve the web app and API; production: --workers 2 or more, behind a reverse proxy with --proxy-headers.

    Ctrl-C stops it, and the embedded PostgreSQL if this command started it.
    """
    s = settings()
    with database_while_running(s):  # once, before the workers: the embedded cluster started, the schema migrated
        run_server(
            s,
            host,
            port,
            workers=workers,
            proxy_headers=proxy_headers,
            forwarded_allow_ips=forwarded_allow_ips,
            access_log=access_log,
        )


def run_server(
    s: Settings,
    host: str | None,
    port: int | None,
    *,
    workers: int = 1,
    proxy_headers: bool = False,
    forwarded_allow_ips: str | None = None,
    access_log: bool = False,
) -> None:
    """Serve until interrupted."""
    import uvicorn

    allowed = forwarded_allow_ips or ",".join(s.auth.trusted_proxies) or "127.0.0.1"
    # Each worker builds its app from the environment (GRIDMAP_*), as this process read it. Open event streams
    # (通知) would hold a shutdown up for minutes: they get 5 s, then are closed. No access log by default: a
    # line per request written by the process that serves it was the largest cost of intake under load
    # (benchmarks/requests/load.md); the audit trail and the sign-in log are in the database.
    uvicorn.run(
        "gridmap.api.main:create_app",
        factory=True,
        host=host or s.host,
        port=port or s.port,
        workers=workers,
        log_level="info",
        access_log=access_log,
        proxy_headers=proxy_headers,
        forwarded_allow_ips=allowed,
        server_header=False,
        timeout_graceful_shutdown=5,
    )


@contextmanager
def database_while_running(s: Settings) -> Iterator[Engine]:
    """The database, brought up for this command (the embedded cluster started, the schema migrated).

    On the way out, Ctrl-C included, the embedded cluster is stopped if this command started it; else the command
    says that it keeps running and how to stop it.
    """
    from gridmap.db.session import bring_up_started, embedded_cluster

    embedded = not s.database_url
    ran_before = embedded and embedded_cluster(s).running()
    started = ready = False
    try:
        with user_errors(), remembered_interrupts():
            eng, started = bring_up_started(s)
            checkpoint()
        ready = True
        yield eng
    except KeyboardInterrupt:
        # Ctrl-C before the server took over the signal (starting, preparing): the same way out, exit code 130.
        started, ready = embedded and not ran_before, True
        raise typer.Exit(code=130) from None
    finally:
        if embedded and ready:
            _leave(s, started_db=started)


def _leave(s: Settings, *, started_db: bool) -> None:
    from gridmap.db.session import embedded_cluster

    if started_db:
        embedded_cluster(s).stop()
        console.print("已停止本命令启动的内置数据库 PostgreSQL / stopped the embedded PostgreSQL this command started")
    else:
        console.print(
            "内置数据库 PostgreSQL 仍在运行（不是本命令启动的），停止它：[bold]gridmap db stop[/] / "
            "the embedded PostgreSQL keeps running (this command did not start it): stop it with "
            "[bold]gridmap db stop[/]"
        )


@app.command()
def demo(serve_app: Annotated[bool, typer.Option("--serve/--no-serve")] = True) -> None:
    """Set up the 新街口 demo (database, data, grids, users) and serve it; Ctrl-C stops what it started."""
    s = settings()
    with database_while_running(s) as eng:
        with remembered_interrupts():
            prepare_demo(s, eng)
            checkpoint()
        if serve_app:
            run_server(s, None, None)


def prepare_demo(s: Settings, eng: Engine) -> None:
    """Load the demo's data, grids, users and simulated requests (each only once)."""
    from sqlalchemy import func, select

    from gridmap.auth.service import ensure_user
    from gridmap.db.models import Grid, Role, ServiceRequest
    from gridmap.db.session import session_scope
    from gridmap.ingest.admin import load_reference as load_ref
    from gridmap.ingest.service import import_files
    from gridmap.partition.service import partition_db, published_plan

    with user_errors(), console.status("准备演示数据 / preparing the demo…"), session_scope(eng) as session:
        load_ref(session=session)
        checkpoint()
        result = import_files(session=session, settings=s, paths=[DEMO_DATA])
        checkpoint()
        plan = published_plan(session=session) or partition_db(
            session=session, params=s.partition, publish=True, code_prefix=DEMO_PREFIX
        )
        first = session.scalars(select(Grid.code).where(Grid.plan_id == plan.id).order_by(Grid.code)).first()
        for name in DEMO_USERS:
            ensure_user(session=session, username=name, password="demo", role=Role(name), weak_password=True)
        ensure_user(
            session=session,
            username="worker1",
            password="demo",
            role=Role.grid_worker,
            grids=[first] if first else [],
            weak_password=True,
        )
        grids = session.scalars(select(Grid.code).where(Grid.plan_id == plan.id)).all()
        simulated = session.scalar(select(func.count()).where(ServiceRequest.simulated))
        # The demo's accounts keep the password "demo" on purpose: the policy is waived for them explicitly.
        for name, role, unit in (
            ("community", Role.community, DEMO_PREFIX),
            ("command", Role.command, unit_at(DEMO_PREFIX, "street")),
        ):
            ensure_user(
                session=session, username=name, password="demo", role=role, unit_code=unit, weak_password=True
            )
        ensure_user(
            session=session,
            username="chengguan",
            password="demo",
            role=Role.department,
            department="城管执法中队",
            weak_password=True,
        )
    console.print(
        f"[green]新街口 demo:[/] {result.buildings} buildings, {result.streets} streets, "
        f"{len(grids)} grids (plan v{plan.version})"
    )
    checkpoint()
    if not simulated:
        simulate.run_simulation(days=30, per_day=40.0, seed=0)
    url = f"http://{s.host}:{s.port}/"
    console.print(
        f"打开 / open [bold]{url}[/]  登录 / logins: admin, planner, leader, worker1, community, command, "
        "chengguan — 密码 / password: demo"
    )
