"""CSRF: a state change made with the session cookie must come from one of our own pages.

Browsers send the session cookie with a form posted from any site (``SameSite=Lax`` spares only cross-site
sub-requests, not another port of the same host, which is the same *site*). So every POST/PUT/PATCH/DELETE that
carries the cookie and no ``Authorization`` header must say it comes from this origin: ``Sec-Fetch-Site:
same-origin`` (or ``none``, typed by the user), else an ``Origin`` equal to ours. Anything else is refused with 403
before the route runs, so nothing is stored. Requests without the cookie (Open311, scripts with a bearer token, the
first sign-in) are not affected: without the cookie a forged request has no authority.
"""

from __future__ import annotations

import json

from starlette.datastructures import Headers
from starlette.requests import HTTPConnection, cookie_parser
from starlette.types import ASGIApp, Receive, Scope, Send

from gridmap.api.client import scheme
from gridmap.api.deps import COOKIE
from gridmap.settings import Settings

UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
REFUSED = {
    "detail": "跨站请求被拒绝:请在本系统的页面上操作 / cross-origin request refused: "
    "a signed-in change must come from gridmap's own pages (or use an Authorization: Bearer token)",
    "error": "CrossOriginRequest",
}


class SameOriginMiddleware:
    """Refuse cookie-authenticated state changes that do not come from our own origin (a plain ASGI middleware)."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app, self.settings = app, settings

    def _allowed(self, scope: Scope, headers: Headers) -> bool:
        fetch_site = headers.get("sec-fetch-site")
        if fetch_site is not None:
            return fetch_site in ("same-origin", "none")
        origin = headers.get("origin")
        if origin is None or origin == "null":
            return False
        connection = HTTPConnection(scope)
        host = headers.get("host", "")
        if connection.client and connection.client.host in self.settings.auth.trusted_proxies:
            host = headers.get("x-forwarded-host", host).split(",")[0].strip()
        return origin.lower() == f"{scheme(connection, self.settings)}://{host}".lower()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on, or answer 403 for a cross-origin one made with the cookie."""
        if scope["type"] != "http" or scope["method"] not in UNSAFE:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        with_cookie = COOKIE in cookie_parser(headers.get("cookie", ""))
        bearer = headers.get("authorization", "").lower().startswith("bearer ")
        if not with_cookie or bearer or self._allowed(scope, headers):
            await self.app(scope, receive, send)
            return
        body = json.dumps(REFUSED, ensure_ascii=False).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 403,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})
