"""Surveyed household counts from a 社区's Excel 台账 (楼栋 name or address + 户数), matched to buildings.

A row counts only when the gazetteer names one building by its name or address (exact or structured match): a
guess (fuzzy, by sound, a 小区 without a 楼号, a landmark) is reported for a person to check, never written. Two
rows naming the same building are both reported. Everything is written in one transaction, or nothing (dry run).
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass, field
from typing import Any

from openpyxl import load_workbook
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from gridmap.db.models import Building, Grid, GridAssignment, HouseholdsSource
from gridmap.errors import InvalidInput
from gridmap.exports.queries import REGRID_HOUSEHOLDS
from gridmap.partition.service import published_plan
from gridmap.policy import Scope
from gridmap.requests.locate import gazetteer

MAX_BYTES = 5 * 1024 * 1024
MAX_UNPACKED = 100 * 1024 * 1024  # an .xlsx is a zip: its parts may not unpack beyond this (a zip bomb)
MAX_ROWS = 20_000
MAX_HOUSEHOLDS = 3000  # more than any one building holds
SURE = frozenset({"exact", "structured"})
NAME_HEADERS = ("楼栋名称", "楼栋", "楼栋名", "楼号", "名称", "building", "name")
ADDRESS_HEADERS = ("地址", "楼栋地址", "门牌", "门牌号", "address")
COMPOUND_HEADERS = ("小区", "小区名称", "compound")
COUNT_HEADERS = ("户数", "住户数", "总户数", "households")


@dataclass
class Report:
    """What an import did (or would do, in a dry run)."""

    rows: int = 0
    matched: int = 0
    updated: int = 0
    unchanged: int = 0
    problems: list[dict[str, Any]] = field(default_factory=list)
    dry_run: bool = False

    def as_json(self) -> dict[str, Any]:
        """The report as the API and the CLI show it."""
        return {
            "rows": self.rows,
            "matched": self.matched,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "not_matched": len(self.problems),
            "problems": self.problems,
            "dry_run": self.dry_run,
        }


@dataclass(frozen=True)
class Row:
    """One data row of the sheet: its number in Excel, the text that names the building, the count."""

    number: int
    text: str
    households: int | None
    error: str = ""


def read_rows(data: bytes) -> list[Row]:
    """The rows of the first sheet with a 户数 column and a 楼栋/地址 column; a clear error for anything else."""
    if len(data) > MAX_BYTES:
        raise InvalidInput(f"文件过大（{len(data) // 1024} KB），上限 {MAX_BYTES // 1024 // 1024} MB / file too large")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(i.file_size for i in archive.infolist())
    except zipfile.BadZipFile:
        raise InvalidInput("不是 Excel 文件（.xlsx）/ not an .xlsx workbook (save it as .xlsx, not .xls)") from None
    if unpacked > MAX_UNPACKED:
        raise InvalidInput(f"文件解压后达 {unpacked // 1024 // 1024} MB，超过上限 / the workbook unpacks too large")
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a damaged file
        raise InvalidInput(f"无法读取 Excel 文件 / cannot read the workbook: {str(exc)[:200]}") from None
    try:
        for sheet in book.worksheets:
            rows = _sheet_rows(sheet.iter_rows(values_only=True))
            if rows is not None:
                return rows
    finally:
        book.close()
    raise InvalidInput(
        "找不到表头：需要“户数”列和“楼栋名称”或“地址”列 / no header row with 户数 and 楼栋名称 or 地址 columns"
    )


def _column(header: list[str], names: tuple[str, ...]) -> int | None:
    for name in names:
        if name in header:
            return header.index(name)
    return None


def _sheet_rows(rows: Any) -> list[Row] | None:
    out: list[Row] = []
    columns: tuple[int | None, int | None, int | None, int] | None = None
    for number, values in enumerate(rows, start=1):
        cells = ["" if v is None else str(v).strip() for v in values]
        if columns is None:
            if number > 20:  # the header is near the top, under a title or two
                return None
            header = [c.lower() for c in cells]
            count = _column(header, COUNT_HEADERS)
            name, address = _column(header, NAME_HEADERS), _column(header, ADDRESS_HEADERS)
            if count is not None and (name is not None or address is not None):
                columns = (_column(header, COMPOUND_HEADERS), name, address, count)
            continue
        if not any(cells):
            continue
        if len(out) >= MAX_ROWS:
            raise InvalidInput(f"行数超过 {MAX_ROWS} 行，请分批导入 / more than {MAX_ROWS} rows: import in parts")
        out.append(_row(number, cells, columns))
    return out if columns is not None else None


def _row(number: int, cells: list[str], columns: tuple[int | None, int | None, int | None, int]) -> Row:
    def cell(i: int | None) -> str:
        return cells[i] if i is not None and i < len(cells) else ""

    compound, name, address, count = (cell(i) for i in columns)
    text = (compound + name if name and compound and not name.startswith(compound) else name) or address
    if not text:
        return Row(number, "", None, "没有楼栋名称或地址 / no building name or address")
    raw = count.replace(",", "").removesuffix("户").strip()
    try:
        value = float(raw)
    except ValueError:
        return Row(number, text, None, f"户数“{count[:20]}”不是数字 / households is not a number")
    if value != int(value) or not 0 <= value <= MAX_HOUSEHOLDS:
        return Row(number, text, None, f"户数须为 0 至 {MAX_HOUSEHOLDS} 的整数 / households must be a whole number")
    return Row(number, text, int(value))


def import_households(session: Session, data: bytes, *, scope: Scope, dry_run: bool = False) -> Report:
    """Match the rows of ``data`` to buildings and store their counts as surveyed (unless ``dry_run``)."""
    rows = read_rows(data)
    report = Report(rows=len(rows), dry_run=dry_run)
    places = gazetteer(session)
    plan = published_plan(session=session)
    grid_of = _published_grids(session, plan.id) if plan else {}
    chosen: dict[int, list[Row]] = {}
    for row in rows:
        if row.error:
            report.problems.append(_problem(row, row.error))
            continue
        match = places.lookup(row.text)
        building = int(match.entry.building_id) if match.entry and match.entry.building_id.isdigit() else None
        if building is None or match.level not in SURE:
            report.problems.append(_problem(row, _why_not(match.level, match.entry.name if match.entry else "")))
        elif not scope.everything and not scope.covers_grid(grid_of.get(building)):
            report.problems.append(_problem(row, "该楼栋不在您的辖区 / the building is outside your unit"))
        else:
            chosen.setdefault(building, []).append(row)
    counts: dict[int, int] = {}
    for building, named in chosen.items():
        if len(named) > 1:
            rows_text = "、".join(str(r.number) for r in named)
            clash = f"第 {rows_text} 行指向同一楼栋 / rows {rows_text} name one building"
            report.problems.extend(_problem(r, clash) for r in named)
        elif named[0].households is not None:
            counts[building] = named[0].households
    report.matched = len(counts)
    _store(session, counts, report)
    return report


def _published_grids(session: Session, plan_id: int) -> dict[int, str]:
    rows = session.execute(
        select(GridAssignment.building_id, Grid.code)
        .join(Grid, Grid.id == GridAssignment.grid_id)
        .where(GridAssignment.plan_id == plan_id)
    )
    return {b: c for b, c in rows}


def _store(session: Session, counts: dict[int, int], report: Report) -> None:
    if not counts:
        return
    stored = session.execute(select(Building.id, Building.households).where(Building.id.in_(counts)))
    current = {b: n for b, n in stored}
    changed = {b: n for b, n in counts.items() if current.get(b) != n}
    report.updated, report.unchanged = len(changed), len(counts) - len(changed)
    if report.dry_run:
        return
    for building, households in counts.items():
        session.execute(
            update(Building)
            .where(Building.id == building)
            .values(households=households, households_source=HouseholdsSource.surveyed)
        )
    session.execute(REGRID_HOUSEHOLDS, {"ids": sorted(changed)})


def _why_not(level: str, name: str) -> str:
    if level in {"fuzzy", "pinyin", "in_text"} and name:
        return f"没有完全对上，最接近的是“{name}”，请核对名称 / not an exact match; closest: {name}"
    if level == "ambiguous":
        return "名称对应多个楼栋，请写明小区和楼号 / names several buildings: give the 小区 and 楼号"
    if level == "outside_area":
        return "地址不在本辖区的地图范围内 / outside the mapped area"
    return "找不到这个楼栋，请核对名称或地址 / no building of that name or address"


def _problem(row: Row, reason: str) -> dict[str, Any]:
    return {"row": row.number, "text": row.text, "households": row.households, "reason": reason}
