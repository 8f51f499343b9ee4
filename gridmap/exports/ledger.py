"""A plan version's 网格台账 (grid ledger) and layers, for the people who keep them in Excel and GIS.

Every export is masked the same way: a 楼长's office phone as it is (a public line), a personal phone as
138****5678, never in full, whoever asks (an export leaves the system, so it carries only what anyone holding the
file may read). Scoped like the pages: a 社区 or 街道 account
gets the grids of its unit only.
"""

from __future__ import annotations

import io
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pyogrio
import shapely
from openpyxl import Workbook
from openpyxl.utils import get_column_letter
from sqlalchemy.orm import Session

from gridmap.db.models import GridPlan, PlanStatus
from gridmap.errors import NotFound
from gridmap.exports.queries import BUILDINGS, GRIDS
from gridmap.partition.codes import GridCode
from gridmap.people.pii import Cipher
from gridmap.policy import Scope
from gridmap.privacy import mask_phone
from gridmap.units import unit_names

SRID = 4326
PLAN_NAMES = {PlanStatus.published: "已发布", PlanStatus.draft: "草稿", PlanStatus.archived: "已归档"}
GRID_COLUMNS = {  # column → header of the ledger's 网格 sheet (简体中文 first, as offices read it)
    "code": "网格编码",
    "name": "网格名称",
    "community": "所属社区",
    "street": "所属街道",
    "households": "户数",
    "n_buildings": "楼栋数",
    "workers": "网格员",
    "locked": "已锁定",
}
BUILDING_COLUMNS = {
    "grid_code": "网格编码",
    "id": "楼栋编号",
    "name": "楼栋名称",
    "compound": "小区",
    "address": "地址",
    "households": "户数",
    "source": "户数来源",
    "head_name": "楼栋长",
    "head_phone": "楼栋长电话",
}
SOURCES = {"surveyed": "社区台账", "osm": "地图数据", "estimated": "估算"}


@dataclass(frozen=True)
class PlanLayers:
    """A plan version's grids and buildings, as exported."""

    plan: GridPlan
    grids: gpd.GeoDataFrame
    buildings: gpd.GeoDataFrame

    @property
    def stem(self) -> str:
        """The file name without suffix: 网格台账_v3_已发布."""
        return f"网格台账_v{self.plan.version}_{PLAN_NAMES.get(self.plan.status, str(self.plan.status))}"


def plan_layers(session: Session, plan_id: int, scope: Scope, cipher: Cipher) -> PlanLayers:
    """The grids (with 社区, 街道 and 网格员 by name) and buildings of plan ``plan_id`` that ``scope`` covers.

    ``cipher`` opens a 楼长's sealed phone only to mask it.
    """
    plan = session.get(GridPlan, plan_id)
    if plan is None:
        raise NotFound(f"没有方案 {plan_id} / no plan {plan_id}")
    grids = pd.DataFrame(session.execute(GRIDS, {"plan": plan_id}).mappings().all())
    buildings = pd.DataFrame(session.execute(BUILDINGS, {"plan": plan_id}).mappings().all())
    if not grids.empty:
        grids = grids[[scope.covers_grid(c) for c in grids["code"]]]
    if not buildings.empty:
        buildings = buildings[buildings["grid_code"].isin(set(grids["code"]) if not grids.empty else set())]
    return PlanLayers(plan, _grid_frame(session, grids), _building_frame(buildings, cipher))


def _geo(frame: pd.DataFrame) -> gpd.GeoSeries:
    wkb: list[Any] = frame["wkb"].tolist() if "wkb" in frame else []
    return gpd.GeoSeries(shapely.from_wkb([bytes(w) for w in wkb]), index=frame.index, crs=SRID)


def _grid_frame(session: Session, grids: pd.DataFrame) -> gpd.GeoDataFrame:
    if grids.empty:
        return gpd.GeoDataFrame({c: [] for c in GRID_COLUMNS}, geometry=gpd.GeoSeries([], crs=SRID))
    codes = [GridCode.parse(c) for c in grids["code"]]
    names = unit_names(session, [c.community for c in codes] + [c.street for c in codes] + list(grids["code"]))
    out = pd.DataFrame(
        {
            "code": grids["code"],
            "name": [names[str(c)].rsplit(" ", 1)[-1] for c in codes],
            "community": [names[c.community].rsplit(" ", 1)[-1] for c in codes],
            "street": [names[c.street] for c in codes],
            "households": grids["households"].astype(int),
            "n_buildings": grids["n_buildings"].astype(int),
            "workers": grids["workers"].replace("", "未配备"),
            "locked": grids["locked"].map({True: "是", False: "否"}),
        }
    )
    return gpd.GeoDataFrame(out, geometry=_geo(grids))


