"""Hot spots (leaders): request density as a heat map and Gi* clusters on H3 cells, with a top-N table."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

import folium
import geopandas as gpd
from branca.element import Element
from folium.plugins import HeatMap

from gridmap.maps.base import as_text, base_map, figure, legend_html


def side_table(title: str, header: list[str], rows: Sequence[Sequence[Any]], note: str = "") -> str:
    """A fixed panel beside the map with a small table (top-N lists)."""
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{escape(str(v))}</td>" for v in row) + "</tr>" for row in rows)
    return (
        '<div id="side-panel" style="position:fixed;top:104px;right:12px;z-index:1000;max-height:70vh;overflow:auto;'
        'background:#fff;padding:8px 10px;border-radius:6px;box-shadow:0 1px 4px #0003;font:12px sans-serif">'
        f"<b>{escape(title)}</b><table class='table table-sm'><thead><tr>{head}</tr></thead>"
        f"<tbody>{body}</tbody></table><div style='color:#5f6368'>{escape(note)}</div></div>"
    )


def hotspot_map(
    requests: gpd.GeoDataFrame,
    cells: gpd.GeoDataFrame,
    *,
    bounds: tuple[float, float, float, float],
    streets: gpd.GeoDataFrame | None = None,
    grids: gpd.GeoDataFrame | None = None,
    top: int = 10,
    subtitle: str = "",
    tiles: str | None = None,
) -> folium.Map:
    """``requests`` (points), ``cells`` from :func:`gridmap.maps.analysis.gi_star_cells`."""
    m = base_map(bounds, streets=streets, tiles=tiles)
    if grids is not None and len(grids):
        folium.GeoJson(
            as_text(grids[["grid_code", "geometry"]]),
            name="网格 grids",
            style_function=lambda _: {"fill": False, "color": "#3c4043", "weight": 1},
            tooltip=folium.GeoJsonTooltip(["grid_code"], aliases=["网格 grid"]),
        ).add_to(m)
    pts = requests.to_crs(4326)
    heat = [[p.y, p.x] for p in pts.geometry]
    HeatMap(heat, name=f"密度 density ({len(heat)})", radius=18, blur=14, min_opacity=0.3).add_to(m)
    significant = cells[cells["hot"] | cells["cold"]].copy()
    if len(significant):
        significant["kind"] = ["热点 hot" if h else "冷点 cold" for h in significant["hot"]]
        folium.GeoJson(
            as_text(significant[["cell", "requests", "z", "p", "kind", "hot", "geometry"]]),
            name="Gi* 显著聚集 clusters (FDR 5%)",
            style_function=lambda f: {
                "fillColor": "#d93025" if f["properties"]["hot"] else "#1a73e8",
                "color": "#5f6368",
                "weight": 0.5,
                "fillOpacity": 0.45,
            },
            tooltip=folium.GeoJsonTooltip(
                ["kind", "requests", "z", "p"], aliases=["类型", "诉求 requests", "Gi* z", "p"]
            ),
        ).add_to(m)
    ranked = cells[cells["hot"]].sort_values(["z", "requests"], ascending=False).head(top)
    rows = [
        [i + 1, r.requests, f"{r.z:.2f}", f"{r.p:.3f}", _near(r.geometry, grids)]
        for i, r in enumerate(ranked.itertuples())
    ]
    figure(m).html.add_child(
        Element(
            side_table(
                f"热点前{top} / top {top} hot spots {subtitle}",
                ["#", "诉求", "Gi* z", "p", "网格 grid"],
                rows,
                f"{int(cells['hot'].sum())} 个显著热点单元 significant hot cells (H3, FDR 5%)",
            )
        )
    )
    figure(m).html.add_child(
        Element(legend_html("图例 legend", [("#d93025", "热点 hot spot (Gi*)"), ("#1a73e8", "冷点 cold spot")]))
    )
    folium.LayerControl(collapsed=True).add_to(m)
    return m


def _near(cell: object, grids: gpd.GeoDataFrame | None) -> str:
    if grids is None or not len(grids):
        return "—"
    centre = gpd.GeoSeries([cell], crs=4326).representative_point().iloc[0]
    hit = grids[grids.covers(centre)]
    return str(hit["grid_code"].iloc[0]) if len(hit) else "—"
