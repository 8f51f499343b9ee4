"""Plan diff (planners): a draft against the published plan, changed buildings highlighted."""

from __future__ import annotations

import folium
import geopandas as gpd
from branca.element import Element

from gridmap.maps.base import as_text, base_map, figure, legend_html, slim
from gridmap.maps.hotspots import side_table


def diff_rows(
    published: gpd.GeoDataFrame, draft: gpd.GeoDataFrame, buildings: gpd.GeoDataFrame, workers: dict[str, list[str]]
) -> tuple[list[list[object]], list[list[object]]]:
    """The summary (what, how many) and the changed grids (code, households before → after, workers) of a diff."""
    old = dict(zip(published["grid_code"], published["households"], strict=True))
    new = dict(zip(draft["grid_code"], draft["households"], strict=True))
    moved = buildings[buildings["published_code"].fillna("") != buildings["draft_code"].fillna("")]
    touched = set(moved["published_code"].dropna()) | set(moved["draft_code"].dropna())
    added, removed = sorted(set(new) - set(old)), sorted(set(old) - set(new))
    changed = sorted(touched & set(old) & set(new))
    affected = sorted({w for code in [*added, *removed, *changed] for w in workers.get(code, [])})
    summary: list[list[object]] = [
        ["新增网格 added", len(added)],
        ["撤销网格 removed", len(removed)],
        ["变动网格 changed", len(changed)],
        ["移动楼栋 buildings moved", len(moved)],
        ["移动户数 households moved", int(moved["households"].sum())],
        ["涉及网格员 workers affected", "、".join(affected) or "无 none"],
    ]
    grids = [
        [code, old.get(code, "—"), new.get(code, "—"), "、".join(workers.get(code, [])) or "—"]
        for code in [*added, *removed, *changed]
    ]
    return summary, grids


def plan_diff_map(
    published: gpd.GeoDataFrame,
    draft: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame,
    *,
    streets: gpd.GeoDataFrame | None = None,
    tiles: str | None = None,
    workers: dict[str, list[str]] | None = None,
) -> folium.Map:
    """``buildings`` carry ``published_code`` and ``draft_code``; those that differ are highlighted.

    Both plans' boundaries stay visible (published solid grey, draft dashed red); a table beside the map lists
    what changes and whose grids it touches (``workers``: grid code → grid workers' names).
    """
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
    summary, grids = diff_rows(published, draft, buildings, workers or {})
    rows: list[list[object]] = [*summary]
    rows += [[code, f"{before} → {after}", names] for code, before, after, names in grids[:40]]
    figure(m).html.add_child(
        Element(side_table("方案变动 / what changes", ["项目 / 网格", "数量 / 户数", "网格员"], rows))
    )
    folium.LayerControl(collapsed=False).add_to(m)
    return m
