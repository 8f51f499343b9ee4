"""A non-editable install (the wheel) works from any folder: pages, browser libraries and migrations come with it.

The wheel is built once from this checkout and installed with ``--no-deps`` into a fresh virtual environment that
borrows the project's installed dependencies (a path line in a ``.pth``: their own ``.pth`` hooks, among them
the editable gridmap of the development install, are not run). Every command runs in an empty temporary folder.
"""

import os
import subprocess
import sys
import sysconfig
import time
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from gridmap.db.cluster import LocalCluster
from tests.conftest import _free_port

pytestmark = pytest.mark.db
REPO = Path(__file__).resolve().parents[2]
PAGES = ("/login", "/static/i18n.js", "/static/vendor/leaflet/dist/leaflet.js")  # a page, our script, a library


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtual environment with the built wheel of gridmap installed, and nothing of the checkout on its path."""
    root = tmp_path_factory.mktemp("install")
    wheels = root / "wheels"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "wheel", str(REPO), "--no-deps", "--no-build-isolation", "-w", str(wheels)], check=True)
    env = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env)], check=True)
    python = env / "bin" / "python"
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    (Path(site) / "project-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    wheel = next(wheels.glob("gridmap-*.whl"))
    subprocess.run([*pip, "--python", str(python), "install", "--no-deps", str(wheel)], check=True)
    return env


def _run_env(home: Path, url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRIDMAP_") and k != "PYTHONPATH"}
    return env | {"GRIDMAP_HOME": str(home), "GRIDMAP_DATABASE_URL": url, "GRIDMAP_SECRET_KEY": "x" * 40}


@pytest.fixture(scope="module")
def install_db(cluster: LocalCluster) -> str:
    cluster.ensure_database("gridmap_install")  # not migrated: the installed gridmap does it
    return f"postgresql+psycopg2://postgres@127.0.0.1:{cluster.port}/gridmap_install"


def test_installed_gridmap_migrates_a_database_from_another_folder(venv: Path, install_db: str, tmp_path: Path) -> None:
    done = subprocess.run(
        [venv / "bin" / "gridmap", "db", "migrate"],
        cwd=tmp_path,
        env=_run_env(tmp_path / "home", install_db),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    engine = create_engine(install_db)
    with engine.connect() as conn:
        public = "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public' AND table_name = :t"
        tables = conn.execute(text(public), {"t": "requests"})
        assert tables.scalar_one() == 1
    engine.dispose()


def test_installed_gridmap_serves_its_pages_and_libraries_from_another_folder(
    venv: Path, install_db: str, tmp_path: Path
) -> None:
    port = _free_port()
    server = subprocess.Popen(
        [venv / "bin" / "gridmap", "serve", "--port", str(port), "--workers", "2"],  # as in production
        cwd=tmp_path,
        env=_run_env(tmp_path / "home", install_db),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        pages: dict[str, bytes] = {}
        deadline = time.monotonic() + 120
        while not pages and time.monotonic() < deadline and server.poll() is None:
            try:
                for path in PAGES:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
                        pages[path] = r.read()
            except OSError:
                pages.clear()
                time.sleep(0.3)
        assert server.poll() is None, server.stderr.read().decode() if server.stderr else ""
        assert {path: len(body) > 0 for path, body in pages.items()} == dict.fromkeys(PAGES, True)
    finally:
        server.terminate()
        server.wait(timeout=30)
