"""Resource limits before and after: oversize bodies, pixel bombs and the GeoJSON layers, one server per side.

A throwaway PostgreSQL cluster (temporary directory) gets the 新街口 data and a published plan. For each side — the
code of an older revision (``--before``, extracted with ``git archive``) and this tree — a uvicorn server runs in
its own process, and the probes are sent to it one after another:

* a 300 MB photo upload with ``Content-Length`` (as curl sends it) and the same 300 MB chunked;
* the 13,000 × 13,000 PNG (164 KB) to the resident's photo route of a real report;
* each GeoJSON layer of the pages, as the pages ask for it and without ``zoom``; then again the buildings layer
  and the coverage map with one building of 2 million vertices planted (``--giant``).

Time to the answer and the server's resident memory (VmRSS before, peak VmHWM after each probe) are read from
``/proc``. The table goes to ``limits.md`` beside this file.

    .venv/bin/python -m benchmarks.security.limits [--before 1d9464c]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request
from io import BytesIO
from pathlib import Path

from sqlalchemy import create_engine, text

from gridmap.auth.service import create_user
from gridmap.db.cluster import LocalCluster
from gridmap.db.models import Role
from gridmap.db.session import migrate, session_scope
from gridmap.ingest.service import import_files
from gridmap.partition.service import partition_db
from gridmap.settings import Settings
from tests.bombs import png_bomb

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
NANJING = ROOT / "data" / "boundaries" / "osm" / "nanjing_xinjiekou_2021-06.osm"
MB = 1_000_000
SECRET = "limits-benchmark-secret-key-0123456789"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _memory(pid: int) -> dict[str, int]:
    status = Path(f"/proc/{pid}/status").read_text().splitlines()
    return {line.split(":")[0]: int(line.split()[1]) // 1024 for line in status if line.startswith(("VmRSS", "VmHWM"))}


def _reset_peak(pid: int) -> None:
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # resets VmHWM to the current RSS (Linux ≥ 4.0)


def prepare(cluster: LocalCluster) -> tuple[str, int]:
    """The 新街口 database with a published plan and a planner; returns its URL and the plan's id."""
    cluster.ensure_database("gridmap_limits")
    url = f"postgresql+psycopg2://postgres@127.0.0.1:{cluster.port}/gridmap_limits"
    migrate(url)
    engine = create_engine(url)
    settings = Settings(database_url=url, secret_key=SECRET)
    with session_scope(engine) as session:
        import_files(session=session, settings=settings, paths=[NANJING])
        partition_db(session=session, params=settings.partition, publish=True, code_prefix="320102003000")
        create_user(session=session, username="bench", password="bench", role=Role.leader, weak_password=True)
        plan = int(session.scalar(text("SELECT id FROM grid_plans WHERE status = 'published'")) or 0)
        spot = session.execute(text("SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) p FROM grids) g"))
        lon, lat = spot.first() or (0.0, 0.0)
    engine.dispose()
    return f"{url}#{lon},{lat}", plan


