"""``gridmap db start|stop|status|migrate|backup|restore|purge-audit``: the database (embedded or configured)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gridmap.cli.common import console, settings, user_errors
from gridmap.settings import Settings

app = typer.Typer(help="内置数据库 / the embedded PostgreSQL + PostGIS cluster", no_args_is_help=True)


@app.command()
def start() -> None:
    """Start the embedded cluster (creating it on first use) and migrate the schema."""
    from gridmap.db.session import bring_up

    s = settings()
    with user_errors():
        bring_up(s)
    where = s.database_url or f"embedded cluster {s.pg_data} on 127.0.0.1:{s.db_port}"
    console.print(f"[green]数据库就绪 / database ready:[/] {where}")


@app.command()
def stop() -> None:
    """Stop the embedded cluster."""
    from gridmap.db.session import embedded_cluster

    embedded_cluster(settings()).stop()
    console.print("数据库已停止 / stopped")


@app.command()
def status() -> None:
    """Say whether the embedded cluster runs (exit 1 when it does not)."""
    from gridmap.db.session import embedded_cluster

    s = settings()
    if s.database_url:
        console.print(f"using GRIDMAP_DATABASE_URL ({s.database_url.split('@')[-1]})")
        return
    running = embedded_cluster(s).running()
    console.print(f"{s.pg_data} on 127.0.0.1:{s.db_port}: {'running' if running else 'stopped'}")
    if not running:
        raise typer.Exit(code=1)


@app.command()
def migrate() -> None:
    """Apply Alembic migrations to the configured database."""
    from gridmap.db.session import migrate as run

    with user_errors():
        run(settings().effective_database_url())
    console.print("schema up to date")


def _reachable(s: Settings) -> str:
    """Start the embedded cluster (and create its database) when no URL is configured; the database's URL."""
    from gridmap.db.session import embedded_cluster

    if not s.database_url:
        cluster = embedded_cluster(s)
        cluster.start()
        cluster.ensure_database(s.db_name)
    return s.effective_database_url()


@app.command()
def backup(
    file: Annotated[Path, typer.Argument(help="the backup file to write, e.g. backups/gridmap-2026-12-04.dump")],
) -> None:
    """Back the database up into one file (pg_dump custom format; mode 0600: it holds personal data)."""
    from gridmap.db.backup import backup as dump
    from gridmap.db.backup import table_counts

    s = settings()
    with user_errors():
        url = _reachable(s)
        size = dump(url, file, s.pg_bin)
        counts = table_counts(url)
    what = ", ".join(f"{n} {t}" for t, n in counts.items())
    console.print(f"[green]已备份 / backed up[/] to {file} ({size / 1e6:.1f} MB): {what}")


@app.command()
def restore(
    file: Annotated[Path, typer.Argument(help="a file written by `gridmap db backup`")],
    force: Annotated[
        bool, typer.Option("--force", help="replace a database that is not empty (its content is saved first)")
    ] = False,
) -> None:
    """Restore a backup into the database: an empty one, or with --force over the current content."""
    from gridmap.db.backup import restore as load
    from gridmap.db.backup import table_counts
    from gridmap.db.session import migrate as run

    s = settings()
    with user_errors():
        url = _reachable(s)
        result = load(url, file, s.pg_bin, force=force, safety_dir=s.home / "backups")
        run(url)  # a backup made by an older gridmap gets the newer migrations
        counts = table_counts(url)
    if result.safety_dump:
        console.print(f"原有内容已另存 / the content before was saved to {result.safety_dump}")
    what = ", ".join(f"{n} {t}" for t, n in counts.items())
    console.print(f"[green]已恢复 / restored[/] {file}: {result.tables} tables, {what}")


@app.command("purge-audit")
def purge_audit(
    days: Annotated[
        int | None,
        typer.Option(min=180, help="keep this many days (default GRIDMAP_REQUESTS__AUDIT_LOG_DAYS, 180)"),
    ] = None,
    reveal_days: Annotated[
        int | None,
        typer.Option(min=180, help="keep reveals this many days (default GRIDMAP_PEOPLE__REVEAL_LOG_DAYS, 180)"),
    ] = None,
) -> None:
    """Delete audit records older than their retention (at least 180 days).

    The trails of requests finished longer ago than ``--days``, and the reveals of full numbers (``pii_reveals``)
    older than ``--reveal-days``.
    """
    from datetime import UTC, datetime

    from gridmap.cli.common import engine
    from gridmap.db.session import session_scope
    from gridmap.people.retention import purge_reveals
    from gridmap.requests.retention import purge_request_events

    s = settings()
    keep, keep_reveals = days or s.requests.audit_log_days, reveal_days or s.people.reveal_log_days
    now = datetime.now(UTC)
    with user_errors(), session_scope(engine()) as session:
        deleted = purge_request_events(session=session, days=keep, now=now)
        reveals = purge_reveals(session=session, days=keep_reveals, now=now)
    console.print(f"删除 / deleted {deleted} request events of requests finished more than {keep} days ago")
    console.print(f"删除 / deleted {reveals} reveals of personal numbers older than {keep_reveals} days")
