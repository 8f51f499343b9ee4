"""Coverage (planners, leaders): grids by households or deviation, labels, buildings by grid, gaps, compounds."""

from __future__ import annotations

from html import escape

import branca.colormap as cm
import folium
import geopandas as gpd
import shapely
from branca.element import Element, MacroElement
from jinja2 import Template
from shapely.geometry.base import BaseGeometry

from gridmap.maps.base import PALETTE, as_text, base_map, figure, legend_html, slim
from gridmap.maps.vector_tiles import BuildingTiles, PlanTiles
from gridmap.partition.codes import grid_label

DEVIATION_COLORS = ["#2166ac", "#f7f7f7", "#b2182b"]
HOUSEHOLD_COLORS = ["#ffffcc", "#41b6c4", "#253494"]
UNASSIGNED_URL = "/api/plans/published/unassigned"  # gridmap.api.routes.plans


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
) -> folium.Map:
    """Grids (``grid_code``, ``households``, ``worker``), buildings (``grid_code`` None when unassigned).

    ``building_tiles``: the assigned buildings come from the plan's vector tiles (from zoom 14), not the page;
    ``buildings`` then needs to hold only the unassigned ones. A city's plan: :func:`city_coverage_map`.
    """
    x0, y0, x1, y1 = (grids if len(grids) else buildings).to_crs(4326).total_bounds
    bounds = (float(x0), float(y0), float(x1), float(y1))
    m = base_map(bounds, streets=streets, tiles=tiles)
    grids = slim(grids)
    scale = _scale(color_by, target, band)
    if color_by == "deviation":
        grids["value"] = (grids["households"] - target) / target * 100
    else:
        grids["value"] = grids["households"]
    order = {code: i for i, code in enumerate(sorted(grids["grid_code"]))}
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
            icon=folium.DivIcon(html=f'<div class="grid-label">{escape(grid_label(code))}</div>', icon_size=(28, 14)),
        ).add_to(layer)
    layer.add_to(m)
    scale.add_to(m)

    assigned = buildings[buildings["grid_code"].notna()]
    if building_tiles:
        BuildingTiles({code: PALETTE[i % len(PALETTE)] for code, i in order.items()}).add_to(m)
    else:
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

    loose = buildings[buildings["grid_code"].isna()]
    problems = _unassigned(m, loose)
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
    _finish(m, problems)
    return m


def city_coverage_map(
    bounds: tuple[float, float, float, float],
    *,
    color_by: str = "households",
    target: int = 300,
    band: tuple[int, int] = (240, 360),
    tiles: str | None = None,
    unassigned_url: str = UNASSIGNED_URL,
) -> folium.Map:
    """A city's plan: grids, buildings, streets, compounds and boundaries all from the vector tiles.

    The page embeds no grid: only the plan's ``bounds`` and the colour ramp. Hovering or tapping a grid asks the
    server which grid it is (``GET /api/plans/published/grids/at``) and shows it in a tooltip; the unassigned
    buildings (counting them is a scan of every building) are asked of ``unassigned_url`` once the map is up,
    then drawn and counted in the legend; gaps in coverage are not computed.
    """
    m = base_map(bounds, tiles=tiles)
    _only_leaflet(m)
    scale = _scale(color_by, target, band)
    ramp: dict[str, object] = {
        "colors": DEVIATION_COLORS if color_by == "deviation" else HOUSEHOLD_COLORS,
        "vmin": scale.vmin,
        "vmax": scale.vmax,
        "deviation": color_by == "deviation",
        "target": target,
    }
    PlanTiles(list(PALETTE), ramp).add_to(m)
    scale.add_to(m)
    UnassignedLater(unassigned_url).add_to(m)
    _finish(m, [])
    return m


class UnassignedLater(MacroElement):
    """The unassigned buildings of a city's page, fetched after the map is drawn: red, counted in the legend."""

    _template = Template(
        """{% macro script(this, kwargs) %}
        (function () {
          var map = {{ this._parent.get_name() }};
          function legend(total, shown) {
            var box = document.querySelector(".gridmap-legend");
            if (!box) return;
            var row = document.createElement("div"), swatch = document.createElement("span");
            swatch.style.cssText = "display:inline-block;width:12px;height:12px;background:#d93025;margin-right:6px";
            row.id = "gm-unassigned";
            row.appendChild(swatch);
            row.appendChild(document.createTextNode("未分配楼栋 unassigned buildings: " + total +
              (shown < total ? " (图上显示 " + shown + " / " + shown + " shown)" : "")));
            box.appendChild(row);
          }
          fetch({{ this.url|tojson }}, {credentials: "same-origin", headers: {Accept: "application/json"}})
            .then(function (r) { return r.ok ? r.json() : null; })
            .then(function (layer) {
              window.gridmapUnassigned = layer ? layer.total : -1;
              if (!layer || !layer.total) return;
              L.geoJSON(layer, {interactive: false, style: function () {
                return {fillColor: "#d93025", color: "#d93025", weight: 2, fillOpacity: 0.9};
              }}).addTo(map);
              legend(layer.total, layer.features.length);
            })
            .catch(function () { window.gridmapUnassigned = -1; });
        })();
        {% endmacro %}"""
    )

    def __init__(self, url: str) -> None:
        super().__init__()
        self._name = "UnassignedLater"
        self.url = url


def _only_leaflet(m: folium.Map) -> None:
    """Leave out folium's jQuery, Bootstrap and marker icons: a city's page uses none of them.

    That is 300 KB less to load and parse before the map asks for its first tile.
    """
    m.default_js = [(name, url) for name, url in m.default_js if name == "leaflet"]
    m.default_css = [(name, url) for name, url in m.default_css if name == "leaflet_css"]


def _scale(color_by: str, target: int, band: tuple[int, int]) -> cm.LinearColormap:
    if color_by == "deviation":
        scale = cm.LinearColormap(DEVIATION_COLORS, vmin=-50, vmax=50)
        scale.caption = "偏离目标户数 % / deviation from target (%)"
    else:
        scale = cm.LinearColormap(HOUSEHOLD_COLORS, vmin=0, vmax=band[1] * 1.5)
        scale.caption = f"户数 / households (目标 target {target}, {band[0]}–{band[1]})"
    return scale


def _unassigned(m: folium.Map, loose: gpd.GeoDataFrame) -> list[tuple[str, str]]:
    """The unassigned buildings drawn and their legend line."""
    if not len(loose):
        return []
    folium.GeoJson(
        slim(loose[["geometry"]]),
        name=f"未分配楼栋 unassigned ({len(loose)})",
        style_function=lambda _: {"fillColor": "#d93025", "color": "#d93025", "weight": 2, "fillOpacity": 0.9},
    ).add_to(m)
    return [("#d93025", f"未分配楼栋 unassigned buildings: {len(loose)}")]


def _finish(m: folium.Map, problems: list[tuple[str, str]]) -> None:
    items = [("#6a1b9a", "小区边界 compound outline")] + problems
    figure(m).html.add_child(Element(legend_html("图例 legend", items)))
    figure(m).header.add_child(
        Element("<style>.grid-label{font:bold 11px sans-serif;color:#202124;text-shadow:0 0 3px #fff}</style>")
    )
    folium.LayerControl(collapsed=False).add_to(m)