def extract(revision: str, into: Path) -> Path:
    """The tree of ``revision`` (gridmap, frontend) in ``into``, with this checkout's browser libraries."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", revision], check=True, capture_output=True).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    (into / "frontend" / "node_modules").symlink_to((ROOT / "frontend" / "node_modules").resolve())
    return into


class Server:
    """``uvicorn --factory gridmap.api.main:create_app`` run from ``tree`` in a process of its own."""

    def __init__(self, tree: Path, url: str, home: Path) -> None:
        self.port = _free_port()
        env = os.environ | {
            "GRIDMAP_DATABASE_URL": url,
            "GRIDMAP_SECRET_KEY": SECRET,
            "GRIDMAP_HOME": str(home),
            "GRIDMAP_NOTIFY__ENABLED": "false",
            "GRIDMAP_REQUESTS__PUBLIC_RATE": "1000/minute",
            "PYTHONPATH": str(tree),
        }
        command = [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "gridmap.api.main:create_app",
            "--port",
            str(self.port),
        ]
        self.process = subprocess.Popen(command, cwd=tree, env=env, stderr=subprocess.DEVNULL)
        for _ in range(1200):  # up to two minutes on a busy machine
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=1)
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"the server of {tree} did not start")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def _send(port: int, head: str, chunks: list[bytes], body_size: int = 0) -> int:
    """Send a request on a raw socket (the body ``body_size`` zeros, in 1 MB pieces); the answer's status."""
    with socket.create_connection(("127.0.0.1", port), timeout=600) as s:
        s.sendall(head.encode())
        piece = b"0" * MB
        try:
            for chunk in chunks:
                s.sendall(chunk)
            for _ in range(body_size // MB):
                s.sendall(piece)
        except (BrokenPipeError, ConnectionResetError):
            pass
        answer = s.recv(65536)
    return int(answer.split()[1]) if answer else 0


def body_probes(server: Server) -> list[tuple[str, int, float, dict[str, int], dict[str, int]]]:
    """The two 300 MB uploads: (probe, status, seconds, memory before, memory after)."""
    path = "/public/api/requests/1/photos?token=x"
    lines = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=x\r\n"
    part = b'--x\r\nContent-Disposition: form-data; name="photo"; filename="a.png"\r\nContent-Type: image/png\r\n\r\n'
    rows = []
    for label, framing in (("300 MB photo, Content-Length", "length"), ("300 MB photo, chunked", "chunked")):
        _reset_peak(server.process.pid)
        before = _memory(server.process.pid)
        started = time.perf_counter()
        if framing == "length":
            status = _send(server.port, lines + f"Content-Length: {len(part) + 300 * MB}\r\n\r\n", [part], 300 * MB)
        else:
            pieces = [b"%x\r\n%s\r\n" % (len(part), part)] + [b"%x\r\n" % MB + b"0" * MB + b"\r\n"] * 300
            status = _send(server.port, lines + "Transfer-Encoding: chunked\r\n\r\n", [*pieces, b"0\r\n\r\n"])
        rows.append((label, status, time.perf_counter() - started, before, _memory(server.process.pid)))
    return rows


def bomb_probe(server: Server, where: str) -> tuple[str, int, float, dict[str, int], dict[str, int]]:
    """The 13,000 × 13,000 PNG sent with the link of a fresh Open311 report."""
    lon, lat = where.split(",")
    form = f"service_code={SERVICE}&lat={lat}&long={lon}&description=pixel-bomb-{server.port}".encode()
    made = urllib.request.urlopen(
        urllib.request.Request(f"http://127.0.0.1:{server.port}/open311/v2/requests.json", data=form), timeout=60
    )
    report = json.loads(made.read())[0]
    rid, token = report["service_request_id"], report.get("rating_token") or report.get("token")
    bomb = png_bomb(13_000, 13_000)
    part = b'--x\r\nContent-Disposition: form-data; name="photo"; filename="b.png"\r\nContent-Type: image/png\r\n\r\n'
    body = part + bomb + b"\r\n--x--\r\n"
    head = (
        f"POST /public/api/requests/{rid}/photos?token={token} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Content-Type: multipart/form-data; boundary=x\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    _reset_peak(server.process.pid)
    before = _memory(server.process.pid)
    started = time.perf_counter()
    status = _send(server.port, head, [body])
    return (
        f"13000×13000 PNG ({len(bomb) / 1e3:.0f} KB)",
        status,
        time.perf_counter() - started,
        before,
        _memory(server.process.pid),
    )


def _token(port: int) -> str:
    form = b"username=bench&password=bench"
    answer = urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{port}/api/auth/token", data=form))
    return str(json.loads(answer.read())["access_token"])


LAYERS = ("/api/plans/{plan}/buildings", "/api/plans/{plan}/grids", "/api/streets", "/api/grids", "/maps/coverage")


def plant_giant(url: str, vertices: int) -> None:
    """A residential building of ``vertices`` vertices, as the probe imported before the caps (SQL, not import)."""
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO buildings (source_id, name, footprint_m2, is_residential, households, households_source, "
                "geom) SELECT 'bench:giant', '巨型楼', 7800, true, 1, 'estimated', ST_Multi(ST_Buffer("
                "(SELECT ST_PointOnSurface(geom) FROM buildings WHERE is_residential ORDER BY id LIMIT 1), 0.0005, "
                f"'quad_segs={vertices // 4}'))"
            )
        )
    engine.dispose()


def layer_probes(server: Server, plan: int, layers: tuple[str, ...] = LAYERS) -> list[tuple[str, int, float, int, int]]:
    """Each layer as the pages ask for it, all pages followed: (layer, pages, seconds, bytes, peak MB)."""
    headers = {"Authorization": f"Bearer {_token(server.port)}"}
    rows = []
    for path in (layer.format(plan=plan) for layer in layers):
        _reset_peak(server.process.pid)
        started, size, pages, url = time.perf_counter(), 0, 0, path
        while url:
            body = urllib.request.urlopen(
                urllib.request.Request(f"http://127.0.0.1:{server.port}{url}", headers=headers), timeout=600
            ).read()
            size, pages = size + len(body), pages + 1
            links = json.loads(body).get("links", []) if body[:1] == b"{" else []
            url = next((x["href"] for x in links if x["rel"] == "next"), "")
        rows.append((path, pages, time.perf_counter() - started, size, _memory(server.process.pid)["VmHWM"]))
    return rows


def _services(port: int) -> str:
    answer = urllib.request.urlopen(f"http://127.0.0.1:{port}/open311/v2/services.json", timeout=30)
    return str(json.loads(answer.read())[0]["service_code"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default="1d9464c", help="the revision to compare with (default: before issue 15)")
    parser.add_argument("--giant", type=int, default=2_000_000, help="vertices of the planted giant building")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="gridmap-limits-"))
    root.chmod(0o755)
    cluster = LocalCluster(data_dir=root / "pg", port=_free_port(), throwaway=True)
    cluster.start()
    lines = ["# Resource limits: before and after", ""]
    try:
        url, plan = prepare(cluster)
        url, where = url.split("#")
        bodies, bombs, layers, giants = [], [], [], []
        sides = (("before", extract(args.before, root / "before")), ("after", ROOT))
        for side, tree in sides:
            home = root / f"home-{side}"
            home.mkdir()
            server = Server(tree, url, home)
            try:
                global SERVICE
                SERVICE = _services(server.port)
                bodies += [(side, *row) for row in body_probes(server)]
                bombs.append((side, *bomb_probe(server, where)))
                layers += [(side, *row) for row in layer_probes(server, plan)]
            finally:
                server.stop()
        plant_giant(url, args.giant)
        for side, tree in sides:
            server = Server(tree, url, root / f"home-{side}")
            try:
                giants += [(side, *row) for row in layer_probes(server, plan, (LAYERS[0], LAYERS[-1]))]
            finally:
                server.stop()
        lines += [
            f"Before: `{args.before}`; after: this tree. One uvicorn process per side, 新街口 data, published plan.",
            "",
            "| side | upload | status | s to answer | server RSS before | peak RSS |",
            "|---|---|---|---|---|---|",
        ]
        for side, label, status, seconds, before, after in [*bodies, *bombs]:
            lines.append(
                f"| {side} | {label} | {status} | {seconds:.2f} | {before['VmRSS']} MB | {after['VmHWM']} MB |"
            )
        lines += [
            "",
            "| side | layer (every page followed, no zoom) | pages | s | body | peak RSS |",
            "|---|---|---|---|---|---|",
        ]
        for side, path, pages, seconds, size, peak in layers:
            lines.append(f"| {side} | {path} | {pages} | {seconds:.2f} | {size / 1e6:.2f} MB | {peak} MB |")
        lines += [
            "",
            f"With one more building of {args.giant:,} vertices (planted by SQL, as imported before the caps):",
        ]
        lines += ["", "| side | layer | pages | s | body | peak RSS |", "|---|---|---|---|---|---|"]
        for side, path, pages, seconds, size, peak in giants:
            lines.append(f"| {side} | {path} | {pages} | {seconds:.2f} | {size / 1e6:.2f} MB | {peak} MB |")
        lines += ["", "Reproduce: `.venv/bin/python -m benchmarks.security.limits`", ""]
    finally:
        cluster.destroy()
        shutil.rmtree(root, ignore_errors=True)
    (HERE / "limits.md").write_text("\n".join(lines))
    print("\n".join(lines))


SERVICE = "general"

if __name__ == "__main__":
    main()
