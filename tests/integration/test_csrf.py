"""The CSRF check on cookie-authenticated state changes: Origin and Sec-Fetch-Site."""

from collections.abc import Iterator
from contextlib import nullcontext

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from gridmap.api.deps import get_session, get_transactions
from gridmap.api.main import create_app
from gridmap.auth.service import create_user
from gridmap.db.models import Role
from gridmap.settings import AuthSettings, Settings

pytestmark = pytest.mark.db
PASSWORD = "Xinjiekou-2026-map"


def _client(session: Session, settings: Settings, engine: Engine) -> TestClient:
    app = create_app(settings, engine=engine)
    app.dependency_overrides[get_session] = lambda: session
    app.dependency_overrides[get_transactions] = lambda: lambda: nullcontext(session)
    return TestClient(app)


@pytest.fixture
def client(session: Session, settings: Settings, engine: Engine) -> Iterator[TestClient]:
    create_user(session=session, username="leader", password=PASSWORD, role=Role.leader)
    with _client(session, settings, engine) as c:
        response = c.post("/login", data={"username": "leader", "password": PASSWORD}, follow_redirects=False)
        assert response.status_code == 303  # signing in needs no Origin: there is no cookie yet
        yield c


def _still_signed_in(client: TestClient) -> bool:
    return client.get("/api/me").status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://testserver:8001"},  # another port of the same host
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "same-site", "Origin": "http://testserver"},
        {"Sec-Fetch-Site": "cross-site"},
        {},  # no way to tell where it came from
    ],
)
def test_a_cookie_state_change_from_elsewhere_is_refused(client: TestClient, headers: dict[str, str]) -> None:
    response = client.post("/api/auth/logout", headers=headers)
    assert response.status_code == 403
    assert response.json()["detail"].startswith("跨站请求被拒绝")
    assert _still_signed_in(client)  # the logout did not happen


@pytest.mark.parametrize("headers", [{"Origin": "http://testserver"}, {"Sec-Fetch-Site": "same-origin"}])
def test_a_same_origin_state_change_passes(client: TestClient, headers: dict[str, str]) -> None:
    assert client.post("/api/auth/logout", headers=headers).status_code == 204
    assert not _still_signed_in(client)


def test_a_bearer_token_needs_no_origin(client: TestClient) -> None:
    signed_in = client.post(
        "/api/auth/token", data={"username": "leader", "password": PASSWORD}, headers={"Origin": "http://testserver"}
    )
    token = signed_in.json()["access_token"]
    bearer = {"Authorization": f"Bearer {token}", "Origin": "https://evil.example"}
    assert client.post("/api/auth/logout", headers=bearer).status_code == 204


def test_another_authorization_scheme_does_not_bypass_the_check(client: TestClient) -> None:
    assert client.post("/api/auth/logout", headers={"Authorization": "Basic eDp4"}).status_code == 403


def test_public_open311_posts_without_the_cookie_keep_working(
    session: Session, settings: Settings, engine: Engine
) -> None:
    with _client(session, settings, engine) as anonymous:
        response = anonymous.post("/open311/v2/requests.json", data={}, headers={"Origin": "https://other.example"})
    assert response.status_code != 403


def test_behind_a_trusted_proxy_the_public_origin_counts(session: Session, settings: Settings, engine: Engine) -> None:
    create_user(session=session, username="leader", password=PASSWORD, role=Role.leader)
    proxied = settings.model_copy(update={"auth": AuthSettings(trusted_proxies=("testclient",))})
    with _client(session, proxied, engine) as c:
        c.post("/login", data={"username": "leader", "password": PASSWORD})
        forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "grid.example.gov.cn"}
        refused = c.post("/api/auth/logout", headers={**forwarded, "Origin": "http://testserver"})
        assert refused.status_code == 403
        passed = c.post("/api/auth/logout", headers={**forwarded, "Origin": "https://grid.example.gov.cn"})
        assert passed.status_code == 204
