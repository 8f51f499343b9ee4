"""Blocked lanes (leaders): lane-blocking requests on street segments, coloured by reports per 100 m."""

from __future__ import annotations

import branca.colormap as cm
import folium
import geopandas as gpd
import pandas as pd
from branca.element import Element

from gridmap.maps.base import as_text, base_map, figure
from gridmap.maps.hotspots import side_table


def lanes_map(
    segments: gpd.GeoDataFrame,
    worst: pd.DataFrame,
    *,
    bounds: tuple[float, float, float, float],
    streets: gpd.GeoDataFrame | None = None,
    rule: str = "",
    tiles: str | None = None,
) -> folium.Map:
    """``segments`` and ``worst`` from :mod:`gridmap.maps.analysis` (lane_reports, worst_lanes)."""
    m = base_map(bounds, streets=streets, tiles=tiles)
    top = float(segments["per_100m"].max()) if len(segments) else 1.0
    scale = cm.LinearColormap(["#fdd49e", "#ef6548", "#7f0000"], vmin=0, vmax=max(top, 1.0))
    scale.caption = "每百米诉求数 / reports per 100 m"
    if len(segments):
        folium.GeoJson(
            as_text(segments[["name", "reports", "days", "length_m", "per_100m", "recurring", "geometry"]]),
            name="堵巷路段 blocked lane segments",
            style_function=lambda f: {
                "color": scale(f["properties"]["per_100m"]),
                "weight": 8 if f["properties"]["recurring"] else 4,
                "opacity": 0.9,
            },
            tooltip=folium.GeoJsonTooltip(
                ["name", "reports", "days", "per_100m", "recurring"],
                aliases=["巷道 lane", "诉求 reports", "天数 days", "每百米 per 100 m", "反复发生 recurring"],
            ),
        ).add_to(m)
    scale.add_to(m)
    rows = [
        [i + 1, r.name, r.reports, r.days, f"{r.per_100m:.1f}", "是 yes" if r.recurring else "否 no"]
        for i, r in enumerate(worst.itertuples())
    ]
    figure(m).html.add_child(
        Element(side_table("最堵巷道 / worst lanes", ["#", "巷道", "诉求", "天数", "每百米", "反复"], rows, rule))
    )
    folium.LayerControl(collapsed=True).add_to(m)
    return m
