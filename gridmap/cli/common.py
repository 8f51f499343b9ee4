"""Shared CLI plumbing: settings, the database, errors as exit codes, progress bars."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from sqlalchemy import Engine

from gridmap.errors import GridmapError
from gridmap.settings import Settings, get_settings

console = Console()
err_console = Console(stderr=True)


def settings() -> Settings:
    """Settings of this run."""
    return get_settings()


def engine() -> Engine:
    """Start the embedded cluster if needed, migrate, return an engine."""
    from gridmap.db.session import bring_up

    return bring_up(settings())


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn domain errors into a red message and exit code 2."""
    try:
        yield
    except GridmapError as exc:
        err_console.print(f"[bold red]错误 / error:[/] {exc}")
        raise typer.Exit(code=2) from exc


@contextmanager
def progress_bar() -> Iterator[Callable[[str, int, int], None]]:
    """A rich progress bar fed by ``(label, done, total)`` callbacks."""
    tasks: dict[str, TaskID] = {}
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err_console, transient=False) as bar:

        def update(label: str, done: int, total: int) -> None:
            if label not in tasks:
                tasks[label] = bar.add_task(label, total=total)
            bar.update(tasks[label], completed=done, total=total)

        yield update
