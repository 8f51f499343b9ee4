"""The ``gridmap`` command as a user runs it: exit codes, messages, nothing half-written."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from gridmap.db.cluster import LocalCluster
from tests.conftest import NANJING_OSM, PARTITION_INPUTS, make_database

pytestmark = pytest.mark.db
GRIDMAP = [sys.executable, "-m", "gridmap.cli"]


@pytest.fixture(scope="module")
def cli_db(cluster: LocalCluster) -> str:
    return make_database(cluster, "gridmap_cli")


def _run(args: list[str], url: str | None, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GRIDMAP_HOME": str(tmp_path / "home"), "COLUMNS": "200"}
    if url:
        env["GRIDMAP_DATABASE_URL"] = url
    return subprocess.run([*GRIDMAP, *args], capture_output=True, text=True, env=env, timeout=300)


def _count(url: str, table: str) -> int:
    engine = create_engine(url)
    with engine.connect() as conn:
        n = int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())
    engine.dispose()
    return n


def test_partition_file_mode_needs_no_database(tmp_path: Path) -> None:
    out = tmp_path / "grids.gpkg"
    done = _run(
        [
            "partition",
            str(PARTITION_INPUTS / "beijing_wangjing_2020-09.gpkg"),
            "-o",
            str(out),
            "--households-field",
            "households",
        ],
        None,
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert out.exists() and "grids" in done.stdout
    assert not (tmp_path / "home" / "pg").exists()


def test_bad_band_is_a_usage_error(tmp_path: Path) -> None:
    done = _run(["partition", str(NANJING_OSM), "-o", str(tmp_path / "x.gpkg"), "--min", "400"], None, tmp_path)
    assert done.returncode == 2
    assert "--min <= --target <= --max" in done.stderr


def test_import_truncated_file_exits_2_and_writes_nothing(cli_db: str, tmp_path: Path) -> None:
    bad = tmp_path / "cut.osm"
    bad.write_bytes(NANJING_OSM.read_bytes()[:250_000])
    done = _run(["import", str(bad)], cli_db, tmp_path)
    assert done.returncode == 2
    assert "cannot read" in done.stderr
    assert _count(cli_db, "buildings") == 0


def test_import_then_partition_db_mode(cli_db: str, tmp_path: Path) -> None:
    done = _run(["import", str(NANJING_OSM)], cli_db, tmp_path)
    assert done.returncode == 0, done.stderr
    assert _count(cli_db, "buildings") == 1277
    done = _run(["partition", "--all", "--publish"], cli_db, tmp_path)
    assert done.returncode == 0, done.stderr
    assert _count(cli_db, "grids") >= 30
    assert _count(cli_db, "grid_assignments") == 518


def test_users_add_refuses_duplicates(cli_db: str, tmp_path: Path) -> None:
    first = _run(["users", "add", "lihua", "--role", "planner", "--password", "Xuanwu-2026-map"], cli_db, tmp_path)
    assert first.returncode == 0, first.stderr
    again = _run(["users", "add", "lihua", "--role", "planner", "--password", "Xuanwu-2026-map"], cli_db, tmp_path)
    assert again.returncode == 2 and "already exists" in again.stderr


def test_users_get_a_unit_by_name(cli_db: str, tmp_path: Path) -> None:
    args = ["users", "add", "shequ", "--role", "community", "--password", "Xinjiekou-2026-pw", "--unit", "320102003001"]
    added = _run(args, cli_db, tmp_path)
    assert added.returncode == 0, added.stderr
    moved = _run(["users", "unit", "shequ", "320102003"], cli_db, tmp_path)
    assert moved.returncode == 0 and "新街口街道" in moved.stdout, moved.stderr
    bad = _run(["users", "unit", "shequ", "32010"], cli_db, tmp_path)
    assert bad.returncode == 2 and "9 (街道) or 12 (社区)" in bad.stderr
    listed = _run(["users", "list"], cli_db, tmp_path)
    assert ["shequ", "community", "320102003", "active"] in [line.split() for line in listed.stdout.splitlines()]


def test_users_add_refuses_a_weak_password(cli_db: str, tmp_path: Path) -> None:
    done = _run(["users", "add", "wang", "--role", "planner", "--password", "demo"], cli_db, tmp_path)
    assert done.returncode == 2 and "密码至少 10 个字符" in done.stderr
    assert _count(cli_db, "users WHERE username = 'wang'") == 0


def test_purge_sign_ins_keeps_at_least_180_days(cli_db: str, tmp_path: Path) -> None:
    engine = create_engine(cli_db)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO sign_in_events (at, username, client, outcome, via) VALUES "
                "(now() - interval '200 days', 'old', '10.0.0.1', 'failure', 'form'), "
                "(now() - interval '100 days', 'recent', '10.0.0.1', 'failure', 'form')"
            )
        )
    engine.dispose()
    assert _run(["users", "purge-sign-ins", "--days", "30"], cli_db, tmp_path).returncode == 2
    done = _run(["users", "purge-sign-ins"], cli_db, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "deleted 1 sign-in events" in done.stdout
    assert _count(cli_db, "sign_in_events WHERE username = 'recent'") == 1


def test_purge_audit_deletes_reveals_older_than_their_retention(cli_db: str, tmp_path: Path) -> None:
    engine = create_engine(cli_db)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO pii_reveals (at, username, role, field, reason) VALUES "
                "(now() - interval '200 days', 'old', 'community', 'phone', '回访'), "
                "(now() - interval '100 days', 'recent', 'community', 'phone', '回访')"
            )
        )
    engine.dispose()
    refused = _run(["db", "purge-audit", "--reveal-days", "30"], cli_db, tmp_path).returncode
    done = _run(["db", "purge-audit"], cli_db, tmp_path)
    assert (refused, done.returncode, "deleted 1 reveals" in done.stdout) == (2, 0, True), done.stderr
    assert (_count(cli_db, "pii_reveals WHERE username = 'old'"), _count(cli_db, "pii_reveals")) == (0, 1)


def test_geocode_cli_with_grids(tmp_path: Path) -> None:
    from tests.conftest import WANGJING_OSM

    grids = tmp_path / "grids.gpkg"
    assert _run(["partition", str(WANGJING_OSM), "-o", str(grids)], None, tmp_path).returncode == 0
    queries = tmp_path / "q.csv"
    queries.write_text(
        "query\n北京市朝阳区望京西园三百一十九号楼\n望京西园３２０栋１单元１０１室\n望京西园999号楼\n"
        "望京西园三区321号楼\n望京西园三区小区\n",  # 小区 + 楼号, and the 小区 itself (no building)
        encoding="utf-8",
    )
    out = tmp_path / "out.csv"
    done = _run(
        ["geocode", str(WANGJING_OSM), "--queries", str(queries), "-o", str(out), "--grids", str(grids)], None, tmp_path
    )
    assert done.returncode == 0, done.stderr
    import pandas as pd

    answers = pd.read_csv(out, dtype=str)
    first = ["query", "lon", "lat", "building_id", "name", "grid_code", "match_level", "score"]
    assert list(answers.columns) == [*first, "matched_text", "uncertainty_m", "candidates"]
    assert answers["name"].tolist()[:2] == ["望京西园319号楼", "望京西园320号楼"]
    assert answers["grid_code"].str.fullmatch(r"\d{15}").tolist()[:2] == [True, True]
    assert pd.isna(answers["lon"].iloc[2]) and answers["match_level"].iloc[2] == "not_found"  # 望京西园 has no 999
    assert answers["name"].iloc[3] == "望京西园321号楼" and answers["match_level"].iloc[3] == "exact"
    assert answers["name"].iloc[4] == "望京西园三区" and pd.isna(answers["building_id"].iloc[4])
    assert answers["grid_code"].iloc[4] is not None and not pd.isna(answers["lat"].iloc[4])


def test_geocode_cli_refuses_a_csv_without_query_column(tmp_path: Path) -> None:
    from tests.conftest import WANGJING_OSM

    bad = tmp_path / "bad.csv"
    bad.write_text("address\nfoo\n", encoding="utf-8")
    done = _run(["geocode", str(WANGJING_OSM), "--queries", str(bad), "-o", str(tmp_path / "o.csv")], None, tmp_path)
    assert done.returncode == 2 and "`query` column" in done.stderr
    assert not (tmp_path / "o.csv").exists()


def test_import_gbk_shapefile_without_cpg_says_to_pass_the_encoding(cli_db: str, tmp_path: Path) -> None:
    import zipfile

    import geopandas as gpd
    import pyogrio
    from shapely.geometry import box

    frame = gpd.GeoDataFrame({"name": ["鼓楼小区1号楼"]}, geometry=[box(118.78, 32.04, 118.7801, 32.0401)], crs=4326)
    pyogrio.write_dataframe(frame, tmp_path / "b.shp", encoding="GBK")
    archive = tmp_path / "gbk.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for suffix in (".shp", ".shx", ".dbf", ".prj"):  # no .cpg
            z.write(tmp_path / f"b{suffix}", f"b{suffix}")
    buildings = _count(cli_db, "buildings")
    done = _run(["import", str(archive)], cli_db, tmp_path)
    assert done.returncode == 2 and "--encoding gbk" in done.stderr and "Traceback" not in done.stderr
    assert _count(cli_db, "buildings") == buildings
