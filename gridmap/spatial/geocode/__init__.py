"""Offline geocoding of Chinese addresses and building names to buildings and grids."""
