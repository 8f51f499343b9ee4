"""Buildings to grids: households, adjacency, solver, shapes, metrics."""
