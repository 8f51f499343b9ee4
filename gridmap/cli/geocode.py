"""``gridmap geocode``: addresses and points to buildings and grids, offline."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gridmap.cli.common import console, user_errors


def geocode_command(
    sources: Annotated[
        list[Path], typer.Argument(help="file(s) gridmap import reads: the gazetteer is built from them")
    ],
    queries: Annotated[Path, typer.Option(help="CSV with a `query` column, or `lon,lat[,coord_sys]`")],
    output: Annotated[Path, typer.Option("-o", "--output", help="OUT.csv")],
    grids: Annotated[Path | None, typer.Option(help="GRIDS.gpkg from `gridmap partition` for grid codes")] = None,
) -> None:
    """Geocode Chinese addresses / building names (and points) to buildings and grids."""
    from gridmap.spatial.geocode.batch import gazetteer_from_files, geocode_frame, load_grids, read_queries

    with user_errors():
        gazetteer = gazetteer_from_files(sources)
        frame = read_queries(queries)
        index = load_grids(grids) if grids else None
        answers = geocode_frame(frame, gazetteer, index)
        answers.to_csv(output, index=False)
    found = answers["lon"].notna().sum()
    console.print(f"{found:,} of {len(answers):,} found ({len(gazetteer):,} gazetteer keys); wrote {output}")
