"""Open standards for GIS clients: OGC API - Features (tipg, under ``/ogc``) and Mapbox vector tiles (``/tiles``)."""
