"""Schemathesis at length: every operation of the OpenAPI document, for every role and anonymously, no 5xx.

A database of its own (``gridmap_fuzz``, made anew for each run) on the embedded cluster gets the 新街口 data, a
published plan, a week of simulated requests and one user per role; the app runs under uvicorn in this process.
Each role fuzzes the whole document (an admin token reads it) with ``--examples`` generated cases per operation;
the results table goes to ``fuzz.md`` beside this file. ``tests/integration/test_bad_input.py`` runs the same
with a dozen cases per operation in ``make test``.

    .venv/bin/python -m benchmarks.security.fuzz [--examples 300] [--roles admin grid_worker anonymous]
"""

from __future__ import annotations

import argparse
import socket
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests
import schemathesis
import uvicorn
from hypothesis import HealthCheck, Phase, given, settings
from sqlalchemy import create_engine, select

from gridmap.api.main import create_app
from gridmap.auth.service import create_user
from gridmap.db.models import Grid, Role
from gridmap.db.session import embedded_cluster, migrate, session_scope
from gridmap.ingest.service import import_files
from gridmap.partition.service import partition_db
from gridmap.requests.simulate import simulate_requests
from gridmap.settings import Settings

HERE = Path(__file__).resolve().parent
NANJING = HERE.parents[1] / "data" / "boundaries" / "osm" / "nanjing_xinjiekou_2021-06.osm"
PASSWORD = "Xuanwu-Fuzz-2026"


@dataclass
class Report:
    """What one role's run met: cases sent, 5xx answers and 4xx answers not in the documented error shape."""

    operations: int = 0
    cases: int = 0
    server_errors: list[str] = field(default_factory=list)
    off_shape: list[str] = field(default_factory=list)


def error_body(response: requests.Response) -> bool:
    """Whether a 4xx answer has the documented ErrorBody shape (Open311 keeps its standard's error list)."""
    try:
        body = response.json()
    except ValueError:
        return False
    return isinstance(body, dict) and isinstance(body.get("detail"), str) and isinstance(body.get("error"), str)


def fuzz(schema: Any, base: str, headers: dict[str, str], examples: int) -> Report:
    """Every operation of ``schema`` with ``examples`` generated cases (the same ones every run)."""
    report = Report()
    options = settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate],
    )
    for result in schema.get_all_operations():
        operation = result.ok()
        report.operations += 1

        @options
        @given(case=operation.as_strategy())
        def run(case: Any) -> None:
            report.cases += 1
            response = case.call(base_url=base, headers=headers, timeout=120)
            text = response.content[:200].decode("utf-8", errors="replace")  # downloads (.xlsx, tiles) are binary
            line = f"{response.status_code} {text!r}: {case.as_curl_command()}"
            if response.status_code >= 500:
                report.server_errors.append(line)
            elif response.status_code >= 400 and not case.path.startswith("/open311/") and not error_body(response):
                report.off_shape.append(line)

        run()
    return report


def prepare(settings_: Settings) -> str:
    """A new fuzz database with data, a published plan, requests and one user per role; its URL."""
    cluster = embedded_cluster(settings_)
    cluster.start()
    admin = cluster.connect("postgres")
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute("DROP DATABASE IF EXISTS gridmap_fuzz")
    admin.close()
    cluster.ensure_database("gridmap_fuzz")
    url = cluster.url("gridmap_fuzz")
    migrate(url)
    engine = create_engine(url)
    local = settings_.model_copy(update={"database_url": url})
    with session_scope(engine) as session:
        import_files(session=session, settings=local, paths=[NANJING])
        plan = partition_db(session=session, params=local.partition, publish=True, code_prefix="320102003000")
        first = session.scalars(select(Grid.code).where(Grid.plan_id == plan.id).order_by(Grid.code)).first()
        for role in Role:
            create_user(
                session=session,
                username=f"fuzz-{role.value}",
                password=PASSWORD,
                role=role,
                department="城管执法中队" if role is Role.department else None,
                grids=[first] if role is Role.grid_worker and first else None,
            )
        simulate_requests(session, days=7, end=datetime.now(UTC), settings=local.requests, per_day=20, seed=3)
    engine.dispose()
    return url


@contextmanager
def serving(url: str, settings_: Settings) -> Iterator[str]:
    """The app on a free loopback port for the duration of the block; its base URL."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    # Fuzzing signs in with wrong passwords by the thousand: no lockout here, or every later sign-in is a 429.
    auth = settings_.auth.model_copy(update={"max_failures": 10**6, "max_failures_per_client": 10**6})
    app = create_app(settings_.model_copy(update={"database_url": url, "auth": auth}))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="critical"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def _token(base: str, role: str) -> dict[str, str]:
    credentials = {"username": f"fuzz-{role}", "password": PASSWORD}
    answer = requests.post(f"{base}/api/auth/token", data=credentials, timeout=60)
    answer.raise_for_status()
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--examples", type=int, default=300, help="generated cases per operation and role")
    parser.add_argument("--roles", nargs="+", default=[r.value for r in Role] + ["anonymous"])
    args = parser.parse_args()
    settings_ = Settings()
    url = prepare(settings_)
    rows = []
    with serving(url, settings_) as base:
        document = schemathesis.openapi.from_url(f"{base}/api/openapi.json", headers=_token(base, "admin"))
        for role in args.roles:
            headers = {} if role == "anonymous" else _token(base, role)
            # Not the operation that would end this role's own session (anonymously it is fuzzed too).
            schema = document if role == "anonymous" else document.exclude(path="/api/auth/logout")
            start = time.perf_counter()
            report = fuzz(schema, base, headers, args.examples)
            seconds = time.perf_counter() - start
            rows.append((role, report, seconds))
            print(f"{role}: {report.cases} cases, {len(report.server_errors)} × 5xx, {len(report.off_shape)} off-shape")
            for line in report.server_errors[:20] + report.off_shape[:20]:
                print("   ", line)
    lines = [
        "# Schemathesis over the whole OpenAPI document",
        "",
        f"`python -m benchmarks.security.fuzz --examples {args.examples}` on {datetime.now(UTC):%Y-%m-%d}: "
        "generated cases per operation and role against uvicorn on loopback, the 新街口 demo data.",
        "",
        "| role | operations | cases | 5xx | 4xx not in the ErrorBody shape | seconds |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for role, report, seconds in rows:
        lines.append(
            f"| {role} | {report.operations} | {report.cases} | {len(report.server_errors)} | "
            f"{len(report.off_shape)} | {seconds:.0f} |"
        )
    (HERE / "fuzz.md").write_text("\n".join(lines) + "\n")
    if any(report.server_errors or report.off_shape for _, report, _ in rows):
        sys.exit(1)


if __name__ == "__main__":
    main()
