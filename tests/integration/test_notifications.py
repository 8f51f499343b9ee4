"""通知 through the API as each role: new tasks within scope, returns, deadlines told once, read/unread, the event
stream, and webhooks against real receivers on 127.0.0.1 (retried with backoff, never blocking an action)."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import count
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select, text

from gridmap.api.main import create_app
from gridmap.auth.service import create_user
from gridmap.db.cluster import LocalCluster
from gridmap.db.models import Role, WebhookDelivery
from gridmap.db.session import session_scope
from gridmap.ingest.service import import_files
from gridmap.partition.service import partition_db
from gridmap.settings import NotifySettings, Settings
from tests.conftest import NANJING_OSM, make_database

pytestmark = pytest.mark.db
_days = count()
USERS = [
    ("worker1", Role.grid_worker, None, 0),
    ("worker2", Role.grid_worker, None, 1),
    ("community", Role.community, None, None),
    ("command", Role.command, None, None),
    ("sanitation", Role.department, "环卫所", None),
    ("chengguan", Role.department, "城管执法中队", None),
    ("admin", Role.admin, None, None),
]


UNITS = {Role.community: "000000000000", Role.command: "000000000"}  # the test plan's 社区/街道 (no NBS codes)


class Clock:
    """The workflow's clock, moved by the test; each test starts on a day of its own."""

    def __init__(self) -> None:
        self.now = datetime(2026, 5, 4, 1, 0, tzinfo=UTC) + timedelta(days=next(_days) * 3)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(scope="module")
