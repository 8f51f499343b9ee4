"""Sign-in as an attacker and a careful operator see it: lockout, timing, sessions, logout, the sign-in log."""

import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from gridmap.api.deps import get_session, get_transactions
from gridmap.api.main import create_app
from gridmap.auth.service import create_user
from gridmap.auth.signin import purge_sign_ins
from gridmap.db.models import Role, SignInEvent
from gridmap.errors import InvalidInput
from gridmap.settings import AuthSettings, Settings

pytestmark = pytest.mark.db
GOOD = "Xinjiekou-2026-map"
AppFactory = Callable[..., TestClient]


@pytest.fixture
def make_client(session: Session, settings: Settings, engine: Engine) -> Iterator[AppFactory]:
    """Clients of apps on the test session (each app is one server process with its own caches)."""
    create_user(session=session, username="leader", password=GOOD, role=Role.leader)
    opened: list[TestClient] = []

    def make(**changes: object) -> TestClient:
        app = create_app(settings.model_copy(update=changes), engine=engine)
        app.dependency_overrides[get_session] = lambda: session
        app.dependency_overrides[get_transactions] = lambda: lambda: nullcontext(session)
        client = TestClient(app).__enter__()
        opened.append(client)
        return client

    yield make
    for client in opened:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client: AppFactory) -> TestClient:
    return make_client()


def _sign_in(client: TestClient, password: str, user: str = "leader", **headers: str) -> int:
    return client.post("/api/auth/token", data={"username": user, "password": password}, headers=headers).status_code


