"""An embedded PostgreSQL + PostGIS cluster in a data directory gridmap owns.

PostgreSQL refuses to run as root, so when we are root the cluster is created
and run as the ``postgres`` OS user, which then must own the data directory.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg2

from gridmap.errors import DatabaseUnavailable


def _run_as_prefix() -> list[str]:
    if os.geteuid() != 0:
        return []
    return ["runuser", "-u", "postgres", "--"]


def _owner() -> tuple[int, int]:
    if os.geteuid() != 0:
        return os.getuid(), os.getgid()
    entry = pwd.getpwnam("postgres")
    return entry.pw_uid, entry.pw_gid


@dataclass(frozen=True)
class LocalCluster:
    """A PostgreSQL cluster listening on ``127.0.0.1:port`` with trust auth for local use only."""

    data_dir: Path
    port: int
    pg_bin: Path = Path("/usr/lib/postgresql/15/bin")

    @property
    def log_file(self) -> Path:
        """Server log, beside the data directory."""
        return self.data_dir.with_name(self.data_dir.name + ".log")

    def _cmd(self, tool: str, *args: str) -> list[str]:
        return [*_run_as_prefix(), str(self.pg_bin / tool), *args]

    def _check_binaries(self) -> None:
        if not (self.pg_bin / "initdb").exists():
            raise DatabaseUnavailable(
                f"PostgreSQL binaries not found in {self.pg_bin}; run `make install` "
                "(installs postgresql-15-postgis-3) or set GRIDMAP_DATABASE_URL"
            )

    def initialised(self) -> bool:
        """Whether ``initdb`` has run in the data directory."""
        return (self.data_dir / "PG_VERSION").exists()

    def init(self) -> None:
        """Create the data directory and run ``initdb`` once."""
        self._check_binaries()
        if self.initialised():
            return
        uid, gid = _owner()
        for path in (self.data_dir.parent, self.data_dir):
            path.mkdir(parents=True, exist_ok=True)
        os.chown(self.data_dir, uid, gid)
        self.data_dir.chmod(0o700)
        subprocess.run(
            self._cmd(
                "initdb",
                "-D",
                str(self.data_dir),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
            ),
            check=True,
            capture_output=True,
        )

    def running(self) -> bool:
        """Whether this cluster's server runs (not merely something on its port)."""
        if not self.initialised():
            return False
        result = subprocess.run(self._cmd("pg_ctl", "-D", str(self.data_dir), "status"), capture_output=True)
        return result.returncode == 0 and self._answers()

    def _answers(self) -> bool:
        result = subprocess.run(
            [str(self.pg_bin / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port)], capture_output=True
        )
        return result.returncode == 0

    def start(self, timeout: float = 30.0) -> None:
        """Initialise if needed and start the server; no-op when it already runs."""
        self.init()
        if self.running():
            return
        if self._answers():
            raise DatabaseUnavailable(
                f"port {self.port} is taken by another PostgreSQL server; set GRIDMAP_DB_PORT to a free port "
                "or GRIDMAP_DATABASE_URL to use that server"
            )
        uid, gid = _owner()
        self.log_file.touch(exist_ok=True)
        os.chown(self.log_file, uid, gid)
        # The socket goes into the data directory: /var/run/postgresql may not exist or be ours.
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.data_dir} -c fsync=off"
        proc = subprocess.run(
            self._cmd(
                "pg_ctl",
                "-D",
                str(self.data_dir),
                "-l",
                str(self.log_file),
                "-o",
                options,
                "-w",
                "-t",
                str(int(timeout)),
                "start",
            ),
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            tail = self.log_file.read_text(errors="replace")[-2000:] if self.log_file.exists() else ""
            raise DatabaseUnavailable(f"could not start PostgreSQL on port {self.port}: {proc.stderr}\n{tail}")
        deadline = time.monotonic() + timeout
        while not self._answers():
            if time.monotonic() > deadline:
                raise DatabaseUnavailable(f"PostgreSQL did not answer on port {self.port}")
            time.sleep(0.2)

    def stop(self) -> None:
        """Stop the server if it runs."""
        if self.initialised() and self.running():
            subprocess.run(
                self._cmd("pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "stop"),
                check=True,
                capture_output=True,
            )

    def destroy(self) -> None:
        """Stop the server and delete the data directory (for throwaway test clusters)."""
        self.stop()
        shutil.rmtree(self.data_dir, ignore_errors=True)
        self.log_file.unlink(missing_ok=True)

    def ensure_database(self, name: str) -> None:
        """Create database ``name`` with PostGIS if it does not exist."""
        conn = psycopg2.connect(host="127.0.0.1", port=self.port, user="postgres", dbname="postgres")
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
                if cur.fetchone() is None:
                    cur.execute(f'CREATE DATABASE "{name}"')
        finally:
            conn.close()
        conn = psycopg2.connect(host="127.0.0.1", port=self.port, user="postgres", dbname=name)
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                cur.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        finally:
            conn.close()
