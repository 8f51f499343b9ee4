"""Security headers on every response, and a Content-Security-Policy on every page.

A page may run only scripts from the app itself and the inline scripts it was served with: each inline
``<script>`` of an HTML response is allowed by its SHA-256 hash. A script that data smuggles into the page
later (an ``onerror=`` attribute in a tooltip, a ``<script>`` put in by ``innerHTML``) has no hash and does not
run. Map pages keep their inline styles (folium and Leaflet set them). Frames only from the app itself.
"""

from __future__ import annotations

import base64
import hashlib
import re
from urllib.parse import urlsplit

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

INLINE_SCRIPT = re.compile(rb"<script\b(?![^>]*\bsrc\s*=)[^>]*>(.*?)</script\s*>", re.S | re.I)
ALWAYS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "SAMEORIGIN",
    "Referrer-Policy": "same-origin",
    "Permissions-Policy": "geolocation=(self), camera=(self), microphone=()",
}


def tile_origin(template: str | None) -> str:
    """The origin of a tile URL template (``https://host:port``), or '' when there is none."""
    if not template:
        return ""
    parts = urlsplit(template)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme in {"http", "https"} and parts.netloc else ""


def policy(body: bytes, tiles: str) -> str:
    """The CSP of an HTML page: its own inline scripts by hash, everything else from this origin."""
    hashes = sorted(
        {
            "'sha256-" + base64.b64encode(hashlib.sha256(m.group(1)).digest()).decode() + "'"
            for m in INLINE_SCRIPT.finditer(body)
        }
    )
    images = " ".join(["'self'", "data:", "blob:", tiles]).strip()
    return "; ".join(
        [
            "default-src 'self'",
            "script-src " + " ".join(["'self'", *hashes]),
            "style-src 'self' 'unsafe-inline'",
            f"img-src {images}",
            "font-src 'self' data:",
            "connect-src 'self'",
            "worker-src 'self'",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'self'",
        ]
    )


class SecurityHeaders:
    """Pure ASGI middleware (no per-request task or body copy for non-HTML answers such as intake)."""

    def __init__(self, app: ASGIApp, *, tiles: str | None = None) -> None:
        self.app, self.tiles = app, tile_origin(tiles)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Add the headers; hold an HTML answer until its body is complete to hash its inline scripts."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        chunks: list[bytes] = []

        async def send_with_headers(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in ALWAYS.items():
                    headers.setdefault(name, value)
                if scope.get("scheme") == "https":
                    headers.setdefault("Strict-Transport-Security", "max-age=31536000")
                is_page = headers.get("content-type", "").startswith("text/html")
                if is_page and "content-security-policy" not in headers:
                    start = message  # held until the whole page is there to hash its scripts
                    return
                await send(message)
            elif message["type"] == "http.response.body" and start is not None:
                chunks.append(message.get("body", b""))
                if message.get("more_body", False):
                    return
                body = b"".join(chunks)
                MutableHeaders(scope=start)["Content-Security-Policy"] = policy(body, self.tiles)
                await send(start)
                await send({"type": "http.response.body", "body": body})
            else:
                await send(message)

        await self.app(scope, receive, send_with_headers)
