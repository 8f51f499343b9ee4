"""``python -m gridmap.cli``."""

from gridmap.cli.main import app

app()
