"""The ``gridmap`` command."""
