"""gridmap: 网格化管理 — grids of ~300 households for Chinese urban communities."""

__version__ = "0.1.0"
