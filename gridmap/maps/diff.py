"""Plan diff (planners): a draft against the published plan, changed buildings highlighted."""

from __future__ import annotations

import folium
import geopandas as gpd
from branca.element import Element

from gridmap.maps.base import as_text, base_map, figure, legend_html, slim


def plan_diff_map(
    published: gpd.GeoDataFrame,
    draft: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame,
    *,
    streets: gpd.GeoDataFrame | None = None,
    tiles: str | None = None,
) -> folium.Map:
    """``buildings`` carry ``published_code`` and ``draft_code``; those that differ are highlighted."""
    frames = [f for f in (published, draft) if len(f)]
    x0, y0, x1, y1 = (frames[0] if frames else buildings).to_crs(4326).total_bounds
    m = base_map((float(x0), float(y0), float(x1), float(y1)), streets=streets, tiles=tiles)
    for frame, name, colour, dash in (
        (published, "已发布 published", "#5f6368", None),
        (draft, "草稿 draft", "#d93025", "6 4"),
    ):
        if len(frame):
            folium.GeoJson(
                as_text(frame[["grid_code", "households", "geometry"]]),
                name=name,
                style_function=lambda _, c=colour, d=dash: {"fill": False, "color": c, "weight": 2.5, "dashArray": d},
                tooltip=folium.GeoJsonTooltip(["grid_code", "households"], aliases=[name, "户数 households"]),
            ).add_to(m)
    changed = buildings[buildings["published_code"].fillna("") != buildings["draft_code"].fillna("")]
    if len(changed):
        folium.GeoJson(
            as_text(slim(changed[["published_code", "draft_code", "households", "geometry"]])),
            name=f"变动楼栋 changed buildings ({len(changed)})",
            style_function=lambda _: {"fillColor": "#f9ab00", "color": "#e37400", "weight": 1.5, "fillOpacity": 0.9},
            tooltip=folium.GeoJsonTooltip(
                ["published_code", "draft_code", "households"], aliases=["原网格 from", "新网格 to", "户数 households"]
            ),
        ).add_to(m)
    items = [
        ("#5f6368", "已发布 published"),
        ("#d93025", "草稿 draft"),
        ("#f9ab00", f"变动楼栋 changed: {len(changed)}"),
    ]
    figure(m).html.add_child(Element(legend_html("方案对比 plan diff", items)))
    folium.LayerControl(collapsed=False).add_to(m)
    return m
