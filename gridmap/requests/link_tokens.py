"""The resident's link token (查询/评价链接): a bearer secret shown once, stored only as its SHA-256.

The token in ``/public/requests/{id}?token=…`` lets whoever holds it follow the request, add photos while it is
已上报 and rate it (评单). The database keeps ``requests.rating_token`` = SHA-256 of the token (64 hex digits),
never the token: a copy of the database or of a backup opens no one's link. The token is answered once, to the
report that made it. A report sent with an ``Idempotency-Key`` (the residents' form always sends one) gets a token
derived from that key with the server's secret (HMAC-SHA256), so a retry whose first answer was lost on the way is
answered the same token, which the server does not keep; without a key the token is random. The key itself is
stored only as its HMAC too (:func:`stored_key`): a retry is told apart by the key, so a key kept in plain text
would let a copy of the database replay a report and be answered its token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from gridmap.auth.security import same_secret

_PURPOSE = b"gridmap resident link token"
TOKEN_BYTES = 24  # 32 url-safe characters
WRONG_LINK = "没有找到该事件,请检查链接是否完整 / no request for this link: check that it is complete"


def link_key(secret_key: str) -> bytes:
    """The key that derives link tokens, from the server's secret (a key of its own: not the JWT signing key)."""
    return hmac.new(secret_key.encode(), _PURPOSE, hashlib.sha256).digest()


def new_token(key: bytes | None = None, idempotency_key: str | None = None) -> str:
    """A link token: derived from ``idempotency_key`` with ``key`` when both are given, else random."""
    if key is None or idempotency_key is None:
        return secrets.token_urlsafe(TOKEN_BYTES)
    mac = hmac.new(key, _utf8(idempotency_key), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac[:TOKEN_BYTES]).decode()


def stored_key(key: bytes, idempotency_key: str | None) -> str | None:
    """What ``requests.idempotency_key`` holds for a resident's key: ``open311:`` and its HMAC in hex.

    Made with a key of its own (not the one that derives tokens), so that neither the key nor the token can be read
    from it; the prefix also keeps residents' keys apart from the server's own (``visit-…``).
    """
    if idempotency_key is None:
        return None
    own = hmac.new(key, b"idempotency key", hashlib.sha256).digest()
    return "open311:" + hmac.new(own, _utf8(idempotency_key), hashlib.sha256).hexdigest()


def token_digest(token: str) -> str:
    """What is stored for ``token``: its SHA-256 in hex (in SQL: ``encode(sha256(convert_to(t, 'UTF8')), 'hex')``)."""
    return hashlib.sha256(_utf8(token)).hexdigest()


def token_fits(stored: str | None, given: str) -> bool:
    """Whether ``given`` is the token whose digest is ``stored``, in constant time; any text may be given."""
    return same_secret(stored, token_digest(given))


def _utf8(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")  # a lone surrogate from a JSON body is text too, not an error