def _bearer(client: TestClient) -> dict[str, str]:
    response = client.post("/api/auth/token", data={"username": "leader", "password": GOOD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def test_five_failures_lock_the_account_even_for_the_right_password(client: TestClient) -> None:
    assert [_sign_in(client, f"guess{i}") for i in range(5)] == [401] * 5
    response = client.post("/api/auth/token", data={"username": "leader", "password": GOOD})
    assert response.status_code == 429
    assert 890 <= int(response.headers["Retry-After"]) <= 900
    assert "登录失败次数过多" in response.json()["detail"]


def test_the_login_form_says_how_long_to_wait(client: TestClient) -> None:
    for i in range(5):
        client.post("/login", data={"username": "leader", "password": f"guess{i}"}, follow_redirects=False)
    response = client.post("/login", data={"username": "leader", "password": GOOD}, follow_redirects=False)
    assert response.status_code == 429 and "15 分钟后再试" in response.text
    assert "set-cookie" not in response.headers


def test_the_lock_ends_after_the_lockout(client: TestClient, session: Session) -> None:
    for i in range(5):
        _sign_in(client, f"guess{i}")
    session.execute(text("UPDATE sign_in_events SET at = at - interval '15 minutes 1 second'"))
    assert _sign_in(client, GOOD) == 200


def test_a_success_resets_the_account_count(client: TestClient) -> None:
    for _ in range(2):
        assert [_sign_in(client, f"guess{i}") for i in range(4)] == [401] * 4
        assert _sign_in(client, GOOD) == 200


def test_unknown_names_are_locked_like_known_ones(client: TestClient) -> None:
    assert [_sign_in(client, "x", user="nobody") for _ in range(6)] == [401] * 5 + [429]


def test_one_client_guessing_many_names_is_locked(make_client: AppFactory) -> None:
    client = make_client(auth=AuthSettings(trusted_proxies=("testclient",)))
    attacker, other = {"X-Forwarded-For": "203.0.113.9"}, {"X-Forwarded-For": "198.51.100.7"}
    assert [_sign_in(client, "x", user=f"user{i}", **attacker) for i in range(20)] == [401] * 20
    assert _sign_in(client, GOOD, **attacker) == 429
    assert _sign_in(client, GOOD, **other) == 200


def test_an_untrusted_peer_cannot_pick_its_address(client: TestClient) -> None:
    for i in range(20):
        _sign_in(client, "x", user=f"user{i}", **{"X-Forwarded-For": f"203.0.113.{i}"})
    assert _sign_in(client, GOOD, **{"X-Forwarded-For": "198.51.100.7"}) == 429


def test_unknown_users_take_as_long_as_known_ones(make_client: AppFactory) -> None:
    client = make_client(auth=AuthSettings(max_failures=100, max_failures_per_client=100))

    def seconds(user: str) -> float:
        start = time.perf_counter()
        assert _sign_in(client, "wrong-password", user=user) == 401
        return time.perf_counter() - start

    known, unknown = [], []
    for _ in range(7):
        known.append(seconds("leader"))
        unknown.append(seconds("nobody-at-all"))
    assert statistics.median(unknown) > 0.7 * statistics.median(known), (known, unknown)


def test_attempts_are_logged_with_who_where_and_how(client: TestClient, session: Session) -> None:
    _sign_in(client, "wrong")
    _sign_in(client, GOOD)
    rows = session.execute(text("SELECT username, client, outcome, via, user_id IS NOT NULL FROM sign_in_events"))
    assert sorted(map(tuple, rows)) == [
        ("leader", "testclient", "failure", "token", True),
        ("leader", "testclient", "success", "token", True),
    ]


def test_logout_revokes_the_token_at_once(client: TestClient) -> None:
    headers = _bearer(client)
    assert client.get("/api/me", headers=headers).status_code == 200
    assert client.post("/api/auth/logout", headers=headers).status_code == 204
    assert client.get("/api/me", headers=headers).status_code == 401


def test_logout_reaches_other_server_processes_within_the_cache_time(make_client: AppFactory) -> None:
    here, there = make_client(), make_client(user_cache_seconds=1.0)
    headers = _bearer(here)
    assert there.get("/api/me", headers=headers).status_code == 200  # cached there now
    assert here.post("/api/auth/logout", headers=headers).status_code == 204
    time.sleep(1.1)
    assert there.get("/api/me", headers=headers).status_code == 401


def test_the_form_logout_revokes_the_cookie(client: TestClient) -> None:
    client.post("/login", data={"username": "leader", "password": GOOD}, follow_redirects=False)
    cookie = client.cookies["gridmap_token"]
    assert client.get("/api/me").status_code == 200
    same_origin = {"Origin": "http://testserver"}
    assert client.post("/logout", headers=same_origin, follow_redirects=False).status_code == 303
    client.cookies.set("gridmap_token", cookie)  # a copy kept by whoever had it
    assert client.get("/api/me").status_code == 401


def test_an_idle_session_ends(make_client: AppFactory, session: Session) -> None:
    client = make_client(user_cache_seconds=0.0)
    headers = _bearer(client)
    session.execute(text("UPDATE auth_sessions SET last_seen_at = last_seen_at - interval '29 minutes'"))
    assert client.get("/api/me", headers=headers).status_code == 200  # used: 30 more minutes from now
    session.execute(text("UPDATE auth_sessions SET last_seen_at = last_seen_at - interval '30 minutes 1 second'"))
    assert client.get("/api/me", headers=headers).status_code == 401


@pytest.mark.parametrize(
    ("base", "headers", "secure"),
    [
        ("http://testserver", {}, False),
        ("https://testserver", {}, True),
        ("http://testserver", {"X-Forwarded-Proto": "https"}, False),
    ],
)
def test_cookies_are_secure_over_https(client: TestClient, base: str, headers: dict[str, str], secure: bool) -> None:
    client.base_url = client.base_url.copy_with(scheme=base.split(":")[0])
    response = client.post(
        "/login", data={"username": "leader", "password": GOOD}, headers=headers, follow_redirects=False
    )
    assert response.status_code == 303
    assert ("secure" in response.headers["set-cookie"].lower()) is secure


def test_a_trusted_proxy_makes_cookies_secure(make_client: AppFactory) -> None:
    client = make_client(auth=AuthSettings(trusted_proxies=("testclient",)))
    response = client.post(
        "/login",
        data={"username": "leader", "password": GOOD},
        headers={"X-Forwarded-Proto": "https"},
        follow_redirects=False,
    )
    assert "secure" in response.headers["set-cookie"].lower()


@pytest.mark.parametrize(
    ("password", "problem"),
    [("demo", "至少 10 个字符"), ("alllowercase", "至少 3 类"), ("Lihua-Pass-2026", "不能包含用户名")],
)
def test_new_passwords_follow_the_policy(session: Session, password: str, problem: str) -> None:
    with pytest.raises(InvalidInput, match=problem):
        create_user(session=session, username="lihua", password=password, role=Role.planner)


def test_the_policy_is_configurable_and_the_demo_may_waive_it(session: Session) -> None:
    loose = AuthSettings(password_min_length=4, password_min_classes=1)
    create_user(session=session, username="wang", password="abcd", role=Role.planner, policy=loose)
    create_user(session=session, username="demo", password="demo", role=Role.planner, weak_password=True)


def test_purge_keeps_the_last_180_days(session: Session) -> None:
    now = datetime.now(UTC)
    for days in (181, 179):
        at = now - timedelta(days=days)
        session.add(SignInEvent(at=at, username="x", client="1.2.3.4", outcome="failure", via="token"))
    session.flush()
    assert purge_sign_ins(session=session, days=180, now=now) == (1, 0)
    assert session.scalar(text("SELECT count(*) FROM sign_in_events")) == 1
