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
    role: Annotated[Role, typer.Option(help="admin, planner, leader, grid_worker, community, command or department")],
    password: Annotated[str | None, typer.Option(help="asked for when omitted")] = None,
    full_name: Annotated[str | None, typer.Option()] = None,
    department: Annotated[str | None, typer.Option()] = None,
    grid: Annotated[list[str] | None, typer.Option(help="grid code of a grid worker (repeatable)")] = None,
    unit: Annotated[str | None, typer.Option(help="社区 (12 digits) or 街道 (9) code")] = None,
) -> None:
    """Add a user; the password must meet the policy (GRIDMAP_AUTH__PASSWORD_MIN_LENGTH, ..._MIN_CLASSES)."""
    from gridmap.auth.service import create_user
    from gridmap.db.session import session_scope
    from gridmap.policy import check_unit

    with user_errors():
        check_unit(role, unit)
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
            unit_code=unit,
            policy=settings().auth,
        )
    console.print(f"added {username} ({role.value})")


@app.command("unit")
def set_unit(
    username: str,
    unit: Annotated[str, typer.Argument(help="社区 (12-digit) or 街道 (9-digit) code; '-' removes the unit")],
) -> None:
    """Set the 社区/街道 a community or command user works for (scopes what the user sees)."""
    from sqlalchemy import select

    from gridmap.db.models import User
    from gridmap.db.session import session_scope
    from gridmap.errors import NotFound
    from gridmap.policy import check_unit
    from gridmap.units import unit_name

    code = None if unit == "-" else unit
    with user_errors(), session_scope(engine()) as session:
        user = session.scalar(select(User).where(User.username == username))
        if user is None:
            raise NotFound(f"no user {username!r}: add it with `gridmap users add`")
        check_unit(user.role, code)
        user.unit_code = code
        name = unit_name(session, code) if code else "—"
    console.print(f"{username}: {name} ({code or 'no unit'})")


@app.command("list")
def list_users() -> None:
    """List users and roles."""
    from sqlalchemy import select

    from gridmap.db.models import User
    from gridmap.db.session import session_scope

    with session_scope(engine()) as session:
        for user in session.scalars(select(User).order_by(User.username)):
            state = "active" if user.is_active else "disabled"
            console.print(f"{user.username}\t{user.role.value}\t{user.unit_code or user.department or ''}\t{state}")


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
