"""The OGC service answers JSON only: tipg's HTML pages load scripts from CDNs and OSM's tile servers.

A browser's ``Accept: text/html`` is answered as if it asked for JSON; ``f=html`` is a 406 saying so.
"""

from __future__ import annotations

from urllib.parse import parse_qs

from starlette.types import ASGIApp, Receive, Scope, Send

from gridmap.api.errors import error_response

REFUSAL = "本服务只提供 JSON / GeoJSON / this service answers JSON and GeoJSON only: use f=json or f=geojson"


class JsonOnly:
    """Drop HTML from what a request accepts; refuse ``f=html``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Rewrite the Accept header of HTTP requests (other scopes pass through)."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        formats = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("f", [])
        if any(f.lower() == "html" for f in formats):
            await error_response(406, REFUSAL, "NotAcceptable")(scope, receive, send)
            return
        headers = [(k, v) for k, v in scope["headers"] if k != b"accept"]
        accept = next((v for k, v in scope["headers"] if k == b"accept"), b"")
        if b"html" in accept:
            accept = b"application/geo+json, application/json;q=0.9"
        await self.app({**scope, "headers": [*headers, (b"accept", accept)] if accept else headers}, receive, send)
