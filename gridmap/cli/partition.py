"""``gridmap partition``: file mode (no database) or DB mode (writes a draft plan)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from gridmap.cli.common import console, engine, progress_bar, settings, user_errors
from gridmap.errors import InvalidInput
from gridmap.settings import PartitionSettings


def partition_command(
    inputs: Annotated[list[Path] | None, typer.Argument(help="file(s) gridmap import reads; omit for DB mode")] = None,
    output: Annotated[Path | None, typer.Option("-o", "--output", help="OUT.gpkg (file mode)")] = None,
    target: Annotated[int | None, typer.Option(help="households per grid")] = None,
    min_households: Annotated[int | None, typer.Option("--min", help="smallest grid")] = None,
    max_households: Annotated[int | None, typer.Option("--max", help="largest grid")] = None,
    households_field: Annotated[str | None, typer.Option(help="column with household counts")] = None,
    seed: Annotated[int | None, typer.Option(help="tie-break seed")] = None,
    crs: Annotated[str | None, typer.Option(help="input CRS when the file lacks it, or gcj02")] = None,
    code_prefix: Annotated[str | None, typer.Option(help="12-digit prefix when 社区 codes are unknown")] = None,
    community: Annotated[str | None, typer.Option(help="DB mode: one 社区 code")] = None,
    all_: Annotated[bool, typer.Option("--all", help="DB mode: everything stored")] = False,
    publish: Annotated[bool, typer.Option(help="DB mode: publish the new plan at once")] = False,
    scheduler: Annotated[str | None, typer.Option(help="DB mode: dask scheduler address (default: local)")] = None,
) -> None:
    """Build grids of ~300 households: contiguous, bounded by main roads, 小区 kept whole."""
    s = settings()
    with user_errors():
        overrides = {
            k: v
            for k, v in {"target": target, "min": min_households, "max": max_households, "seed": seed}.items()
            if v is not None
        }
        params = PartitionSettings.model_validate(s.partition.model_dump() | overrides)
        if params.min > params.target or params.target > params.max:
            raise InvalidInput(f"need --min <= --target <= --max, got {params.min}, {params.target}, {params.max}")
        if inputs:
            _file_mode(inputs, output, params, households_field, crs, code_prefix)
        elif community or all_:
            _db_mode(params, community, publish, code_prefix, scheduler)
        else:
            raise InvalidInput("give INPUT -o OUT.gpkg (file mode), or --community CODE / --all (DB mode)")


def _file_mode(
    inputs: list[Path],
    output: Path | None,
    params: PartitionSettings,
    households_field: str | None,
    crs: str | None,
    code_prefix: str | None,
) -> None:
    from gridmap.partition.filemode import partition_file
    from gridmap.spatial.crs import parse_crs

    if output is None:
        raise InvalidInput("file mode needs -o OUT.gpkg")
    with console.status("分网格中 / partitioning…"):
        result, fixes = partition_file(
            inputs,
            output,
            params=params,
            model=settings().households,
            households_field=households_field,
            crs=parse_crs(crs) if crs else None,
            code_prefix=code_prefix,
        )
    for line in fixes:
        console.print(f"[yellow]fixed/skipped:[/] {line}")
    _summary(result.metrics.as_dict())
    console.print(f"wrote {output} (layers buildings, grids)")


def _db_mode(
    params: PartitionSettings, community: str | None, publish: bool, code_prefix: str | None, scheduler: str | None
) -> None:
    from gridmap.db.session import session_scope
    from gridmap.partition.service import partition_db

    with progress_bar() as bar, session_scope(engine()) as session:
        plan = partition_db(
            session=session,
            params=params,
            community=community,
            publish=publish,
            code_prefix=code_prefix,
            scheduler=scheduler,
            progress=lambda done, total: bar("分网格 社区 / communities", done, total),
        )
        metrics, version, status = plan.metrics, plan.version, plan.status.value
    _summary(metrics)
    console.print(f"saved plan version {version} ({status})")


def _summary(metrics: dict[str, object]) -> None:
    table = Table(title="网格方案 / plan")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key in (
        "grids",
        "expected_grids",
        "households",
        "buildings",
        "in_band_share",
        "in_band_share_feasible",
        "max_abs_deviation_pct",
        "p95_abs_deviation_pct",
        "mean_polsby_popper",
        "max_longest_walk_m",
        "runtime_s",
    ):
        table.add_row(key, str(metrics.get(key)))
    violations = metrics.get("violations") or []
    infeasible = metrics.get("infeasible") or []
    assert isinstance(violations, list) and isinstance(infeasible, list)
    table.add_row("hard-rule violations", str(len(violations)))
    table.add_row("infeasible (reported)", str(len(infeasible)))
    console.print(table)
    for v in violations[:20]:
        console.print(f"[red]violation[/] {v}")
    # Every grid the rules force out of band is explained; the other notes (blocks merged for tiling) up to 20.
    forced = {str(c) for c in metrics.get("size_infeasible_grids") or []}  # type: ignore[attr-defined]
    explained = [str(line) for line in infeasible if str(line).split(":", 1)[0] in forced]
    notes = [str(line) for line in infeasible if str(line).split(":", 1)[0] not in forced]
    for line in explained:
        console.print(f"[yellow]规则所致超标 forced[/] {line}")
    for line in notes[:20]:
        console.print(f"[yellow]infeasible[/] {line}")
    if len(notes) > 20:
        console.print(f"[yellow]infeasible[/] … 另有 {len(notes) - 20} 条 / {len(notes) - 20} more")
