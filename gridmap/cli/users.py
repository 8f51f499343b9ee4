"""``gridmap users add|list``."""

from __future__ import annotations

import getpass
from typing import Annotated

import typer

from gridmap.cli.common import console, engine, settings, user_errors
from gridmap.db.models import Role

app = typer.Typer(help="用户 / users and roles", no_args_is_help=True)


@app.command("add")
def add(
    username: str,
    role: Annotated[Role, typer.Option(help="admin, planner, leader, grid_worker or department")],
    password: Annotated[str | None, typer.Option(help="asked for when omitted")] = None,
    full_name: Annotated[str | None, typer.Option()] = None,
    department: Annotated[str | None, typer.Option()] = None,
    grid: Annotated[list[str] | None, typer.Option(help="grid code of a grid worker (repeatable)")] = None,
) -> None:
    """Add a user; the password must meet the policy (GRIDMAP_AUTH__PASSWORD_MIN_LENGTH, ..._MIN_CLASSES)."""
    from gridmap.auth.service import create_user
    from gridmap.db.session import session_scope

    secret = password or getpass.getpass("password: ")
    with user_errors(), session_scope(engine()) as session:
        create_user(
            session=session,
            username=username,
            password=secret,
            role=role,
            full_name=full_name,
            department=department,
            grids=grid,
            policy=settings().auth,
        )
    console.print(f"added {username} ({role.value})")


@app.command("list")
def list_users() -> None:
    """List users and roles."""
    from sqlalchemy import select

    from gridmap.db.models import User
    from gridmap.db.session import session_scope

    with session_scope(engine()) as session:
        for user in session.scalars(select(User).order_by(User.username)):
            console.print(f"{user.username}\t{user.role.value}\t{'active' if user.is_active else 'disabled'}")


@app.command("purge-sign-ins")
def purge_sign_ins(
    days: Annotated[
        int | None, typer.Option(min=180, help="keep this many days (default GRIDMAP_AUTH__SIGN_IN_LOG_DAYS, 180)")
    ] = None,
) -> None:
    """Delete sign-in log entries and ended sessions older than the retention period (at least 180 days)."""
    from datetime import UTC, datetime

    from gridmap.auth.signin import purge_sign_ins as purge
    from gridmap.db.session import session_scope

    keep = days or settings().auth.sign_in_log_days
    with session_scope(engine()) as session:
        events, sessions = purge(session=session, days=keep, now=datetime.now(UTC))
    console.print(f"删除 / deleted {events} sign-in events and {sessions} sessions older than {keep} days")
