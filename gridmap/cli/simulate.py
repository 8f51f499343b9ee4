"""``gridmap simulate requests``: simulated requests for demos and load."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from gridmap.cli.common import console, engine, progress_bar, settings, user_errors

app = typer.Typer(help="模拟数据 / simulated data for demos", no_args_is_help=True)


def run_simulation(*, days: int, per_day: float, seed: int, end: datetime | None = None) -> None:
    """Replace the simulated requests and print what was made."""
    from gridmap.db.session import session_scope
    from gridmap.requests.simulate import simulate_requests

    with user_errors(), progress_bar() as update, session_scope(engine()) as session:
        result = simulate_requests(
            session,
            days=days,
            end=end or datetime.now(UTC),
            settings=settings().requests,
            per_day=per_day,
            seed=seed,
            progress=lambda done, total: update("模拟事件 / simulating requests", done, total),
        )
    console.print(
        f"{result.requests:,} simulated requests ({result.open:,} still open), {result.events:,} workflow events; "
        f"recurring blocked lanes: {', '.join(result.lanes) or '—'}"
    )


@app.command("requests")
def requests_command(
    days: Annotated[int, typer.Option(min=1, help="days of history ending now")] = 30,
    per_day: Annotated[float, typer.Option(min=0.1, help="mean reports per day")] = 40.0,
    seed: Annotated[int, typer.Option(help="random seed: same seed, same requests")] = 0,
) -> None:
    """Make realistic requests over the imported area (every row marked simulated; replaces earlier ones)."""
    run_simulation(days=days, per_day=per_day, seed=seed)
