"""Body size limits at the door: a request body over its limit is refused (413) before it is stored or read whole.

A declared ``Content-Length`` over the limit is answered at once, before a byte of the body is read (clients that
send ``Expect: 100-continue`` never send it). A body without a length (chunked) is counted as it streams in; once
over the limit the answer is 413 and the route sees the client as gone, so nothing it was doing is committed.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gridmap.settings import Settings


def _mb(size: int) -> str:
    return f"{size / 1e6:.1f} MB"


class BodyLimit:
    """Refuse request bodies over their limit: photos, Open311, everything else (a plain ASGI middleware)."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app, self.settings = app, settings

    def limit_for(self, scope: Scope) -> tuple[int, str, str]:
        """The limit of this request's body, what it is called in the message (中文, English)."""
        path: str = scope.get("path", "")
        if scope.get("method") == "POST" and path.endswith("/photos"):
            photo = self.settings.requests.max_photo_bytes + self.settings.limits.multipart_overhead_bytes
            return photo, "照片上传", "a photo upload"
        if path.startswith("/open311/"):
            return self.settings.requests.max_body_bytes, "Open311 请求", "an Open311 request"
        return self.settings.limits.body_bytes, "请求", "a request"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on with its body counted, or refuse it."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit, zh, en = self.limit_for(scope)
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            await _refuse(scope, send, f"{_mb(int(declared))}", limit, zh, en)
            return
        received = 0
        answered = False

        async def counted() -> Message:
            nonlocal received, answered
            if answered:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    answered = True
                    await _refuse(scope, send, f"over {_mb(limit)}", limit, zh, en)
                    return {"type": "http.disconnect"}
            return message

        async def unless_answered(message: Message) -> None:
            if not answered:
                await send(message)

        try:
            await self.app(scope, counted, unless_answered)
        except Exception:
            if not answered:  # the route failed on its own; after our 413 its failure to read the rest is expected
                raise


async def _refuse(scope: Scope, send: Send, size: str, limit: int, zh: str, en: str) -> None:
    message = f"{zh}体积 {size},超过上限 {_mb(limit)} / {en} body is {size}; the limit is {_mb(limit)}"
    content: Any = {"detail": message, "error": "TooLarge"}
    if str(scope.get("path", "")).startswith("/open311/"):
        content = [{"code": 413, "description": message}]
    body = json.dumps(content, ensure_ascii=False).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),  # the rest of the body is not read: this connection cannot carry another request
    ]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})
