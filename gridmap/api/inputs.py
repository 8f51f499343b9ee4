"""NUL characters in a URL are refused at the door: PostgreSQL cannot store them and nothing here needs them.

Text fields in bodies are caught where they meet the database (``errors``: 422, transaction rolled back); a NUL
in the path or the query string is refused before any route runs, with the same message.
"""

from __future__ import annotations

import json
from urllib.parse import unquote_to_bytes

from starlette.types import ASGIApp, Receive, Scope, Send

from gridmap.api.errors import NUL_TEXT


def has_nul(scope: Scope) -> bool:
    """Whether the request's path or query string holds a NUL, raw or percent-encoded."""
    query: bytes = scope.get("query_string", b"")
    path: str = scope.get("path", "")
    return "\x00" in path or b"\x00" in query or b"\x00" in unquote_to_bytes(query.replace(b"+", b" "))


class RefuseNul:
    """Answer 422 to a request with a NUL in its path or query string (a plain ASGI middleware)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on, or refuse it."""
        if scope["type"] != "http" or not has_nul(scope):
            await self.app(scope, receive, send)
            return
        body = json.dumps({"detail": NUL_TEXT, "error": "InvalidInput"}, ensure_ascii=False).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 422, "headers": headers})
        await send({"type": "http.response.body", "body": body})
