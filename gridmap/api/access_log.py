"""The access log (``gridmap serve --access-log``) never writes a resident's link token.

Links made today carry the token in the fragment (``#token=…``), which browsers do not send; links made before
carry it as ``?token=…``, and uvicorn writes the request line, query string included. Whoever reads the log
could open and rate that resident's request, so the value is replaced by ``***`` before the line is written.
"""

from __future__ import annotations

import logging
import re

SECRET_PARAMS = re.compile(r"(?i)([?&](?:token|access_token)=)[^&\s\"#]*")
ACCESS_LOGGER = "uvicorn.access"


def redacted(line: str) -> str:
    """``line`` with the value of every ``token=`` / ``access_token=`` query parameter replaced by ``***``."""
    return SECRET_PARAMS.sub(r"\1***", line)


class RedactTokens(logging.Filter):
    """Rewrites a log record's message arguments (uvicorn passes the path with its query string as one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Keep every record, its token values replaced."""
        if isinstance(record.msg, str):
            record.msg = redacted(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redacted(a) if isinstance(a, str) else a for a in record.args)
        return True


def redact_access_log() -> None:
    """Put the filter on uvicorn's access logger (once per process)."""
    logger = logging.getLogger(ACCESS_LOGGER)
    if not any(isinstance(f, RedactTokens) for f in logger.filters):
        logger.addFilter(RedactTokens())