def world(cluster: LocalCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    url = make_database(cluster, "notify_test")
    settings = Settings(
        home=tmp_path_factory.mktemp("home"),
        database_url=url,
        secret_key="test-secret-key-that-is-long-enough-for-hs256",
        notify=NotifySettings(enabled=False),
    )
    from sqlalchemy import create_engine

    engine = create_engine(url)
    with session_scope(engine) as session:
        import_files(session=session, settings=settings, paths=[NANJING_OSM])
        partition_db(session=session, params=settings.partition, publish=True)
        codes = list(session.scalars(text("SELECT code FROM grids ORDER BY code")).all())
        for name, role, dept, grid in USERS:
            grids = [codes[grid]] if grid is not None else None
            create_user(
                session=session,
                username=name,
                password="secret",
                role=role,
                department=dept,
                grids=grids,
                weak_password=True,
                unit_code=UNITS.get(role),
            )
        spots = session.execute(
            text("SELECT code, ST_X(p), ST_Y(p) FROM (SELECT code, ST_PointOnSurface(geom) p FROM grids) g")
        ).all()
    yield {"engine": engine, "settings": settings, "codes": codes, "spots": {c: (x, y) for c, x, y in spots}}
    engine.dispose()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def client(world: dict[str, Any], clock: Clock) -> Iterator[TestClient]:
    with TestClient(create_app(world["settings"], engine=world["engine"], clock=clock)) as c:
        yield c


_tokens: dict[str, dict[str, str]] = {}


def auth(client: TestClient | httpx.Client, user: str) -> dict[str, str]:
    if user not in _tokens:
        body = client.post("/api/auth/token", data={"username": user, "password": "secret"}).json()
        _tokens[user] = {"Authorization": f"Bearer {body['access_token']}"}
    return _tokens[user]


def report(
    client: TestClient | httpx.Client, world: dict[str, Any], grid: int, by: str = "community", category: str = ""
) -> int:
    """A new report in grid ``grid``, of another category each time (a duplicate would be merged, not told)."""
    lon, lat = world["spots"][world["codes"][grid]]
    body = {"category": category or next(_categories), "lon": lon, "lat": lat}
    response = client.post("/api/requests", json=body, headers=auth(client, by))
    assert response.status_code == 201 and response.json()["status"] == "reported", response.text
    return int(response.json()["id"])


def _cycle() -> Iterator[str]:
    while True:
        yield from ("garbage", "noise", "pets", "stairwell_clutter", "broken_facility", "facade_falling")


_categories = _cycle()


def do(client: TestClient | httpx.Client, rid: int, user: str, action: str, **body: Any) -> None:
    response = client.post(f"/api/requests/{rid}/actions", json={"action": action} | body, headers=auth(client, user))
    assert response.status_code == 200, response.text


def scan(client: TestClient) -> None:
    client.app.state.notifier.scan_once()  # type: ignore[attr-defined]


def told(client: TestClient, user: str, rid: int) -> list[tuple[str, str | None]]:
    """(kind, stage) of the user's 通知 about request ``rid``, oldest first."""
    items = client.get("/api/notifications?limit=200", headers=auth(client, user)).json()["items"]
    return [(i["kind"], i["stage"]) for i in reversed(items) if i["request_id"] == rid]


def test_a_new_report_is_a_task_for_its_grid_worker_only(client: TestClient, world: dict[str, Any]) -> None:
    rid = report(client, world, grid=0)
    scan(client)
    assert told(client, "worker1", rid) == [("new_task", None)]
    assert told(client, "worker2", rid) == []  # another grid's task
    assert told(client, "community", rid) == []  # the grid has its worker (and community reported it)
    item = client.get("/api/notifications", headers=auth(client, "worker1")).json()["items"][0]
    assert item["title"].startswith("新任务 · ") and item["url"] == f"/requests/{rid}" and item["status"] == "reported"
    scan(client)
    assert told(client, "worker1", rid) == [("new_task", None)]  # once


def test_a_report_in_a_grid_without_worker_goes_to_the_community(client: TestClient, world: dict[str, Any]) -> None:
    rid = report(client, world, grid=5, by="worker1")
    scan(client)
    assert told(client, "community", rid) == [("new_task", None)]
    assert told(client, "worker1", rid) == [] and told(client, "worker2", rid) == []


def test_each_step_tells_who_must_act_next(client: TestClient, world: dict[str, Any]) -> None:
    rid = report(client, world, grid=0)
    do(client, rid, "worker1", "take")
    do(client, rid, "worker1", "escalate")
    assert told(client, "community", rid) == [("new_task", None)]
    do(client, rid, "community", "triage", size="big")
    assert told(client, "command", rid) == [("new_task", None)]
    do(client, rid, "command", "dispatch", department="环卫所")
    assert told(client, "sanitation", rid) == [("new_task", None)]
    assert told(client, "chengguan", rid) == []  # not its case
    do(client, rid, "sanitation", "return", reason="不属于本所职责")
    assert told(client, "command", rid) == [("new_task", None), ("returned", None)]
    back = client.get("/api/notifications", headers=auth(client, "command")).json()["items"][0]
    assert back["reason"] == "不属于本所职责" and back["title"].startswith("退单") and back["actor"] == "sanitation"
    do(client, rid, "command", "dispatch", department="环卫所")
    do(client, rid, "sanitation", "accept")
    do(client, rid, "sanitation", "resolve")
    assert told(client, "worker1", rid) == [("new_task", None)]  # 核查 by the grid worker
    assert told(client, "sanitation", rid) == [("new_task", None), ("new_task", None)]  # dispatched twice
    do(client, rid, "worker1", "reject", reason="垃圾仍未清运")
    assert told(client, "sanitation", rid)[-1] == ("returned", None)  # 核查不通过: back to the department
    assert told(client, "worker1", rid) == [("new_task", None)]  # own work is not news


def test_stages_due_soon_and_overdue_are_told_once(client: TestClient, world: dict[str, Any], clock: Clock) -> None:
    rid = report(client, world, grid=0)
    scan(client)
    clock.now += timedelta(minutes=21)  # respond limit 30 min: 9 min left is more than a quarter
    scan(client)
    assert told(client, "worker1", rid) == [("new_task", None)]
    clock.now += timedelta(minutes=2)  # 7 min left
    scan(client)
    scan(client)
    assert told(client, "worker1", rid) == [("new_task", None), ("due_soon", "respond")]
    due = client.get("/api/notifications", headers=auth(client, "worker1")).json()["items"][0]
    assert due["title"].startswith("即将超时 · 响应") and due["due"].startswith("2026-")
    assert told(client, "community", rid) == []
    clock.now += timedelta(minutes=8)
    scan(client)
    scan(client)
    assert told(client, "worker1", rid)[-1] == ("overdue", "respond")
    assert told(client, "community", rid) == [("overdue", "respond")]  # a late response escalates to the 社区
    assert len(told(client, "worker1", rid)) == 3


def test_a_late_acceptance_is_told_per_dispatch(client: TestClient, world: dict[str, Any], clock: Clock) -> None:
    rid = report(client, world, grid=1, by="worker1", category="garbage")  # an hour to accept
    for user, action, extra in (
        ("worker2", "escalate", {}),
        ("community", "triage", {"size": "big"}),
        ("command", "dispatch", {"department": "环卫所"}),
    ):
        do(client, rid, user, action, **extra)
    clock.now += timedelta(hours=2)  # past the hour to accept (garbage)
    scan(client)
    accept = [k for k in told(client, "sanitation", rid) if k[1] == "accept"]
    assert accept == [("overdue", "accept")]
    do(client, rid, "sanitation", "return", reason="非本所职责")
    do(client, rid, "command", "dispatch", department="环卫所")
    clock.now += timedelta(hours=2)
    scan(client)
    assert [k for k in told(client, "sanitation", rid) if k[1] == "accept"] == [("overdue", "accept")] * 2


def test_read_and_unread(client: TestClient, world: dict[str, Any]) -> None:
    headers = auth(client, "worker2")
    client.post("/api/notifications/read", json={"all": True}, headers=headers)
    first, second = report(client, world, grid=1), report(client, world, grid=1)
    scan(client)
    assert client.get("/api/notifications/unread-count", headers=headers).json() == {"unread": 2}
    page = client.get("/api/notifications?unread=true&limit=1", headers=headers).json()
    assert page["total"] == 2 and page["unread"] == 2 and page["count"] == 1
    assert page["items"][0]["request_id"] == second and page["items"][0]["read"] is False
    other = client.get("/api/notifications", headers=auth(client, "worker1")).json()["items"][0]["id"]
    marked = client.post("/api/notifications/read", json={"ids": [page["items"][0]["id"], other]}, headers=headers)
    assert marked.json() == {"marked": 1, "unread": 1}  # another user's 通知 is not touched
    left = client.get("/api/notifications?unread=true", headers=headers).json()
    assert [i["request_id"] for i in left["items"]] == [first] and left["total"] == 1
    everything = client.get("/api/notifications", headers=headers).json()
    assert everything["total"] > 1 and everything["items"][0]["read"] is True
    assert client.post("/api/notifications/read", json={"all": True}, headers=headers).json()["unread"] == 0
    for body in ({}, {"all": True, "ids": [1]}, {"ids": "x"}):
        bad = client.post("/api/notifications/read", json=body, headers=headers)
        assert bad.status_code == 422, body
    assert "请给出" in client.post("/api/notifications/read", json={}, headers=headers).json()["detail"]
    assert client.get("/api/notifications").status_code == 401


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveServer:
    """The app served by uvicorn on 127.0.0.1 in a thread (event streams need a real server)."""

    def __init__(self, app: FastAPI) -> None:
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=_free_port(), log_level="warning", timeout_graceful_shutdown=1)
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        self.base = f"http://127.0.0.1:{self.server.config.port}"
        self.app = app

    def close(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


@pytest.fixture
def live(world: dict[str, Any], clock: Clock) -> Iterator[Callable[[NotifySettings], LiveServer]]:
    servers: list[LiveServer] = []

    def start(notify: NotifySettings) -> LiveServer:
        settings = world["settings"].model_copy(update={"notify": notify})
        servers.append(LiveServer(create_app(settings, engine=world["engine"], clock=clock)))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def _events(lines: Iterator[str]) -> Iterator[tuple[str, dict[str, Any]]]:
    name = ""
    for line in lines:
        if line.startswith("event: "):
            name = line[7:]
        elif line.startswith("data: "):
            yield name, json.loads(line[6:])


def test_the_event_stream_pushes_a_new_task(
    world: dict[str, Any], live: Callable[[NotifySettings], LiveServer]
) -> None:
    server = live(NotifySettings(enabled=False, keepalive_seconds=0.5))
    with httpx.Client(base_url=server.base, timeout=10) as http:
        rid = report(http, world, grid=0, by="worker1")
        do(http, rid, "worker1", "take")
        with http.stream("GET", "/api/notifications/stream", headers=auth(http, "community")) as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            events = _events(stream.iter_lines())
            name, first = next(events)
            assert name == "unread"
            started = time.monotonic()
            while not server.app.state.notifier.listening.is_set() and time.monotonic() - started < 5:
                time.sleep(0.05)
            # Other requests are served while the stream is open, and the escalation is pushed to it.
            assert http.get("/api/notifications/unread-count", headers=auth(http, "community")).status_code == 200
            do(http, rid, "worker1", "escalate")
            name, pushed = next(events)
            waited = time.monotonic() - started
    assert name == "notification" and pushed["unread"] == first["unread"] + 1
    assert [(i["request_id"], i["kind"]) for i in pushed["items"]] == [(rid, "new_task")]
    assert waited < 5


class Receiver:
    """An HTTP receiver on 127.0.0.1 that answers 500 to the first ``failures`` posts, then 200 (a robot's reply)."""

    def __init__(self, failures: int = 0, reply: dict[str, Any] | None = None) -> None:
        self.posts: list[tuple[str, dict[str, Any]]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                receiver.posts.append((self.path, body))
                ok = len(receiver.posts) > failures
                self.send_response(200 if ok else 500)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(json.dumps(reply or {"errcode": 0, "errmsg": "ok"}).encode())

            def log_message(self, *args: Any) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.http.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}/robot/send?access_token=secret-key"

    def close(self) -> None:
        self.http.shutdown()
        self.http.server_close()


def _add_hook(http: httpx.Client | TestClient, **body: Any) -> dict[str, Any]:
    response = http.post("/api/webhooks", json=body, headers=auth(http, "admin"))
    assert response.status_code == 201, response.text
    return dict(response.json())


def _deliveries(world: dict[str, Any], hook_id: int) -> list[WebhookDelivery]:
    with session_scope(world["engine"]) as session:
        return list(session.scalars(select(WebhookDelivery).where(WebhookDelivery.webhook_id == hook_id)))


def _until(check: Callable[[], bool], seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _remove(http: httpx.Client, hook_id: int) -> None:
    assert http.delete(f"/api/webhooks/{hook_id}", headers=auth(http, "admin")).status_code == 204


def test_a_webhook_failing_twice_is_delivered_once_after_retries(
    world: dict[str, Any], live: Callable[[NotifySettings], LiveServer]
) -> None:
    receiver = Receiver(failures=2)
    server = live(NotifySettings(scan_seconds=3600, report_seconds=3600, retry_base_seconds=0.2, outbox_seconds=0.1))
    community = world["codes"][0][:12]
    with httpx.Client(base_url=server.base, timeout=10) as http:
        hook = _add_hook(http, name="XX社区群", unit_kind="community", unit=community, url=receiver.url, format="wecom")
        assert hook["url"].endswith("access_token=****") and hook["deliveries"]["pending"] == 0
        rid = report(http, world, grid=0, by="worker1")
        do(http, rid, "worker1", "escalate")
        _until(lambda: [d.status for d in _deliveries(world, hook["id"])] == ["delivered"])
        time.sleep(1)  # nothing more is sent once delivered
        [delivery] = _deliveries(world, hook["id"])
        listed = next(h for h in http.get("/api/webhooks", headers=auth(http, "admin")).json() if h["id"] == hook["id"])
        _remove(http, hook["id"])
    receiver.close()
    assert len(receiver.posts) == 3 and delivery.attempts == 3 and delivery.last_error is None
    path, body = receiver.posts[-1]
    assert path == "/robot/send?access_token=secret-key" and receiver.posts[0][1] == body
    assert body["msgtype"] == "markdown" and set(body["markdown"]) == {"content"}
    assert body["markdown"]["content"].startswith("**新任务 · ") and f"/requests/{rid}" in body["markdown"]["content"]
    assert listed["deliveries"] == {"pending": 0, "delivered": 1, "failed": 0}


def test_a_receiver_that_is_down_never_breaks_an_action(
    world: dict[str, Any], live: Callable[[NotifySettings], LiveServer]
) -> None:
    quick = {"retry_base_seconds": 0.1, "outbox_seconds": 0.1, "max_attempts": 3}
    server = live(NotifySettings(scan_seconds=3600, report_seconds=3600, **quick))
    down = f"http://127.0.0.1:{_free_port()}/hook"  # nothing listens there
    with httpx.Client(base_url=server.base, timeout=10) as http:
        hook = _add_hook(http, name="城管群", unit_kind="department", unit="环卫所", url=down, format="json")
        rid = report(http, world, grid=1, by="worker2")
        do(http, rid, "worker2", "escalate")
        do(http, rid, "community", "triage", size="big")
        started = time.monotonic()
        do(http, rid, "command", "dispatch", department="环卫所")
        took = time.monotonic() - started
        _until(lambda: [d.status for d in _deliveries(world, hook["id"])] == ["failed"])
        [delivery] = _deliveries(world, hook["id"])
        state = http.get(f"/api/requests/{rid}", headers=auth(http, "command")).json()["status"]
        _remove(http, hook["id"])
    assert took < 1 and state == "dispatched"
    assert delivery.attempts == 3 and "Connection refused" in (delivery.last_error or "")


def test_dingtalk_and_json_bodies(world: dict[str, Any], live: Callable[[NotifySettings], LiveServer]) -> None:
    ding, plain = Receiver(), Receiver()
    server = live(NotifySettings(scan_seconds=3600, report_seconds=3600, outbox_seconds=0.1))
    grid = world["codes"][1]
    with httpx.Client(base_url=server.base, timeout=10) as http:
        one = _add_hook(
            http, name="钉钉群", unit_kind="street", unit=grid[:9], url=ding.url, format="dingtalk", secret="SEC123"
        )
        two = _add_hook(
            http, name="系统", unit_kind="grid", unit=grid, url=plain.url, format="json", kinds=["returned"]
        )
        rid = report(http, world, grid=1, by="worker2")
        do(http, rid, "worker2", "escalate")
        do(http, rid, "community", "triage", size="big")
        do(http, rid, "command", "dispatch", department="环卫所")
        do(http, rid, "sanitation", "return", reason="不属于本所")
        _until(lambda: len(ding.posts) == 4 and len(plain.posts) == 1)  # 上报社区, 分单, 派单, 退单
        _remove(http, one["id"])
        _remove(http, two["id"])
    ding.close()
    plain.close()
    titles = sorted(body["markdown"]["title"].split(" · ")[0] for _, body in ding.posts)
    assert titles == ["新任务", "新任务", "新任务", "退单"]
    path, body = next(post for post in ding.posts if post[1]["markdown"]["title"].startswith("退单"))
    assert "&timestamp=" in path and "&sign=" in path and one["signed"] is True
    assert body["msgtype"] == "markdown" and body["markdown"]["title"].startswith("退单 · ")
    assert "> 原因：不属于本所" in body["markdown"]["text"]
    event = plain.posts[0][1]
    assert event["event"] == "returned" and event["request_id"] == rid and event["reason"] == "不属于本所"
    assert event["status"] == "returned" and "reporter_phone" not in event


def test_webhooks_are_for_admins_and_checked(client: TestClient, world: dict[str, Any]) -> None:
    good = {"name": "群", "unit_kind": "community", "unit": world["codes"][0][:12], "url": "https://x.test/h"}
    refused = client.post("/api/webhooks", json=good | {"format": "json"}, headers=auth(client, "command"))
    assert refused.status_code == 403
    cases = [
        ({"unit": "123"}, "12 位数字"),
        ({"unit_kind": "department", "unit": "没有这个部门"}, "未知部门"),
        ({"format": "slack"}, "格式须为"),
        ({"url": "ftp://x"}, "地址须为"),
        ({"unit_kind": "city"}, "单位类型"),
        ({"kinds": ["all"]}, "未知通知类型"),
    ]
    for change, needle in cases:
        response = client.post("/api/webhooks", json=good | {"format": "json"} | change, headers=auth(client, "admin"))
        assert response.status_code == 422 and needle in response.json()["detail"], (change, response.text)
    assert client.get("/api/webhooks", headers=auth(client, "admin")).json() == []
    assert client.delete("/api/webhooks/999999", headers=auth(client, "admin")).status_code == 404
