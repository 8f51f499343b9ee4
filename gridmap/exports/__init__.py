"""Exports offices use, and the import of surveyed household counts from a 社区's Excel 台账.

网格台账 in Excel, a plan version as GeoPackage or GeoJSON.
"""
