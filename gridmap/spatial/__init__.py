"""Pure geometry: no database, no web."""
