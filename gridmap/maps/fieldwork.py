"""Field-work maps: buildings by 遍访 state with each grid's share of households visited; streets by patrol days."""

from __future__ import annotations

from html import escape

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
DAY_COLOURS = ["#bdc1c6", "#81c995", "#34a853", "#188038", "#0d652d"]  # 0, 1, 2, 3, 4+ days passed


def _bounds(frame: gpd.GeoDataFrame) -> tuple[float, float, float, float]:
    x0, y0, x1, y1 = frame.total_bounds
    return float(x0), float(y0), float(x1), float(y1)


def _grids(m: folium.Map, grids: gpd.GeoDataFrame, fields: list[str], aliases: list[str]) -> None:
    folium.GeoJson(
        as_text(grids[[*fields, *(["no_patrol_today"] if "no_patrol_today" in grids else []), "geometry"]]),
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
    grids: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame,
    *,
    streets: gpd.GeoDataFrame | None,
    tiles: str | None,
    route: list[tuple[float, float, str]] | None = None,
    path: list[tuple[float, float]] | None = None,
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
    if route:
        layer = folium.FeatureGroup(name="今日建议路线 today's route")
        if path and len(path) > 1:
            folium.PolyLine([[y, x] for x, y in path], color="#1a73e8", weight=4, opacity=0.8).add_to(layer)
        for n, (x, y, name) in enumerate(route, start=1):
            folium.Marker(
                [y, x],
                tooltip=escape(f"{n}. {name}"),
                icon=folium.DivIcon(html=f'<div class="route-stop">{n}</div>', icon_size=(22, 22)),
            ).add_to(layer)
        layer.add_to(m)
        figure(m).header.add_child(
            Element(
                "<style>.route-stop{background:#1a73e8;color:#fff;border-radius:11px;width:22px;height:22px;"
                "text-align:center;font:bold 12px/22px sans-serif;box-shadow:0 0 2px #000}</style>"
            )
        )
    figure(m).html.add_child(Element(legend_html("遍访 visits", list(VISIT_COLOURS.values()))))
    folium.LayerControl(collapsed=True).add_to(m)
    return m


def patrol_list_html(patrols: list[dict[str, str]]) -> str:
    """The period's patrols beside the map, each with a link that shows its track (the view is logged)."""
    rows = "".join(
        f'<li><a class="show-track" href="{escape(p["href"])}">{escape(p["label"])}</a></li>' for p in patrols
    )
    return (
        '<div id="patrol-list" style="position:fixed;top:54px;right:10px;z-index:1000;background:#fff;max-height:50%;'
        "overflow:auto;padding:6px 10px;border-radius:6px;box-shadow:0 1px 4px #0003;font:12px sans-serif;"
        'max-width:280px"><b>巡查记录 patrols</b> <span style="color:#666">(查看轨迹将被记录 / views are logged)</span>'
        f'<ol style="padding-left:18px;margin:4px 0">{rows or "<li>无 none</li>"}</ol></div>'
    )


def patrol_map(
    grids: gpd.GeoDataFrame,
    pieces: gpd.GeoDataFrame,
    *,
    track: gpd.GeoDataFrame | None,
    streets: gpd.GeoDataFrame | None,
    tiles: str | None,
    patrols: list[dict[str, str]] | None = None,
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
            style_function=lambda f: {
                "color": f["properties"]["color"],
                "weight": 6 if f["properties"]["days_passed"] else 3,
                "opacity": 0.95,
            },
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
    figure(m).html.add_child(Element(patrol_list_html(patrols or [])))
    folium.LayerControl(collapsed=True).add_to(m)
    return m
