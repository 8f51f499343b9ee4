"""The base of every map: no tiles unless configured, our own streets and buildings drawn instead, attribution."""

from __future__ import annotations

from html import escape

import folium
import geopandas as gpd
import pandas as pd
import shapely
from branca.element import Figure, MacroElement
from jinja2 import Template

ATTRIBUTION = "© OpenStreetMap contributors"
PALETTE = ["#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#76b7b2", "#edc948", "#ff9da7", "#9c755f", "#bab0ac", "#e15759"]


class _Attribution(MacroElement):
    """Adds a line to the map's attribution control (also when no tile layer brings one)."""

    _template = Template(
        """{% macro script(this, kwargs) %}
        {{ this._parent.get_name() }}.attributionControl.setPrefix(false);
        {{ this._parent.get_name() }}.attributionControl.addAttribution({{ this.text|tojson }});
        {% endmacro %}"""
    )

    def __init__(self, text: str) -> None:
        super().__init__()
        self._name = "Attribution"
        self.text = text


def as_text(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """A copy whose text values are HTML-escaped: folium's tooltips and popups put values into the page as HTML.

    Names, 楼栋长, grid workers and street names are set by users and data files; unescaped, a name like
    ``<img src=x onerror=…>`` would run in every viewer's browser.
    """
    out = frame.copy()
    for column in out.columns:
        if column != out.geometry.name and (out[column].dtype == object or pd.api.types.is_string_dtype(out[column])):
            out[column] = out[column].map(lambda v: escape(v) if isinstance(v, str) else v).astype(object)
    return out


def slim(frame: gpd.GeoDataFrame, tolerance_m: float = 0.5) -> gpd.GeoDataFrame:
    """WGS84 geometries simplified by ~``tolerance_m`` and rounded to 1e-6° (~0.1 m): smaller pages."""
    out = frame.to_crs(4326)
    geoms = shapely.simplify(out.geometry.to_numpy(), tolerance_m / 111_000, preserve_topology=True)
    out["geometry"] = shapely.set_precision(geoms, 1e-6)
    return out


def base_map(
    bounds: tuple[float, float, float, float],
    *,
    streets: gpd.GeoDataFrame | None = None,
    buildings: gpd.GeoDataFrame | None = None,
    tiles: str | None = None,
) -> folium.Map:
    """A map fitted to ``bounds`` (WGS84); streets and building outlines from our data as the backdrop."""
    m = folium.Map(tiles=None, control_scale=True, prefer_canvas=True, zoom_snap=0.25)
    if tiles:
        folium.TileLayer(tiles, attr=ATTRIBUTION, name="底图 base map", max_zoom=19).add_to(m)
    if buildings is not None and len(buildings):
        layer = folium.FeatureGroup(name="建筑 buildings", control=True)
        folium.GeoJson(
            slim(buildings[["geometry"]]),
            style_function=lambda _: {"color": "#9aa0a6", "weight": 0.5, "fillColor": "#dadce0", "fillOpacity": 0.6},
            interactive=False,
        ).add_to(layer)
        layer.add_to(m)
    if streets is not None and len(streets):
        layer = folium.FeatureGroup(name="道路 streets", control=True)
        folium.GeoJson(
            slim(streets[["geometry", "is_barrier"]]),
            style_function=lambda f: {
                "color": "#5f6368" if f["properties"]["is_barrier"] else "#bdc1c6",
                "weight": 3 if f["properties"]["is_barrier"] else 1.2,
            },
            interactive=False,
        ).add_to(layer)
        layer.add_to(m)
    x0, y0, x1, y1 = bounds
    m.fit_bounds([[y0, x0], [y1, x1]])
    m.add_child(_Attribution(ATTRIBUTION))
    return m


def legend_html(title: str, items: list[tuple[str, str]]) -> str:
    """A small fixed legend box: (colour, label) pairs."""
    rows = "".join(
        f'<div><span style="display:inline-block;width:12px;height:12px;background:{c};margin-right:6px">'
        f"</span>{escape(t)}</div>"
        for c, t in items
    )
    return (
        '<div class="gridmap-legend" style="position:fixed;bottom:64px;left:12px;z-index:1000;background:#fff;'
        'padding:8px 10px;border-radius:6px;box-shadow:0 1px 4px #0003;font:12px sans-serif">'
        f"<b>{escape(title)}</b>{rows}</div>"
    )


def figure(m: folium.Map) -> Figure:
    """The page a map renders into (for legends, styles and side panels)."""
    root = m.get_root()
    assert isinstance(root, Figure)
    return root
