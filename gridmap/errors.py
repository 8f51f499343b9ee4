"""Domain errors. Only ``gridmap.api`` maps them to HTTP status codes."""

from __future__ import annotations


class GridmapError(Exception):
    """Base class: the message says what was wrong and how to fix it."""


class InvalidInput(GridmapError):
    """Input that cannot be used as given (a malformed file, a bad parameter)."""


class InvalidGeometry(InvalidInput):
    """A geometry that is invalid and could not be repaired."""


class CRSError(InvalidInput):
    """A missing, unknown or inconsistent coordinate reference system."""


class NotFound(GridmapError):
    """A referenced object does not exist."""


class Conflict(GridmapError):
    """The request conflicts with the current state (a duplicate, a published plan)."""


class PartitionInfeasible(GridmapError):
    """The partition rules cannot be met for this input."""


class DatabaseUnavailable(GridmapError):
    """The database cannot be reached or started."""


class Forbidden(GridmapError):
    """The user may not do this (a grid worker outside own grids, a department on another's case)."""


class TooManyRequests(GridmapError):
    """A client sent more requests than it may."""


class TooLarge(InvalidInput):
    """An upload above its size limit."""
