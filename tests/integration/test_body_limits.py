"""Oversize request bodies are refused at the door (413) before they are read, on a live server (uvicorn)."""

from __future__ import annotations

import json
import select
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn
from sqlalchemy import create_engine

from gridmap.api.main import create_app
from gridmap.db.cluster import LocalCluster
from gridmap.settings import Settings
from tests.conftest import make_database

pytestmark = pytest.mark.db
MB = 1_000_000


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def port(cluster: LocalCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    url = make_database(cluster, "body_limits_test")
    engine = create_engine(url)
    secret = "body-limits-secret-key-long-enough-x"
    settings = Settings(home=tmp_path_factory.mktemp("home"), database_url=url, secret_key=secret)
    number = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings, engine=engine), port=number, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    yield number
    server.should_exit = True
    thread.join(timeout=10)
    engine.dispose()


def _head(port: int, path: str, framing: str, kind: str = "multipart/form-data; boundary=x") -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: {kind}\r\n{framing}\r\n\r\n".encode())
    return s


def _answer(s: socket.socket) -> tuple[int, Any]:
    data = b""
    try:
        while b"\r\n\r\n" not in data or len(data.split(b"\r\n\r\n", 1)[1]) < int(
            data.lower().split(b"content-length: ", 1)[1].split(b"\r\n", 1)[0]
        ):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    except (TimeoutError, IndexError):
        return 0, None  # no answer: the server is waiting for the body
    head, body = data.split(b"\r\n\r\n", 1)
    return int(head.split()[1]), json.loads(body)


def test_a_declared_300_mb_photo_is_refused_before_a_byte_of_it_is_sent(port: int) -> None:
    """The 413 comes from the headers alone (before: the server waited for and read all 300 MB first)."""
    with _head(port, "/public/api/requests/1/photos?token=x", f"Content-Length: {300 * MB}") as s:
        status, body = _answer(s)
    assert (status, body and body["error"], body and "上限 10.6 MB" in body["detail"]) == (413, "TooLarge", True)


def test_a_chunked_body_is_cut_off_once_over_the_limit(port: int) -> None:
    """A photo upload without a length is counted as it streams: the server stops reading after ~10.6 MB of 60."""
    sent = 0
    with _head(port, "/public/api/requests/1/photos?token=x", "Transfer-Encoding: chunked") as s:
        part = b'--x\r\nContent-Disposition: form-data; name="photo"; filename="a.png"\r\n'
        part += b"Content-Type: image/png\r\n\r\n"
        piece = b"%x\r\n" % MB + b"0" * MB + b"\r\n"
        try:
            s.sendall(b"%x\r\n" % len(part) + part + b"\r\n")
            while sent < 60 * MB and not select.select([s], [], [], 0)[0]:
                s.sendall(piece)
                sent += MB
            s.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        status, _ = _answer(s)
    assert (status, sent < 30 * MB) == (413, True), sent


def test_a_json_body_over_one_mb_is_refused_whatever_the_route(port: int) -> None:
    with _head(port, "/api/requests", f"Content-Length: {2 * MB}", "application/json") as s:
        status, body = _answer(s)
    assert (status, body and "上限 1.0 MB" in body["detail"]) == (413, True)


def test_an_open311_body_over_64_kb_gets_an_open311_error_list(port: int) -> None:
    with _head(port, "/open311/v2/requests.json", "Content-Length: 100000", "application/x-www-form-urlencoded") as s:
        status, body = _answer(s)
    assert (status, body and body[0]["code"]) == (413, 413)
