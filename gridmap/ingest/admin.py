"""Load NBS administrative codes (区县 / 街道 / 社区) and county boundaries from ``data/boundaries/cn_ref``."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import shapely
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gridmap.db.convert import to_db
from gridmap.db.models import AdminLevel, AdminUnit
from gridmap.ingest.service import upsert
from gridmap.resources import REFERENCE
from gridmap.spatial.crs import CoordSys, to_wgs84

DEFAULT_REF = REFERENCE


def _rows(frame: pd.DataFrame, level: AdminLevel, parent_col: str | None) -> list[dict[str, object]]:
    return [
        {"code": str(code), "name": str(name), "level": level, "parent_code": str(parent) if parent_col else None}
        for code, name, parent in zip(
            frame["code"], frame["name"], frame[parent_col] if parent_col else frame["code"], strict=True
        )
    ]


def load_reference(*, session: Session, ref_dir: Path = DEFAULT_REF) -> dict[str, int]:
    """Upsert counties, 街道 and the 社区 subset; counties get their boundaries (GCJ-02 → WGS84)."""
    read = {"dtype": {"code": str, "areaCode": str, "streetCode": str}}
    areas = pd.read_csv(ref_dir / "areas.csv", **read)  # type: ignore[call-overload]
    streets = pd.read_csv(ref_dir / "streets.csv", **read)  # type: ignore[call-overload]
    villages = pd.read_csv(ref_dir / "villages_subset.csv", **read)  # type: ignore[call-overload]
    for rows in (
        _rows(areas, AdminLevel.county, None),
        _rows(streets, AdminLevel.street, "areaCode"),
        _rows(villages, AdminLevel.community, "streetCode"),
    ):
        upsert(session, AdminUnit, rows, "code")
    boundaries = 0
    for path in sorted((ref_dir / "district_boundaries_gcj02").glob("*.geojson")):
        frame = to_wgs84(gpd.read_file(path), CoordSys.gcj02)
        geom = shapely.union_all(frame.geometry.to_numpy())
        geom = geom if geom.geom_type == "MultiPolygon" else shapely.MultiPolygon(shapely.get_parts(geom))
        unit = session.get(AdminUnit, path.stem)
        if unit is not None:
            unit.geom = to_db(geom)
            boundaries += 1
    session.flush()
    counts = session.execute(select(AdminUnit.level, func.count()).group_by(AdminUnit.level)).all()
    return {str(k): int(v) for k, v in counts} | {"county_boundaries": boundaries}
