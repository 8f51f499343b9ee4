"""``gridmap patrols purge``: delete patrol positions older than the retention (run daily from cron)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from gridmap.cli.common import console, engine, settings, user_errors

app = typer.Typer(help="巡查 / patrols: retention of positions (行踪轨迹)", no_args_is_help=True)


@app.command("purge")
def purge_command(
    days: Annotated[
        int | None, typer.Option(min=1, help="keep this many days (default: GRIDMAP_FIELDWORK__RETENTION_DAYS, 180)")
    ] = None,
) -> None:
    """Delete the positions and tracks of patrols older than the retention; their summaries stay."""
    from gridmap.db.session import session_scope
    from gridmap.fieldwork.patrols import purge

    s = settings()
    with user_errors(), session_scope(engine()) as session:
        result = purge(session, now=datetime.now(UTC), retention_days=days or s.fieldwork.retention_days)
    console.print(
        f"已删除 {result.patrols} 次巡查的轨迹、{result.points} 个位置（{result.before:%Y-%m-%d} 之前）/ "
        f"purged tracks of {result.patrols} patrols, {result.points} positions before {result.before:%Y-%m-%d}"
    )
