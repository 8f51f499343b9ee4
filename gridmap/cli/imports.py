"""``gridmap import``: load OSM, GeoPackage, GeoJSON or zipped Shapefile data into the database."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from gridmap.cli.common import console, engine, progress_bar, settings, user_errors


def import_command(
    paths: Annotated[list[Path], typer.Argument(help=".osm, .osm.pbf, .gpkg, .geojson, .zip or .shp (Shapefile)")],
    households_field: Annotated[str | None, typer.Option(help="column with surveyed household counts")] = None,
    crs: Annotated[str | None, typer.Option(help="CRS of the input when the file lacks it, or gcj02/bd09")] = None,
    strict: Annotated[bool, typer.Option(help="refuse invalid geometries instead of repairing them")] = False,
    encoding: Annotated[
        str | None, typer.Option(help="text encoding of a Shapefile without .cpg or a non-UTF-8 GeoJSON, e.g. gbk")
    ] = None,
) -> None:
    """Import buildings, streets, compounds (and communities) — all or nothing, re-runnable."""
    from gridmap.db.session import session_scope
    from gridmap.ingest.service import import_files
    from gridmap.spatial.crs import parse_crs

    with user_errors():
        declared = parse_crs(crs) if crs else None
        eng = engine()
        with progress_bar() as progress, session_scope(eng) as session:
            result = import_files(
                session=session,
                settings=settings(),
                paths=paths,
                households_field=households_field,
                crs=declared,
                strict=strict,
                progress=progress,
                encoding=encoding,
            )
    table = Table(title="导入结果 / imported")
    table.add_column("what")
    table.add_column("count", justify="right")
    for name, value in [
        ("楼栋 buildings", result.buildings),
        ("住宅 residential", result.residential),
        ("户数 households", result.households),
        ("道路 streets", result.streets),
        ("小区 compounds", result.compounds),
        ("社区 communities", result.communities),
        ("地标 landmarks", result.landmarks),
    ]:
        table.add_row(name, f"{value:,}")
    for source, value in sorted(result.households_by_source.items()):
        table.add_row(f"  households {source}", f"{value:,}")
    console.print(table)
    for line in result.fixes:
        console.print(f"[yellow]fixed/skipped:[/] {line}")
