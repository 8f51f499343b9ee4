"""My grid (grid workers, phone-sized): own boundary, buildings with households, open requests by status."""

from __future__ import annotations

from html import escape

import folium
import geopandas as gpd
from branca.element import Element

from gridmap.maps.base import as_text, base_map, figure, legend_html, slim
from gridmap.requests.states import STATUS_NAMES, Status

_COLOURS = {
    "reported": "#d93025",
    "reopened": "#a50e0e",
    "taken": "#f29900",
    "escalated": "#e37400",
    "triaged": "#9334e6",
    "dispatched": "#1a73e8",
    "accepted": "#1967d2",
    "returned": "#c5221f",
    "resolved": "#188038",
    "verified": "#137333",
}
# colour and "中文 english" label per open status; the names are the workflow's own (states.STATUS_NAMES)
STATUS_COLOURS = {code: (colour, " ".join(STATUS_NAMES[Status(code)])) for code, colour in _COLOURS.items()}


def my_grid_map(
    grids: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame,
    requests: gpd.GeoDataFrame,
    *,
    streets: gpd.GeoDataFrame | None = None,
    tiles: str | None = None,
) -> folium.Map:
    """``grids`` (own), ``buildings`` (name, households, head), ``requests`` (id, category_name, status, overdue)."""
    x0, y0, x1, y1 = grids.to_crs(4326).total_bounds
    m = base_map((float(x0), float(y0), float(x1), float(y1)), streets=streets, tiles=tiles)
    folium.GeoJson(
        as_text(grids[["grid_code", "households", "geometry"]]),
        name="我的网格 my grid",
        style_function=lambda _: {"fillColor": "#1a73e8", "fillOpacity": 0.06, "color": "#1a73e8", "weight": 3},
        tooltip=folium.GeoJsonTooltip(["grid_code", "households"], aliases=["网格 grid", "户数 households"]),
    ).add_to(m)
    if len(buildings):
        folium.GeoJson(
            as_text(slim(buildings[["name", "households", "head", "geometry"]])),
            name="楼栋 buildings",
            style_function=lambda _: {"fillColor": "#80868b", "color": "#3c4043", "weight": 0.5, "fillOpacity": 0.5},
            tooltip=folium.GeoJsonTooltip(
                ["name", "households", "head"], aliases=["楼栋 building", "户数 households", "楼栋长 head"]
            ),
        ).add_to(m)
    layer = folium.FeatureGroup(name=f"待办诉求 open requests ({len(requests)})")
    for r in requests.to_crs(4326).itertuples():
        colour, label = STATUS_COLOURS.get(str(r.status), ("#5f6368", str(r.status)))
        folium.CircleMarker(
            [r.geometry.y, r.geometry.x],
            radius=9,
            color="#000" if r.overdue else "#fff",
            weight=3 if r.overdue else 1.5,
            fill=True,
            fill_color=colour,
            fill_opacity=0.95,
            tooltip=escape(f"#{r.id} {r.category_name} · {label}{' · 超时 overdue' if r.overdue else ''}"),
            popup=folium.Popup(
                f'<a href="/requests/{int(r.id)}">#{int(r.id)}</a> {escape(str(r.category_name))}', max_width=220
            ),
            **{"class_name": "request-marker"},
        ).add_to(layer)
    layer.add_to(m)
    items = [STATUS_COLOURS[s] for s in ("reported", "taken", "dispatched", "resolved")] + [
        ("#000", "黑框=超时 overdue")
    ]
    figure(m).html.add_child(Element(legend_html("诉求状态 status", items)))
    folium.LayerControl(collapsed=True).add_to(m)
    return m
