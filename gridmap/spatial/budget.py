"""Vertex budgets of what maps and layers send: no feature drawn with more vertices than a screen can show.

A feature over the cap is simplified (Douglas-Peucker, ``ST_Simplify``: 0.3 s for 2 million vertices, where the
topology-preserving variant takes 7 s) to a tolerance of its own extent ÷ cap: a 10-million-vertex circle comes
back with about a hundred vertices; if that is still over the cap, its bounding box stands in for it. Simplify
by zoom *after* fitting, never before: that is what would take the time. Features under
the cap (every real building, street and grid) are sent as they are. The same rule in SQLAlchemy and in SQL text.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, case, func
from sqlalchemy.orm import QueryableAttribute

FEATURE_VERTICES = 10_000  # far more than any building, street or grid outline; a screen has ~2,000 px across


def fitted(geom: ColumnElement[Any] | QueryableAttribute[Any], cap: int = FEATURE_VERTICES) -> ColumnElement[Any]:
    """``geom`` itself when it has at most ``cap`` vertices, else simplified to fit, else its bounding box."""
    extent = func.ST_XMax(geom) - func.ST_XMin(geom) + func.ST_YMax(geom) - func.ST_YMin(geom)
    simplified = func.ST_Simplify(geom, extent / cap, True)
    return case(
        (func.ST_NPoints(geom) <= cap, geom),
        (func.ST_NPoints(simplified) <= cap, simplified),
        else_=func.ST_Envelope(geom),
    )


def fitted_sql(geom: str, cap: int = FEATURE_VERTICES) -> str:
    """:func:`fitted` as SQL text, for queries written as text (``geom``: a column or expression)."""
    extent = f"(ST_XMax({geom}) - ST_XMin({geom}) + ST_YMax({geom}) - ST_YMin({geom}))"
    simplified = f"ST_Simplify({geom}, {extent} / {int(cap)}, true)"
    return (
        f"CASE WHEN ST_NPoints({geom}) <= {int(cap)} THEN {geom} "
        f"WHEN ST_NPoints({simplified}) <= {int(cap)} THEN {simplified} ELSE ST_Envelope({geom}) END"
    )
