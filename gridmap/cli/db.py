"""``gridmap db start|stop|status|migrate``: the embedded PostGIS cluster."""

from __future__ import annotations

import typer

from gridmap.cli.common import console, settings, user_errors

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
