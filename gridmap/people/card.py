"""网格公示牌: an A4 card per grid, drawn server-side with matplotlib (no tiles).

The grid's map with its buildings and streets, name and code, households, 网格长/网格员/楼长 with masked or
office phones, the 监督电话 and a QR code of the public report page. Text is set in Noto Sans CJK SC (Debian
``fonts-noto-cjk``) as Type 3 fonts, so a PDF stays small and its text can be extracted (``pdftotext -raw``).
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache

import matplotlib
import numpy as np
import segno
import shapely
from matplotlib import font_manager
from matplotlib.axes import Axes
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.collections import LineCollection, PolyCollection
from matplotlib.figure import Figure

from gridmap.errors import InvalidInput

A4_INCHES = (8.27, 11.69)
PNG_DPI = 150
FONT_FAMILY = "Noto Sans CJK SC"
RED = "#c62828"
MAX_HEADS = 12  # 楼长 lines on a card; more are summed up


@dataclass(frozen=True)
class StaffLine:
    """One person on the card: post, name, where (a 楼长's building) and the phone shown (masked or office)."""

    post: str
    name: str
    where: str = ""
    phone: str = ""


@dataclass(frozen=True)
class CardData:
    """Everything one card shows."""

    code: str
    name: str
    households: int
    n_buildings: int
    outline: bytes  # WKB of the grid polygon
    buildings: list[bytes]
    streets: list[tuple[str | None, bool, bytes]]
    staff: list[StaffLine]
    report_url: str
    supervision_phone: str
    title: str = "网格公示牌"
    counts: dict[str, int] = field(default_factory=dict)  # 党员, 志愿者 placed in the grid


@cache
def _font() -> font_manager.FontProperties:
    """The Chinese font; :class:`InvalidInput` saying how to install it when missing."""
    found = [f for f in font_manager.fontManager.ttflist if f.name == FONT_FAMILY]
    if not found:
        for path in font_manager.findSystemFonts():
            if "NotoSansCJK" in path:
                font_manager.fontManager.addfont(path)
        found = [f for f in font_manager.fontManager.ttflist if f.name == FONT_FAMILY]
    if not found:
        raise InvalidInput("缺少中文字体 / the Chinese font is missing: install Debian fonts-noto-cjk (make install)")
    return font_manager.FontProperties(family=FONT_FAMILY)


def _qr(ax: Axes, url: str) -> None:
    matrix = np.array(list(segno.make(url, error="m").matrix_iter(scale=1, border=4)), dtype=np.uint8)
    ax.imshow(
        1 - np.kron(matrix, np.ones((8, 8), dtype=np.uint8)), cmap="gray", interpolation="nearest", vmin=0, vmax=1
    )
    ax.set_axis_off()


def _rings(geometries: Iterable[shapely.Geometry]) -> list[np.ndarray]:
    """Exterior rings of (multi)polygons as coordinate arrays."""
    return [np.asarray(p.exterior.coords) for g in geometries for p in getattr(g, "geoms", [g]) if not p.is_empty]


def _paths(geometries: Iterable[shapely.Geometry]) -> list[np.ndarray]:
    """Lines of (multi)linestrings as coordinate arrays."""
    return [np.asarray(line.coords) for g in geometries for line in getattr(g, "geoms", [g]) if not line.is_empty]


def _map(ax: Axes, data: CardData) -> None:
    outline = shapely.from_wkb(data.outline)
    x0, y0, x1, y1 = outline.bounds
    pad = max(x1 - x0, y1 - y0) * 0.08
    for barrier, width, colour in ((False, 1.0, "#9e9e9e"), (True, 2.6, "#616161")):
        lines = shapely.from_wkb([w for _, b, w in data.streets if b is barrier])
        ax.add_collection(LineCollection(_paths(lines), colors=colour, linewidths=width))
    homes = _rings(shapely.from_wkb(data.buildings))
    ax.add_collection(PolyCollection(homes, facecolors="#ffcc80", edgecolors="#e65100", linewidths=0.4))
    ax.add_collection(PolyCollection(_rings([outline]), facecolors="none", edgecolors=RED, linewidths=2.5, zorder=3))
    ax.set_xlim(x0 - pad, x1 + pad)
    ax.set_ylim(y0 - pad, y1 + pad)
    ax.set_aspect(1 / np.cos(np.radians(outline.centroid.y)))
    font = _font()
    named: set[str] = set()
    for name, _, wkb in sorted(data.streets, key=lambda s: -shapely.from_wkb(s[2]).length):
        line = shapely.from_wkb(wkb)
        if name and name not in named and not line.is_empty and line.length > (x1 - x0) * 0.25:
            named.add(name)
            at = line.interpolate(0.5, normalized=True)
            ax.text(
                at.x,
                at.y,
                name,
                fontproperties=font,
                fontsize=7,
                color="#212121",
                ha="center",
                va="center",
                clip_on=True,
                bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.7, "pad": 1},
            )
    ax.set_xticks([])
    ax.set_yticks([])
    for side in ax.spines.values():
        side.set_edgecolor("#bdbdbd")


