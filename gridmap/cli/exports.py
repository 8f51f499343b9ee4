"""``gridmap export`` (网格台账 .xlsx, .gpkg, .geojson of a plan) and ``gridmap import-households`` (a 台账's 户数)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from gridmap.cli.common import console, engine, settings, user_errors
from gridmap.errors import InvalidInput, NotFound

FORMATS = ("xlsx", "gpkg", "geojson")


def export_command(
    output: Annotated[Path, typer.Argument(help="OUT.xlsx (网格台账), OUT.gpkg or OUT.geojson")],
    plan: Annotated[int | None, typer.Option(help="plan id (default: the published plan)")] = None,
) -> None:
    """Export a plan version, phones masked: the format follows the file's suffix."""
    from gridmap.db.session import session_scope
    from gridmap.exports import ledger
    from gridmap.partition.service import published_plan
    from gridmap.people.pii import Cipher
    from gridmap.policy import Scope

    with user_errors():
        fmt = output.suffix.lower().lstrip(".")
        if fmt not in FORMATS:
            raise InvalidInput(f"输出文件须为 .xlsx、.gpkg 或 .geojson / {output.name}: use .xlsx, .gpkg or .geojson")
        with session_scope(engine()) as session:
            plan_id = plan or getattr(published_plan(session=session), "id", None)
            if plan_id is None:
                raise NotFound("还没有已发布的方案，请用 --plan 指定 / no published plan: give --plan")
            cipher = Cipher(settings().effective_pii_key())
            layers = ledger.plan_layers(session, plan_id, Scope(everything=True), cipher)
            body = {"xlsx": ledger.to_xlsx, "gpkg": ledger.to_gpkg}.get(fmt)
            data = body(layers) if body else ledger.to_geojson(layers).encode("utf-8")
        partial = output.with_name(output.name + ".partial")
        partial.write_bytes(data)
        partial.replace(output)  # a reader never sees half a file
    console.print(f"{output}: {len(layers.grids)} 个网格, {len(layers.buildings)} 栋楼 (plan {plan_id}, 电话已脱敏)")


def import_households_command(
    path: Annotated[Path, typer.Argument(help="a 社区's Excel 台账 (.xlsx): 楼栋名称 or 地址, and 户数")],
    dry_run: Annotated[bool, typer.Option(help="only report what would change")] = False,
) -> None:
    """Store surveyed 户数 of the buildings a ledger names; rows that match no single building are listed."""
    from gridmap.db.session import session_scope
    from gridmap.exports.households import import_households
    from gridmap.policy import Scope

    with user_errors():
        if not path.is_file():
            raise InvalidInput(f"找不到文件 {path} / no such file")
        with session_scope(engine()) as session:
            report = import_households(session, path.read_bytes(), scope=Scope(everything=True), dry_run=dry_run)
    result = report.as_json()
    verb = "将更新" if dry_run else "已更新"
    console.print(
        f"{result['rows']} 行: {result['matched']} 行对上楼栋, {verb} {result['updated']} 栋, "
        f"{result['not_matched']} 行未对上" + (" (dry run: 未写入)" if dry_run else "")
    )
    if report.problems:
        table = Table("行 row", "楼栋 / 地址", "户数", "原因 reason")
        for p in report.problems:
            table.add_row(str(p["row"]), p["text"], str(p["households"] or "—"), p["reason"])
        console.print(table)
