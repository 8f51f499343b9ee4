"""Folium maps as pure functions of GeoDataFrames, served offline (every asset from a local copy)."""
