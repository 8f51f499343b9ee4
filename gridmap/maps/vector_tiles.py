"""A layer of gridmap's own vector tiles on a folium map (Leaflet.VectorGrid, served from ``/static/vendor``).

The page then carries no buildings itself: the browser fetches the tiles of its view (``/tiles/plan/...``,
same origin, the page's cookie) and draws the ``buildings`` layer, each building in its grid's colour.
"""

from __future__ import annotations

from branca.element import MacroElement
from folium.elements import JSCSSMixin
from jinja2 import Template

from gridmap.maps.assets import LOCAL
from gridmap.ogc.tile_queries import GRIDS_FROM

TEMPLATE = "/tiles/plan/{z}/{x}/{y}.pbf"
GRID_AT = "/api/plans/published/grids/at"  # the grid at ?lon=&lat= (gridmap.api.routes.plans)
HOVER_DEBOUNCE_MS = 150  # a pointer resting this long asks which grid it is on
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


class PlanTiles(JSCSSMixin, MacroElement):
    """Every layer of the plan tiles on one canvas layer, for a city's plan on the coverage page.

    Grids coloured like the GeoJSON grids were, buildings in their grid's colour from zoom 14 (picked from
    ``palette`` by the code), streets and compounds. The page then carries no geometry of the plan, only the colour
    ramp. Hovering (or tapping) a grid shows its name, code, 社区, 户数 and whether it has a 网格员, asked of
    ``at_url`` (the canvas tiles fire no pointer events of their own).
    """

    default_js = [("vectorgrid", LOCAL["vectorgrid"])]
    _template = Template(
        """{% macro script(this, kwargs) %}
        (function () {
          var palette = {{ this.palette|tojson }}, ramp = {{ this.ramp|tojson }}, map = {{ this._parent.get_name() }};
          function pick(code) {  // a grid's building colour from its code: the page lists no grids
            var h = 0;
            for (var i = 0; i < code.length; i++) h = (h * 31 + code.charCodeAt(i)) | 0;
            return palette[Math.abs(h) % palette.length];
          }
          function hex(c) { return [1, 3, 5].map(function (i) { return parseInt(c.slice(i, i + 2), 16); }); }
          function fill(p) {
            var v = ramp.deviation ? (p.households - ramp.target) / ramp.target * 100 : p.households;
            v = Math.max(ramp.vmin, Math.min(ramp.vmax, v));
            var n = ramp.colors.length, t = (v - ramp.vmin) / (ramp.vmax - ramp.vmin) * (n - 1);
            var i = Math.min(Math.floor(t), n - 2), f = t - i, a = hex(ramp.colors[i]), b = hex(ramp.colors[i + 1]);
            var mixed = [0, 1, 2].map(function (k) { return Math.round(a[k] + (b[k] - a[k]) * f); });
            return "rgb(" + mixed.join(",") + ")";
          }
          map.createPane("gmPlanTiles").style.zIndex = 420;
          var layer = L.vectorGrid.protobuf({{ this.url|tojson }}, {
            rendererFactory: L.canvas.tile, maxNativeZoom: 20, interactive: false, pane: "gmPlanTiles",
            getFeatureId: function (f) { return f.id !== undefined ? f.id : f.properties.code; },
            vectorTileLayerStyles: {
              grids: function (p) {
                return {fill: true, fillColor: fill(p), fillOpacity: 0.55, color: "#202124", weight: 1};
              },
              buildings: function (p) {
                return {fill: true, fillColor: p.grid_code ? pick(p.grid_code) : "#9aa0a6", fillOpacity: 0.9,
                        color: "#3c4043", weight: 0.4};
              },
              streets: {color: "#80868b", weight: 1, opacity: 0.8},
              compounds: {fill: false, color: "#6a1b9a", weight: 2, dashArray: [6, 4]},
              boundaries: {fill: false, color: "#d93025", weight: 2}
            }
          });
          layer.addTo(map);
          window.gridmapPlanTiles = layer;
          // VectorGrid 1.3's canvas tiles fire no pointer events under Leaflet 1.9 (so the layer is not interactive:
          // its tiles let the pointer through to the map, cheaper to draw): the server says which grid
          // is under the pointer (hover, debounced) or the finger (tap), and a tooltip shows it as text.
          var lang = "zh";
          try { lang = localStorage.getItem("gridmap.lang") || "zh"; } catch (e) { /* storage blocked: 中文 */ }
          var words = lang === "en"
            ? {code: "Code", households: "Households", worker: "Grid worker", yes: "assigned", no: "none"}
            : {code: "编码", households: "户数", worker: "网格员", yes: "已配备", no: "未配备"};
          var tip = L.tooltip({direction: "top", offset: [0, -10], className: "gm-grid-tip"}), asked = 0, timer = null;
          function line(parent, tag, text) {
            var el = document.createElement(tag);
            el.textContent = text;  // names come from users and data files: text, never HTML
            parent.appendChild(el);
          }
          function show(latlng, g) {
            var box = document.createElement("div");
            line(box, "b", g.community + " " + g.name);
            line(box, "div", words.code + ": " + g.code);
            line(box, "div", words.households + ": " + g.households);
            line(box, "div", words.worker + ": " + (g.staffed ? words.yes : words.no));
            map.openTooltip(tip.setContent(box), latlng);
          }
          function hide() { asked++; map.closeTooltip(tip); }
          function ask(latlng) {
            if (map.getZoom() < {{ this.grids_from }}) { hide(); return; }  // grids are drawn from this zoom
            var mine = ++asked, query = "?lon=" + latlng.lng.toFixed(6) + "&lat=" + latlng.lat.toFixed(6);
            fetch({{ this.at_url|tojson }} + query, {credentials: "same-origin", headers: {Accept: "application/json"}})
              .then(function (r) { return r.ok ? r.json() : null; })
              .then(function (g) { if (mine !== asked) return; if (g) show(latlng, g); else map.closeTooltip(tip); })
              .catch(function () { if (mine === asked) map.closeTooltip(tip); });
          }
          map.on("mousemove", function (e) {
            clearTimeout(timer);
            timer = setTimeout(function () { ask(e.latlng); }, {{ this.debounce_ms }});
          });
          map.on("click", function (e) { clearTimeout(timer); ask(e.latlng); });  // a phone: tap a grid
          map.on("mouseout zoomstart", function () { clearTimeout(timer); hide(); });
        })();
        {% endmacro %}"""
    )

    def __init__(
        self, palette: list[str], ramp: dict[str, object], url: str = TEMPLATE, at_url: str = GRID_AT
    ) -> None:
        super().__init__()
        self._name = "PlanTiles"
        self.palette, self.ramp, self.url, self.at_url = palette, ramp, url, at_url
        self.grids_from, self.debounce_ms = GRIDS_FROM, HOVER_DEBOUNCE_MS
