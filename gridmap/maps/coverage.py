"""Coverage (planners, leaders): grids by households or deviation, labels, buildings by grid, gaps, compounds."""

from __future__ import annotations

from html import escape

import branca.colormap as cm
import folium
import geopandas as gpd
import shapely
from branca.element import Element
from shapely.geometry.base import BaseGeometry

from gridmap.maps.base import PALETTE, as_text, base_map, figure, legend_html, slim
from gridmap.maps.vector_tiles import BuildingTiles, PlanTiles

DEVIATION_COLORS = ["#2166ac", "#f7f7f7", "#b2182b"]
HOUSEHOLD_COLORS = ["#ffffcc", "#41b6c4", "#253494"]


def coverage_map(
    grids: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame,
    *,
    study_area: BaseGeometry | None = None,
    compounds: gpd.GeoDataFrame | None = None,
    streets: gpd.GeoDataFrame | None = None,
    color_by: str = "households",
    target: int = 300,
    band: tuple[int, int] = (240, 360),
    tiles: str | None = None,
    building_tiles: bool = False,
    plan_tiles: bool = False,
) -> folium.Map:
    """Grids (``grid_code``, ``households``, ``worker``), buildings (``grid_code`` None when unassigned).

    ``building_tiles``: the assigned buildings come from the plan's vector tiles (from zoom 14), not the page;
    ``buildings`` then needs to hold only the unassigned ones. ``plan_tiles`` (a city's plan): the grids too, and
    the streets and compounds when not given; the page then embeds no grid outline, label or coverage gap.
    """
    x0, y0, x1, y1 = (grids if len(grids) else buildings).to_crs(4326).total_bounds
    bounds = (float(x0), float(y0), float(x1), float(y1))
    m = base_map(bounds, streets=streets, tiles=tiles)
    if not plan_tiles:
        grids = slim(grids)
    if color_by == "deviation":
        grids["value"] = (grids["households"] - target) / target * 100
        scale = cm.LinearColormap(DEVIATION_COLORS, vmin=-50, vmax=50)
        scale.caption = "偏离目标户数 % / deviation from target (%)"
    else:
        grids["value"] = grids["households"]
        scale = cm.LinearColormap(HOUSEHOLD_COLORS, vmin=0, vmax=band[1] * 1.5)
        scale.caption = f"户数 / households (目标 target {target}, {band[0]}–{band[1]})"
    order = {code: i for i, code in enumerate(sorted(grids["grid_code"]))}
    if plan_tiles:
        ramp: dict[str, object] = {
            "colors": DEVIATION_COLORS if color_by == "deviation" else HOUSEHOLD_COLORS,
            "vmin": scale.vmin,
            "vmax": scale.vmax,
            "deviation": color_by == "deviation",
            "target": target,
        }
        PlanTiles(list(PALETTE), ramp).add_to(m)
        scale.add_to(m)
        study_area = None  # the gaps of a city's plan are not computed for its page
    else:
        layer = folium.FeatureGroup(name="网格 grids")
        folium.GeoJson(
            as_text(grids[["grid_code", "households", "worker", "value", "geometry"]]),
            style_function=lambda f: {
                "fillColor": scale(max(min(f["properties"]["value"], scale.vmax), scale.vmin)),
                "color": "#202124",
                "weight": 1.5,
                "fillOpacity": 0.55,
            },
            highlight_function=lambda _: {"weight": 3, "color": "#d93025"},
            tooltip=folium.GeoJsonTooltip(
                ["grid_code", "households", "worker"], aliases=["网格编码 grid", "户数 households", "网格员 worker"]
            ),
        ).add_to(layer)
        for code, point in zip(grids["grid_code"], grids.geometry.representative_point(), strict=True):
            folium.Marker(
                [point.y, point.x],
                icon=folium.DivIcon(html=f'<div class="grid-label">{escape(str(code)[-3:])}</div>', icon_size=(28, 14)),
            ).add_to(layer)
        layer.add_to(m)
        scale.add_to(m)

    assigned = buildings[buildings["grid_code"].notna()]
    if building_tiles and not plan_tiles:
        BuildingTiles({code: PALETTE[i % len(PALETTE)] for code, i in order.items()}).add_to(m)
    elif not plan_tiles:
        houses = slim(assigned[["grid_code", "households", "geometry"]])
        houses["color"] = [PALETTE[order.get(c, 0) % len(PALETTE)] for c in houses["grid_code"]]
        group = folium.FeatureGroup(name="楼栋(按网格) buildings by grid")
        folium.GeoJson(
            as_text(houses),
            style_function=lambda f: {
                "fillColor": f["properties"]["color"],
                "color": "#3c4043",
                "weight": 0.4,
                "fillOpacity": 0.9,
            },
            tooltip=folium.GeoJsonTooltip(["grid_code", "households"], aliases=["网格 grid", "户数 households"]),
        ).add_to(group)
        group.add_to(m)

    problems: list[tuple[str, str]] = []
    loose = buildings[buildings["grid_code"].isna()]
    if len(loose):
        folium.GeoJson(
            slim(loose[["geometry"]]),
            name=f"未分配楼栋 unassigned ({len(loose)})",
            style_function=lambda _: {"fillColor": "#d93025", "color": "#d93025", "weight": 2, "fillOpacity": 0.9},
        ).add_to(m)
        problems.append(("#d93025", f"未分配楼栋 unassigned buildings: {len(loose)}"))
    if study_area is not None and len(grids):
        gap = study_area.difference(shapely.union_all(grids.geometry.to_numpy()).buffer(1e-7))
        if gap.area > 1e-10:
            folium.GeoJson(
                gpd.GeoDataFrame(geometry=[gap], crs=4326),
                name="覆盖缺口 gaps",
                style_function=lambda _: {"fillColor": "#ff6d00", "color": "#ff6d00", "weight": 1, "fillOpacity": 0.5},
            ).add_to(m)
            problems.append(("#ff6d00", "覆盖缺口 gaps in coverage"))
    if compounds is not None and len(compounds):
        folium.GeoJson(
            as_text(slim(compounds[["name", "geometry"]])),
            name="小区 compounds",
            style_function=lambda _: {"fill": False, "color": "#6a1b9a", "weight": 2, "dashArray": "6 4"},
            tooltip=folium.GeoJsonTooltip(["name"], aliases=["小区 compound"]),
        ).add_to(m)
    items = [("#6a1b9a", "小区边界 compound outline")] + problems
    figure(m).html.add_child(Element(legend_html("图例 legend", items)))
    figure(m).header.add_child(
        Element("<style>.grid-label{font:bold 11px sans-serif;color:#202124;text-shadow:0 0 3px #fff}</style>")
    )
    folium.LayerControl(collapsed=False).add_to(m)
    return m
