"""A layer of gridmap's own vector tiles on a folium map (Leaflet.VectorGrid, served from ``/static/vendor``).

The page then carries no buildings itself: the browser fetches the tiles of its view (``/tiles/plan/...``,
same origin, the page's cookie) and draws the ``buildings`` layer, each building in its grid's colour.
"""

from __future__ import annotations

from branca.element import MacroElement
from folium.elements import JSCSSMixin
from jinja2 import Template

from gridmap.maps.assets import LOCAL

TEMPLATE = "/tiles/plan/{z}/{x}/{y}.pbf"
BUILDINGS_FROM = 14


class BuildingTiles(JSCSSMixin, MacroElement):
    """The ``buildings`` layer of the plan tiles, coloured by grid (``colors``: grid code → colour)."""

    default_js = [("vectorgrid", LOCAL["vectorgrid"])]
    _template = Template(
        """{% macro script(this, kwargs) %}
        (function () {
          var colors = {{ this.colors|tojson }}, map = {{ this._parent.get_name() }};
          map.createPane("gmBuildingTiles").style.zIndex = 450;  // above the grids, as the GeoJSON layer was
          var layer = L.vectorGrid.protobuf({{ this.url|tojson }}, {
            rendererFactory: L.canvas.tile, minZoom: {{ this.minzoom }}, maxNativeZoom: 20, interactive: true,
            getFeatureId: function (f) { return f.id; },
            pane: "gmBuildingTiles",
            vectorTileLayerStyles: {
              buildings: function (p) {
                return {fill: true, fillColor: colors[p.grid_code] || "#9aa0a6", fillOpacity: 0.9,
                        color: "#3c4043", weight: 0.4};
              },
              grids: [], streets: [], compounds: [], boundaries: []
            }
          });
          layer.on("click", function (e) {
            var p = e.layer.properties || {}, box = document.createElement("div");
            box.textContent = "网格 grid " + (p.grid_code || "") + " · 户数 households " + (p.households || 0);
            L.popup().setLatLng(e.latlng).setContent(box).openOn(map);
          });
          layer.addTo(map);
          window.gridmapBuildingTiles = layer;
        })();
        {% endmacro %}"""
    )

    def __init__(self, colors: dict[str, str], url: str = TEMPLATE, minzoom: int = BUILDINGS_FROM) -> None:
        super().__init__()
        self._name = "BuildingTiles"
        self.colors, self.url, self.minzoom = colors, url, minzoom
