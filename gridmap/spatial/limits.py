"""Caps on what an import reads: zip archives by their uncompressed size and ratio, features by their vertices.

Both are checked before anything is stored (and a zip before any member is decompressed): a zip bomb would
otherwise fill memory or disk, and a polygon of millions of vertices would make every map and layer that shows
it slow for everyone (a 10-million-vertex building made the buildings layer 228 MB and the coverage map 47 s).
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

from gridmap.errors import InvalidInput
from gridmap.settings import ImportSettings

_SMALL = 1 << 20  # members under 1 MB uncompressed are not judged by their ratio (tiny files compress oddly)


def _size(n: int) -> str:
    return f"{n / 1e6:,.1f} MB" if n >= 100_000 else f"{n / 1e3:,.1f} KB"


def check_zip(path: Path, limits: ImportSettings) -> None:
    """Refuse a zip whose members would uncompress to more than the limit, or at a ratio no real data has."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError):
        return  # not a zip this module can judge: the reader says what is wrong
    total = sum(m.file_size for m in members)
    if total > limits.max_unzipped_bytes:
        raise InvalidInput(
            f"{path}: 压缩包解压后共 {_size(total)},超过上限 {_size(limits.max_unzipped_bytes)}"
            f"(疑似压缩炸弹,或请拆分后分批导入)/ the archive uncompresses to {_size(total)}, over the limit of "
            f"{_size(limits.max_unzipped_bytes)} (GRIDMAP_IMPORTS__MAX_UNZIPPED_BYTES): a zip bomb, or split it"
        )
    for member in members:
        ratio = member.file_size / max(member.compress_size, 1)
        if member.file_size >= _SMALL and ratio > limits.max_zip_ratio:
            raise InvalidInput(
                f"{path}: 压缩包中的 {member.filename} 压缩比 {ratio:,.0f}:1({_size(member.compress_size)} 解压为 "
                f"{_size(member.file_size)}),超过上限 {limits.max_zip_ratio:,.0f}:1,疑似压缩炸弹 / "
                f"{member.filename} in the archive has a compression ratio of {ratio:,.0f}:1 "
                f"({_size(member.compress_size)} → {_size(member.file_size)}), over the limit of "
                f"{limits.max_zip_ratio:,.0f}:1 (GRIDMAP_IMPORTS__MAX_ZIP_RATIO): a zip bomb, not map data"
            )


def _label(frame: gpd.GeoDataFrame, row: int) -> str:
    key = "source_id" if "source_id" in frame.columns else "code"
    ident = frame[key].iloc[row] if key in frame.columns else None
    name = frame["name"].iloc[row] if "name" in frame.columns else None
    ident = ident if isinstance(ident, str) else f"#{row + 1}"
    return f"{ident}({name})" if isinstance(name, str) and name else ident


def check_vertices(path: Path, layers: dict[str, gpd.GeoDataFrame], limits: ImportSettings) -> None:
    """Refuse a file with a feature over the per-feature vertex cap, or more vertices in all than the per-file cap."""
    total = 0
    for layer, frame in layers.items():
        if frame.empty:
            continue
        counts = shapely.get_num_coordinates(frame.geometry.values)
        worst = int(np.argmax(counts))
        if counts[worst] > limits.max_vertices_per_feature:
            raise InvalidInput(
                f"{path}: 图层 {layer} 的要素 {_label(frame, worst)} 有 {int(counts[worst]):,} 个顶点,超过每个要素 "
                f"{limits.max_vertices_per_feature:,} 个的上限,请在源数据中简化或修正后再导入 / feature "
                f"{_label(frame, worst)} of layer {layer} has {int(counts[worst]):,} vertices, over the limit of "
                f"{limits.max_vertices_per_feature:,} per feature (GRIDMAP_IMPORTS__MAX_VERTICES_PER_FEATURE): "
                "simplify or fix it in the source; nothing was imported"
            )
        total += int(counts.sum())
    if total > limits.max_vertices_per_file:
        raise InvalidInput(
            f"{path}: 共 {total:,} 个顶点,超过每个文件 {limits.max_vertices_per_file:,} 个的上限,请拆分后分批导入 / "
            f"the file has {total:,} vertices, over the limit of {limits.max_vertices_per_file:,} per file "
            "(GRIDMAP_IMPORTS__MAX_VERTICES_PER_FILE): split it and import the parts; nothing was imported"
        )
