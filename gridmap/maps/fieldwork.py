"""Field-work maps: buildings by 遍访 state with each grid's share of households visited; streets by patrol days."""

from __future__ import annotations

import folium
import geopandas as gpd
from branca.element import Element

from gridmap.maps.base import as_text, base_map, figure, legend_html, slim

VISIT_COLOURS = {
    "done": ("#188038", "本期已完成 done this period"),
    "partial": ("#81c995", "进行中 partly visited"),
    "due": ("#f9ab00", "待访 due"),
    "overdue": ("#d93025", "逾期 overdue"),
}
DAY_COLOURS = ["#dadce0", "#a8dab5", "#5bb974", "#188038", "#0d652d"]  # 0, 1, 2, 3, 4+ days passed


def _bounds(frame: gpd.GeoDataFrame) -> tuple[float, float, float, float]:
    x0, y0, x1, y1 = frame.total_bounds
    return float(x0), float(y0), float(x1), float(y1)


def _grids(m: folium.Map, grids: gpd.GeoDataFrame, fields: list[str], aliases: list[str]) -> None:
    folium.GeoJson(
        as_text(grids[[*fields, "geometry"]]),
        name="网格 grids",
        style_function=lambda f: {
            "fill": True,
            "fillOpacity": 0.04,
            "color": "#d93025" if f["properties"].get("no_patrol_today") else "#1a73e8",
            "weight": 3,
        },
        tooltip=folium.GeoJsonTooltip(fields, aliases=aliases),
    ).add_to(m)


def visit_map(
    grids: gpd.GeoDataFrame, buildings: gpd.GeoDataFrame, *, streets: gpd.GeoDataFrame | None, tiles: str | None
) -> folium.Map:
    """``grids`` (grid_code, name, share_text), ``buildings`` (building_id, name, state, visited, households, …)."""
    m = base_map(_bounds(grids), streets=streets, tiles=tiles)
    _grids(m, grids, ["name", "share_text"], ["网格 grid", "本期已访户数 households visited"])
    houses = slim(buildings)
    houses["color"] = [VISIT_COLOURS[s][0] for s in houses["state"]]
    houses["state_name"] = [VISIT_COLOURS[s][1] for s in houses["state"]]
    folium.GeoJson(
        as_text(
            houses[["building_id", "name", "state", "state_name", "visited_text", "last_visit", "color", "geometry"]]
        ),
        name="楼栋遍访 buildings by visits",
        style_function=lambda f: {
            "fillColor": f["properties"]["color"],
            "color": "#3c4043",
            "weight": 0.6,
            "fillOpacity": 0.85,
        },
        tooltip=folium.GeoJsonTooltip(
            ["name", "state_name", "visited_text", "last_visit"],
            aliases=["楼栋 building", "状态 state", "本期已访 visited", "最近走访 last visit"],
        ),
    ).add_to(m)
    figure(m).html.add_child(Element(legend_html("遍访 visits", list(VISIT_COLOURS.values()))))
    folium.LayerControl(collapsed=True).add_to(m)
    return m


def patrol_map(
    grids: gpd.GeoDataFrame,
    pieces: gpd.GeoDataFrame,
    *,
    track: gpd.GeoDataFrame | None,
    streets: gpd.GeoDataFrame | None,
    tiles: str | None,
) -> folium.Map:
    """Grids (red outline: no patrol today), their streets by days passed, and one track when asked for."""
    m = base_map(_bounds(grids), streets=streets, tiles=tiles)
    _grids(m, grids, ["name", "patrols_text"], ["网格 grid", "巡查 patrols"])
    if len(pieces):
        lines = slim(pieces)
        lines["color"] = [DAY_COLOURS[min(int(d), 4)] for d in lines["days_passed"]]
        folium.GeoJson(
            as_text(lines[["grid_code", "name", "days_passed", "color", "geometry"]]),
            name="道路巡查天数 streets by days patrolled",
            style_function=lambda f: {"color": f["properties"]["color"], "weight": 5, "opacity": 0.9},
            tooltip=folium.GeoJsonTooltip(["name", "days_passed"], aliases=["道路 street", "巡查天数 days passed"]),
        ).add_to(m)
    if track is not None and len(track):
        folium.GeoJson(
            as_text(track[["worker", "geometry"]]),
            name="巡查轨迹 track",
            style_function=lambda _: {"color": "#9334e6", "weight": 3, "dashArray": "4 4"},
            tooltip=folium.GeoJsonTooltip(["worker"], aliases=["网格员 worker"]),
        ).add_to(m)
    items = [(c, f"{i}{'+' if i == 4 else ''} 天 days") for i, c in enumerate(DAY_COLOURS)]
    items.append(("#d93025", "红框=今日未巡查 no patrol today"))
    figure(m).html.add_child(Element(legend_html("道路巡查天数 days patrolled", items)))
    folium.LayerControl(collapsed=True).add_to(m)
    return m
