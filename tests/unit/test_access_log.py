"""The access log never writes a resident's link token (gridmap.api.access_log)."""

from __future__ import annotations

import logging

import pytest

from gridmap.api.access_log import ACCESS_LOGGER, redact_access_log


def test_uvicorns_request_line_is_written_without_the_token(caplog: pytest.LogCaptureFixture) -> None:
    redact_access_log()
    redact_access_log()  # once per process, however many apps are built
    logger = logging.getLogger(ACCESS_LOGGER)
    with caplog.at_level(logging.INFO, logger=ACCESS_LOGGER):
        # the call uvicorn makes for each request (client, method, path with its query string, version, status)
        line = '%s - "%s %s HTTP/%s" %d'
        logger.info(line, "10.0.0.7:5050", "GET", "/public/requests/7?token=s3cr3t&x=1", "1.1", 200)
        logger.info(line, "10.0.0.7:5050", "GET", "/api/x?access_token=abc", "1.1", 200)
    assert [r.getMessage() for r in caplog.records] == [
        '10.0.0.7:5050 - "GET /public/requests/7?token=***&x=1 HTTP/1.1" 200',
        '10.0.0.7:5050 - "GET /api/x?access_token=*** HTTP/1.1" 200',
    ]
    assert sum(type(f).__name__ == "RedactTokens" for f in logger.filters) == 1
