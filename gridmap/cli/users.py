"""``gridmap users add|list``."""

from __future__ import annotations

import getpass
from typing import Annotated

import typer

from gridmap.cli.common import console, engine, user_errors
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
    """Add a user (there are no default passwords outside the demo)."""
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
