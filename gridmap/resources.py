"""Package data found through the package (``importlib.resources``), in a checkout and in an installed wheel alike.

The pages and browser libraries (``frontend/``) and the shipped data (``data/``: NBS reference tables, the demo's
OpenStreetMap extract) stay at the top of the repository; ``gridmap/frontend`` and ``gridmap/data`` are links to
them, and the wheel carries copies of the files the server reads (``[tool.setuptools.package-data]`` in
``pyproject.toml``). So ``pip install .`` and then ``gridmap demo`` in any folder find the same files as a checkout.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def package_path(*parts: str) -> Path:
    """A file or folder of gridmap's package data on disk (gridmap is installed as files, never zipped)."""
    root = files("gridmap")
    if not isinstance(root, Path):
        raise RuntimeError(f"gridmap must be installed as files on disk, not inside {root}")
    return root.joinpath(*parts)


FRONTEND = package_path("frontend")
REFERENCE = package_path("data", "boundaries", "cn_ref")
DEMO_OSM = package_path("data", "boundaries", "osm", "nanjing_xinjiekou_2021-06.osm")
MIGRATIONS = package_path("db", "migrations")
