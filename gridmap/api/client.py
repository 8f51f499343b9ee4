"""Who is on the other end: the client's address and whether it reached us over HTTPS.

``X-Forwarded-For`` and ``X-Forwarded-Proto`` are believed only from the addresses in
``settings.auth.trusted_proxies`` (a reverse proxy that terminates TLS); anyone else could forge them.
"""

from __future__ import annotations

from starlette.requests import HTTPConnection

from gridmap.settings import Settings


def _peer(request: HTTPConnection) -> str:
    return request.client.host if request.client else "unknown"


def _trusted(request: HTTPConnection, settings: Settings) -> bool:
    return _peer(request) in settings.auth.trusted_proxies


def client_address(request: HTTPConnection, settings: Settings) -> str:
    """The client's address: the nearest untrusted hop of ``X-Forwarded-For`` behind a trusted proxy."""
    if not _trusted(request, settings):
        return _peer(request)
    hops = [h.strip() for h in request.headers.get("x-forwarded-for", "").split(",") if h.strip()]
    for hop in reversed(hops):
        if hop not in settings.auth.trusted_proxies:
            return hop
    return _peer(request)


def scheme(request: HTTPConnection, settings: Settings) -> str:
    """``https`` or ``http`` as the browser sees it (a trusted proxy's ``X-Forwarded-Proto`` wins)."""
    forwarded = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    if forwarded in ("http", "https") and _trusted(request, settings):
        return forwarded
    return request.url.scheme


def is_https(request: HTTPConnection, settings: Settings) -> bool:
    """Whether cookies must be ``Secure``: the browser reached us over HTTPS."""
    return scheme(request, settings) == "https"
