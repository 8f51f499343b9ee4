"""Backups of the database (embedded or configured): ``pg_dump -Fc`` to a file and ``pg_restore`` from one.

A restore never writes over data unasked: into a database that holds tables it needs ``force``, and then the
current content is first dumped beside the other backups, so an unlucky restore can itself be undone. The restore
runs in one transaction: a broken archive leaves the database as it was before the restore began.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from gridmap.errors import Conflict, DatabaseUnavailable, InvalidInput

# Tables PostGIS itself creates: a database holding only these is empty.
EXTENSION_TABLES = ("spatial_ref_sys",)
COUNTED = ("buildings", "grids", "requests")


@dataclass(frozen=True)
class RestoreResult:
    """What a restore did: the tables it brought back and the safety dump of what was there (if anything)."""

    tables: int
    safety_dump: Path | None


def libpq_env(url: str) -> dict[str, str]:
    """Environment for pg_dump/pg_restore naming the database of a SQLAlchemy URL (the password stays out of argv)."""
    parsed = make_url(url)
    env = {**os.environ, "PGDATABASE": parsed.database or "", "PGCONNECT_TIMEOUT": "10"}
    for key, value in (("PGHOST", parsed.host), ("PGPORT", parsed.port), ("PGUSER", parsed.username)):
        if value is not None:
            env[key] = str(value)
    if parsed.password is not None:
        env["PGPASSWORD"] = str(parsed.password)
    return env


def _tool(pg_bin: Path, name: str) -> str:
    path = pg_bin / name
    if not path.exists():
        raise DatabaseUnavailable(
            f"找不到 {path} / {name} not found in {pg_bin}: run `make install` or set GRIDMAP_PG_BIN"
        )
    return str(path)


def _where(url: str) -> str:
    parsed = make_url(url)
    return f"{parsed.database} on {parsed.host}:{parsed.port or 5432}"


def backup(url: str, path: Path, pg_bin: Path) -> int:
    """Dump the database at ``url`` into ``path`` (custom format, compressed); the file's size in bytes."""
    if path.is_dir():
        raise InvalidInput(
            f"{path} 是一个目录，请给出文件名 / {path} is a folder: give a file name, e.g. {path}/gridmap.dump"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.touch(mode=0o600, exist_ok=True)  # a backup holds personal data: readable by its owner only
    partial.chmod(0o600)
    done = subprocess.run(
        [_tool(pg_bin, "pg_dump"), "-Fc", "--no-owner", "-f", str(partial)],
        env=libpq_env(url),
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        partial.unlink(missing_ok=True)
        raise DatabaseUnavailable(f"备份失败 / backup of {_where(url)} failed: {done.stderr.strip()}")
    partial.replace(path)
    return path.stat().st_size


def table_counts(url: str) -> dict[str, int]:
    """Rows of the tables a restore is checked by (buildings, grids, requests); tables absent are left out."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            present = set(conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).scalars())
            counted = [t for t in COUNTED if t in present]
            return {t: int(conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()) for t in counted}
    finally:
        engine.dispose()


def user_tables(url: str) -> list[str]:
    """Tables of the database outside the system catalogs and PostGIS's own."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT schemaname || '.' || tablename FROM pg_tables "
                    "WHERE schemaname NOT IN ('pg_catalog', 'information_schema') AND NOT tablename = ANY(:own) "
                    "ORDER BY 1"
                ),
                {"own": list(EXTENSION_TABLES)},
            )
            return list(rows.scalars())
    finally:
        engine.dispose()


def check_archive(path: Path, pg_bin: Path) -> int:
    """The number of entries of a pg_dump custom-format archive; InvalidInput when it is not one."""
    if not path.is_file():
        raise InvalidInput(f"找不到备份文件 {path} / no backup file {path}")
    listed = subprocess.run([_tool(pg_bin, "pg_restore"), "--list", str(path)], capture_output=True, text=True)
    if listed.returncode != 0:
        raise InvalidInput(
            f"{path} 不是 gridmap 的备份文件（pg_dump -Fc 格式） / {path} is not a backup made by `gridmap db backup` "
            f"(pg_dump custom format): {listed.stderr.strip()}"
        )
    return sum(1 for line in listed.stdout.splitlines() if line and not line.startswith(";"))


APP_SCHEMAS = ("public", "ogc")  # every schema gridmap's migrations create


def _clear(url: str) -> None:
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text("SET lock_timeout = '10s'"))
            try:
                for schema in APP_SCHEMAS[::-1]:  # the OGC views (schema ogc) depend on public's tables
                    conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
            except Exception as exc:
                raise Conflict(
                    "无法清空数据库：仍有程序在使用它，请先停止 gridmap 服务 / cannot clear the database while "
                    f"it is in use: stop the gridmap server first ({type(exc).__name__})"
                ) from exc
            conn.execute(text("CREATE SCHEMA public"))
    finally:
        engine.dispose()


def restore(url: str, path: Path, pg_bin: Path, *, force: bool, safety_dir: Path) -> RestoreResult:
    """Restore the archive ``path`` into the database at ``url``.

    Refused (Conflict) when the database holds tables, unless ``force``: then they are dumped into ``safety_dir``
    first and dropped. The archive is checked before anything is touched.
    """
    check_archive(path, pg_bin)
    present = user_tables(url)
    safety: Path | None = None
    if present:
        if not force:
            raise Conflict(
                f"数据库 {_where(url)} 不是空的（{len(present)} 张表）：确认要用备份覆盖它时加 --force（会先把现有内容"
                f"另存一份） / the database {_where(url)} is not empty ({len(present)} tables): add --force to "
                "replace its content with the backup (the current content is saved to a file first)"
            )
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        safety = safety_dir / f"before-restore-{stamp}.dump"
        backup(url, safety, pg_bin)
        _clear(url)
    done = subprocess.run(
        [
            _tool(pg_bin, "pg_restore"),
            "--single-transaction",
            "--exit-on-error",
            "--no-owner",
            "--no-privileges",
            "-d",
            make_url(url).database or "",
            str(path),
        ],
        env=libpq_env(url),
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        before = (
            f"数据库现在是空的，原内容已存到 {safety}，可用 `gridmap db restore {safety} --force` 找回 / the "
            f"database is empty now; its content before is in {safety}: bring it back with "
            f"`gridmap db restore {safety} --force`"
            if safety
            else "数据库保持原样 / the database is as it was"
        )
        raise DatabaseUnavailable(f"恢复失败 / restore failed ({before}): {done.stderr.strip()}")
    return RestoreResult(tables=len(user_tables(url)), safety_dump=safety)