def draw(data: CardData) -> Figure:
    """The card as a matplotlib figure (A4 portrait)."""
    font = _font()
    fig = Figure(figsize=A4_INCHES)
    fig.patches.append(matplotlib.patches.Rectangle((0, 0.925), 1, 0.075, transform=fig.transFigure, color=RED))
    fig.text(0.5, 0.962, data.title, fontproperties=font, fontsize=30, color="white", ha="center", va="center")
    fig.text(0.06, 0.895, data.name, fontproperties=font, fontsize=18, va="center")
    fig.text(0.06, 0.865, f"网格编码 {data.code}", fontproperties=font, fontsize=12, va="center", color="#424242")
    extra = "".join(f"　{k} {v} 人" for k, v in data.counts.items() if v)
    fig.text(
        0.06,
        0.840,
        f"户数 {data.households} 户　楼栋 {data.n_buildings} 栋{extra}",
        fontproperties=font,
        fontsize=12,
        va="center",
        color="#424242",
    )
    _map(fig.add_axes((0.06, 0.39, 0.88, 0.43)), data)
    y = 0.355
    fig.text(0.06, y, "网格服务团队", fontproperties=font, fontsize=14, color=RED, va="center")
    lines = _lines(data.staff)
    for line in lines:
        y -= 0.021
        fig.text(0.06, y, line[0], fontproperties=font, fontsize=10, va="center", color=RED)
        fig.text(0.14, y, line[1], fontproperties=font, fontsize=10, va="center")
        fig.text(0.46, y, line[2], fontproperties=font, fontsize=10, va="center")
    side = 0.26 * A4_INCHES[0] / A4_INCHES[1]  # a square on the page
    _qr(fig.add_axes((0.68, 0.125, 0.26, side)), data.report_url)
    fig.text(0.81, 0.108, "扫码上报问题", fontproperties=font, fontsize=11, ha="center", va="center")
    fig.text(0.81, 0.09, data.report_url, fontproperties=font, fontsize=6, ha="center", va="center", color="#616161")
    fig.patches.append(matplotlib.patches.Rectangle((0, 0), 1, 0.055, transform=fig.transFigure, color="#fbe9e7"))
    fig.text(
        0.5,
        0.028,
        f"监督电话 {data.supervision_phone}",
        fontproperties=font,
        fontsize=16,
        ha="center",
        va="center",
        color=RED,
    )
    return fig


def _lines(staff: list[StaffLine]) -> list[tuple[str, str, str]]:
    heads = [s for s in staff if s.post == "楼长"]
    others = [s for s in staff if s.post != "楼长"]
    out = [(s.post, s.name, s.phone) for s in others] or [("网格员", "未配备", "")]
    for s in heads[:MAX_HEADS]:
        out.append(("楼长", f"{s.name}（{s.where}）" if s.where else s.name, s.phone))
    if len(heads) > MAX_HEADS:
        out.append(("楼长", f"等共 {len(heads)} 位，名单见社区公示栏", ""))
    return out


def pdf(cards: Iterable[CardData]) -> bytes:
    """The cards as one PDF, a page each."""
    buffer = io.BytesIO()
    with matplotlib.rc_context({"pdf.fonttype": 3}), PdfPages(buffer, metadata={"Title": "网格公示牌"}) as pages:
        for data in cards:
            pages.savefig(draw(data))
    return buffer.getvalue()


def png(data: CardData) -> bytes:
    """One card as a PNG (A4 at 150 dpi: 1240 × 1754 pixels)."""
    buffer = io.BytesIO()
    draw(data).savefig(buffer, format="png", dpi=PNG_DPI)
    return buffer.getvalue()
