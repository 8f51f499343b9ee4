"""No input makes a 5xx on the OGC API either: schemathesis over its own OpenAPI document (``/ogc/api``)."""

from __future__ import annotations

import os
from typing import Any

import schemathesis

from benchmarks.security.fuzz import fuzz

EXAMPLES = int(os.environ.get("GRIDMAP_FUZZ_EXAMPLES", "15"))


def test_no_input_makes_a_5xx_on_the_ogc_api(live: dict[str, Any]) -> None:
    headers = {"Authorization": f"Bearer {live['tokens']['worker']}"}
    schema = schemathesis.openapi.from_url(live["base"] + "/ogc/api", headers=headers)
    report = fuzz(schema, live["base"] + "/ogc", headers, EXAMPLES)
    assert report.cases > 50 and not report.server_errors and not report.off_shape, report