def _head_phone(office: object, sealed: object, cipher: Cipher) -> str:
    if isinstance(office, str) and office:
        return office
    return (mask_phone(cipher.open(sealed)) or "") if isinstance(sealed, str) else ""


def _building_frame(buildings: pd.DataFrame, cipher: Cipher) -> gpd.GeoDataFrame:
    if buildings.empty:
        return gpd.GeoDataFrame({c: [] for c in BUILDING_COLUMNS}, geometry=gpd.GeoSeries([], crs=SRID))
    street = buildings["addr_street"].fillna("")
    number = buildings["addr_housenumber"].fillna("")
    out = pd.DataFrame(
        {
            "grid_code": buildings["grid_code"],
            "id": buildings["id"].astype(int),
            "name": buildings["name"].fillna(""),
            "compound": buildings["compound"].fillna(""),
            "address": (street + number.where(number == "", number.str.rstrip("号") + "号")).str.strip(),
            "households": buildings["households"].astype(int),
            "source": buildings["source"].map(SOURCES).fillna(buildings["source"]),
            "head_name": buildings["head_name"].fillna(""),
            "head_phone": [
                _head_phone(office, sealed, cipher)
                for office, sealed in zip(buildings["head_office_phone"], buildings["head_phone_enc"], strict=True)
            ],
        }
    )
    return gpd.GeoDataFrame(out, geometry=_geo(buildings))


def to_xlsx(layers: PlanLayers) -> bytes:
    """The ledger as an Excel workbook: a 网格 sheet and a 楼栋 sheet, Chinese headers, frozen and filterable."""
    book = Workbook()
    _sheet(book.active, "网格", layers.grids, GRID_COLUMNS)
    _sheet(book.create_sheet(), "楼栋", layers.buildings, BUILDING_COLUMNS)
    about = book.create_sheet("说明")
    about.append(["方案", layers.plan.name])
    about.append(["版本", layers.plan.version])
    about.append(["状态", PLAN_NAMES.get(layers.plan.status, str(layers.plan.status))])
    about.append(["电话", "已脱敏（138****5678）；完整号码只在系统内按权限查看"])
    about.append(["数据来源", "© OpenStreetMap contributors（楼栋、道路）；户数见“户数来源”"])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _sheet(sheet: Any, title: str, frame: pd.DataFrame, columns: dict[str, str]) -> None:
    sheet.title = title
    sheet.append(list(columns.values()))
    for row in frame[list(columns)].itertuples(index=False):
        sheet.append([_cell(v) for v in row])
        for cell in sheet[sheet.max_row]:
            if cell.data_type == "f":  # text a user or a data file set that begins with "=": text, not a formula
                cell.data_type = "s"
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = sheet.dimensions
    for i, header in enumerate(columns.values(), start=1):
        width = max([len(header) * 2] + [len(str(v)) * 2 for v in frame[list(columns)[i - 1]].head(200)])
        sheet.column_dimensions[get_column_letter(i)].width = min(max(width, 8), 40)


def _cell(value: object) -> object:
    """A numpy value as the plain Python value a cell holds."""
    return value.item() if hasattr(value, "item") else value


def to_gpkg(layers: PlanLayers) -> bytes:
    """The plan as a GeoPackage with a ``grids`` and a ``buildings`` layer (EPSG:4326)."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "plan.gpkg"
        pyogrio.write_dataframe(layers.grids, path, layer="grids", driver="GPKG")
        pyogrio.write_dataframe(layers.buildings, path, layer="buildings", driver="GPKG", append=True)
        return path.read_bytes()


def to_geojson(layers: PlanLayers) -> str:
    """The plan's grids as a GeoJSON FeatureCollection (RFC 7946: WGS84 lon/lat)."""
    return str(layers.grids.to_json(drop_id=True, ensure_ascii=False))
