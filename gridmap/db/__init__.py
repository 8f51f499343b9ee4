"""The only package that knows SQLAlchemy and GeoAlchemy2."""
