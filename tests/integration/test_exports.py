"""Exports offices use (网格台账 .xlsx, .gpkg, .geojson) and the import of surveyed 户数 from an Excel 台账."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyogrio
import pytest
from fastapi.testclient import TestClient
from openpyxl import Workbook, load_workbook
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from gridmap.api.main import create_app
from gridmap.auth.service import create_user
from gridmap.cli.main import app as cli
from gridmap.db.cluster import LocalCluster
from gridmap.db.models import Role
from gridmap.db.session import session_scope
from gridmap.ingest.service import import_files
from gridmap.partition.service import partition_db
from gridmap.settings import Settings
from tests.conftest import NANJING_OSM, make_database

PREFIX = "320102003000"
PHONE = "13912345678"


@pytest.fixture(scope="module")
def world(cluster: LocalCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    url = make_database(cluster, "exports_test")
    engine = create_engine(url)
    settings = Settings(
        home=tmp_path_factory.mktemp("exports"), database_url=url, secret_key="exports-test-secret-key-long-enough"
    )
    with session_scope(engine) as session:
        import_files(session=session, settings=settings, paths=[NANJING_OSM])
        partition_db(session=session, params=settings.partition, publish=True, code_prefix=PREFIX)
        codes = list(session.scalars(text("SELECT code FROM grids ORDER BY code")))
        users = [
            ("planner", Role.planner, None, None, "规划员甲"),
            ("worker", Role.grid_worker, None, [codes[0]], "王网格"),
            ("community", Role.community, PREFIX, None, None),
            ("elsewhere", Role.community, "320102004001", None, None),
        ]
        for name, role, unit, grids, full in users:
            create_user(
                session=session, username=name, password="secret", role=role, unit_code=unit, grids=grids,
                full_name=full, weak_password=True,
            )  # fmt: skip
        head = session.execute(
            text("SELECT min(building_id) FROM grid_assignments a JOIN grids g ON g.id = a.grid_id WHERE g.code = :c"),
            {"c": codes[0]},
        ).scalar_one()
        plan = session.execute(text("SELECT id FROM grid_plans WHERE status = 'published'")).scalar_one()
    app = create_app(settings, engine=engine)
    with TestClient(app) as client:
        tokens = {
            name: {"Authorization": "Bearer " + client.post(
                "/api/auth/token", data={"username": name, "password": "secret"}
            ).json()["access_token"]}
            for name, *_ in users
        }  # fmt: skip
        body = {"name": '=HYPERLINK("http://x")', "phone": PHONE}
        named = client.put(f"/api/buildings/{head}/head", json=body, headers=tokens["community"])
        assert named.status_code == 200, named.text
        yield {"client": client, "engine": engine, "codes": codes, "plan": plan, "auth": tokens, "head": head}
    engine.dispose()


def _get(world: dict[str, Any], path: str, user: str = "planner") -> Any:
    return world["client"].get(path, headers=world["auth"][user])


def _count(world: dict[str, Any], sql: str, **params: Any) -> int:
    with world["engine"].connect() as conn:
        return int(conn.execute(text(sql), params).scalar_one())


def test_the_ledger_in_excel(world: dict[str, Any]) -> None:
    response = _get(world, f"/api/plans/{world['plan']}/export.xlsx")
    assert response.status_code == 200 and "filename*=UTF-8''%E7%BD%91%E6%A0%BC%E5%8F%B0%E8%B4%A6" in (
        response.headers["content-disposition"]
    )
    book = load_workbook(io.BytesIO(response.content))
    grids, buildings = book["网格"], book["楼栋"]
    rows = list(grids.iter_rows(values_only=True))
    assert rows[0] == ("网格编码", "网格名称", "所属社区", "所属街道", "户数", "楼栋数", "网格员", "已锁定")
    assert [r[0] for r in rows[1:]] == world["codes"]
    first = rows[1]
    assert (first[1], first[6]) == ("第1网格", "王网格") and first[3] == "新街口街道"
    assert sum(r[4] for r in rows[1:]) == _count(
        world, "SELECT sum(households) FROM grids WHERE plan_id = :p", p=world["plan"]
    )
    assigned = _count(world, "SELECT count(*) FROM grid_assignments WHERE plan_id = :p", p=world["plan"])
    assert buildings.max_row - 1 == assigned
    heads = [r for r in buildings.iter_rows(values_only=True) if r[8] == "139****5678"]
    assert len(heads) == 1 and heads[0][7] == '=HYPERLINK("http://x")'  # text, not a formula that runs
    cell = next(c for c in buildings.iter_rows() if c[8].value == "139****5678")[7]
    assert cell.data_type == "s"
    with zipfile.ZipFile(io.BytesIO(response.content)) as parts:  # the full number is nowhere in the file
        assert not any(PHONE.encode() in parts.read(n) for n in parts.namelist())


def test_geopackage_and_geojson_of_a_plan(world: dict[str, Any], tmp_path: Path) -> None:
    gpkg = tmp_path / "plan.gpkg"
    gpkg.write_bytes(_get(world, f"/api/plans/{world['plan']}/export.gpkg").content)
    assert sorted(name for name, _ in pyogrio.list_layers(gpkg)) == ["buildings", "grids"]
    grids = pyogrio.read_dataframe(gpkg, layer="grids")
    assert sorted(grids["code"]) == world["codes"] and grids.crs.to_epsg() == 4326
    assert PHONE not in pyogrio.read_dataframe(gpkg, layer="buildings")["head_phone"].tolist()
    collection = json.loads(_get(world, f"/api/plans/{world['plan']}/export.geojson").content)
    assert collection["type"] == "FeatureCollection" and len(collection["features"]) == len(world["codes"])


def test_exports_are_scoped_like_the_pages(world: dict[str, Any]) -> None:
    ours = load_workbook(io.BytesIO(_get(world, f"/api/plans/{world['plan']}/export.xlsx", "community").content))
    assert ours["网格"].max_row - 1 == len(world["codes"])
    theirs = load_workbook(io.BytesIO(_get(world, f"/api/plans/{world['plan']}/export.xlsx", "elsewhere").content))
    assert theirs["网格"].max_row == 1 and theirs["楼栋"].max_row == 1  # headers only: nothing of another 社区
    assert _get(world, f"/api/plans/{world['plan']}/export.xlsx", "worker").status_code == 403
    assert _get(world, "/api/plans/999999/export.xlsx").status_code == 404
    assert _get(world, f"/api/plans/{world['plan']}/export.csv").status_code == 422


def _ledger(rows: list[list[Any]], title: str | None = "新街口街道 某社区 户数台账") -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    if title:
        sheet.append([title])
    sheet.append(["序号", "楼栋名称", "户数", "备注"])
    for n, row in enumerate(rows, start=1):
        sheet.append([n, *row])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _unique_names(world: dict[str, Any], n: int) -> list[tuple[int, str, int]]:
    """Buildings in grids whose name no other building has, with their id and household count."""
    with world["engine"].connect() as conn:
        return [
            (int(i), str(name), int(h))
            for i, name, h in conn.execute(
                text(
                    "SELECT min(id), name, min(households) FROM buildings"
                    " WHERE name IS NOT NULL AND compound_id IS NULL AND char_length(name) >= 4"
                    " AND id IN (SELECT building_id FROM grid_assignments)"
                    " GROUP BY name HAVING count(*) = 1 ORDER BY name LIMIT :n"
                ),
                {"n": n},
            )
        ]


def _upload(world: dict[str, Any], data: bytes, *, user: str = "community", dry_run: bool) -> Any:
    return world["client"].post(
        f"/api/imports/households?dry_run={str(dry_run).lower()}",
        files={"file": ("台账.xlsx", data, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")},
        headers=world["auth"][user],
    )


def test_household_counts_from_a_ledger(world: dict[str, Any]) -> None:
    (one, name_one, before_one), (two, name_two, _), (three, name_three, _) = _unique_names(world, 3)
    data = _ledger(
        [
            [name_one, before_one + 7, ""],
            [name_two, "三十", ""],  # not a number
            ["没有这个楼的名字大厦", 40, ""],
            [name_three, 12, ""],
            [name_three, 13, "同一栋楼写了两次"],
        ]
    )
    grid_sql = "SELECT g.households FROM grids g JOIN grid_assignments a ON a.grid_id = g.id WHERE a.building_id = :b"
    grid_before = _count(world, grid_sql, b=one)
    checked = _upload(world, data, dry_run=True).json()
    assert (checked["rows"], checked["matched"], checked["updated"], checked["not_matched"]) == (5, 1, 1, 4)
    assert [p["row"] for p in checked["problems"]] == [4, 5, 6, 7]  # Excel row numbers, under title and header
    assert _count(world, "SELECT households FROM buildings WHERE id = :b", b=one) == before_one  # a dry run
    stored = _upload(world, data, dry_run=False).json()
    assert (stored["updated"], stored["dry_run"]) == (1, False)
    assert _count(world, "SELECT households FROM buildings WHERE id = :b", b=one) == before_one + 7
    assert _count(world, "SELECT count(*) FROM buildings WHERE id = :b AND households_source = 'surveyed'", b=one) == 1
    assert _count(world, grid_sql, b=one) == grid_before + 7  # the grids of every plan that holds it
    untouched = "SELECT count(*) FROM buildings WHERE id = ANY(:ids) AND households_source = 'surveyed'"
    assert _count(world, untouched, ids=[two, three]) == 0  # a bad number, and two rows for one building


def test_a_ledger_of_another_unit_or_a_bad_file_writes_nothing(world: dict[str, Any]) -> None:
    (building, name, households), *_ = _unique_names(world, 1)
    refused = _upload(world, _ledger([[name, households + 100, ""]]), user="elsewhere", dry_run=False).json()
    assert refused["updated"] == 0 and "辖区" in refused["problems"][0]["reason"]
    assert _count(world, "SELECT households FROM buildings WHERE id = :b", b=building) == households
    not_excel = _upload(world, b"name,households\nA,3\n", dry_run=False)
    assert not_excel.status_code == 422 and "xlsx" in not_excel.json()["detail"]
    book = Workbook()
    book.active.append(["楼栋名称", "人口"])  # type: ignore[union-attr]
    plain = io.BytesIO()
    book.save(plain)
    no_count = _upload(world, plain.getvalue(), dry_run=True)
    assert no_count.status_code == 422 and "户数" in no_count.json()["detail"]
    assert _upload(world, _ledger([[name, 1, ""]]), user="worker", dry_run=True).status_code == 403


def test_the_cli_exports_and_imports(world: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = str(world["engine"].url.render_as_string(hide_password=False))
    monkeypatch.setenv("GRIDMAP_DATABASE_URL", url)
    monkeypatch.setenv("GRIDMAP_HOME", str(tmp_path / "home"))
    out = tmp_path / "台账.xlsx"
    result = CliRunner().invoke(cli, ["export", str(out)])
    assert result.exit_code == 0, result.output
    assert load_workbook(out)["网格"].max_row - 1 == len(world["codes"])
    wrong = CliRunner().invoke(cli, ["export", str(tmp_path / "plan.shp")])
    assert wrong.exit_code == 2 and ".xlsx" in wrong.output
    ledger = tmp_path / "in.xlsx"
    (building, name, households), *_ = _unique_names(world, 1)
    ledger.write_bytes(_ledger([[name, households, ""], ["没有这个楼的名字大厦", 9, ""]]))
    checked = CliRunner().invoke(cli, ["import-households", str(ledger), "--dry-run"])
    assert checked.exit_code == 0 and "1 行未对上" in checked.output and "dry run" in checked.output
