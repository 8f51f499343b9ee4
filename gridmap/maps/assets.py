"""Offline maps: folium's CDN scripts and stylesheets replaced by pinned local copies served by the app.

The npm packages pinned in ``frontend/package.json`` are installed into ``frontend/node_modules`` by
``make install`` and served under ``/static/vendor``; folium's own templates (the heat-map plugin) come from the
folium wheel under ``/static/folium``. A map using an asset with no local copy is an error, not a CDN request.
"""

from __future__ import annotations

import re
from pathlib import Path

import folium
from branca.element import Element, Figure

VENDOR = "/static/vendor"
FOLIUM = "/static/folium"
FOLIUM_TEMPLATES = Path(folium.__file__).resolve().parent / "templates"
LOCAL = {
    "leaflet": f"{VENDOR}/leaflet/dist/leaflet.js",
    "jquery": f"{VENDOR}/jquery/dist/jquery.min.js",
    "bootstrap": f"{VENDOR}/bootstrap/dist/js/bootstrap.bundle.min.js",
    "awesome_markers": f"{VENDOR}/leaflet.awesome-markers/dist/leaflet.awesome-markers.js",
    "leaflet_css": f"{VENDOR}/leaflet/dist/leaflet.css",
    "bootstrap_css": f"{VENDOR}/bootstrap/dist/css/bootstrap.min.css",
    "awesome_markers_font_css": f"{VENDOR}/@fortawesome/fontawesome-free/css/all.min.css",
    "awesome_markers_css": f"{VENDOR}/leaflet.awesome-markers/dist/leaflet.awesome-markers.css",
    "leaflet-heat.js": f"{FOLIUM}/leaflet_heat.min.js",
    "vectorgrid": f"{VENDOR}/leaflet.vectorgrid/dist/Leaflet.VectorGrid.bundled.min.js",
}
# Added by branca at render time, outside folium's asset lists: rewritten in the rendered page.
HARD_CODED = {"https://cdnjs.cloudflare.com/ajax/libs/d3/3.5.5/d3.min.js": f"{VENDOR}/d3/d3.min.js"}
EXTERNAL = re.compile(r"""<(?:script|link)[^>]+(?:src|href)=["'](?:https?:)?//[^"']+""", re.IGNORECASE)
UNUSED = {"glyphicons_css", "awesome_rotate_css"}  # Bootstrap 3 glyphs and rotated markers: gridmap uses neither


def _localise(element: Element) -> None:
    for attr in ("default_js", "default_css"):
        assets = getattr(element, attr, None)
        if not assets:
            continue
        local = []
        for name, url in assets:
            if name in UNUSED:
                continue
            if name not in LOCAL:
                raise ValueError(f"no local copy of {name} ({url}); add it to frontend/package.json and LOCAL")
            local.append((name, LOCAL[name]))
        setattr(element, attr, local)  # on the instance: other maps are untouched
    for child in element._children.values():  # noqa: SLF001 - branca keeps children here
        _localise(child)


def render_offline(m: folium.Map) -> str:
    """The map as a standalone HTML page whose scripts and stylesheets all come from this app."""
    _localise(m)
    figure = m.get_root()
    assert isinstance(figure, Figure)
    html: str = figure.render()
    for url, local in HARD_CODED.items():
        html = html.replace(url, local)
    found = EXTERNAL.search(html)
    if found:
        raise ValueError(f"the map would load from another host: {found.group(0)}; add a local copy in assets.py")
    return html
