from collections.abc import Iterator
from contextlib import nullcontext

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from gridmap import policy
from gridmap.api.deps import get_session, get_transactions
from gridmap.api.main import create_app
from gridmap.auth.service import create_user
from gridmap.db.models import Role
from gridmap.ingest.service import import_files
from gridmap.partition.service import partition_db
from gridmap.settings import Settings
from tests.conftest import NANJING_OSM

pytestmark = pytest.mark.db
ROLES = [Role.admin, Role.planner, Role.leader, Role.grid_worker, Role.department]


@pytest.fixture
def client(session: Session, settings: Settings, engine: Engine) -> Iterator[TestClient]:
    import_files(session=session, settings=settings, paths=[NANJING_OSM])
    partition_db(session=session, params=settings.partition, publish=True)
    for role in ROLES:
        create_user(
            session=session,
            username=role.value,
            password="secret",
            role=role,
            grids=["000000000000001"] if role is Role.grid_worker else None,
            weak_password=True,
        )
    app = create_app(settings, engine=engine)
    app.dependency_overrides[get_session] = lambda: session
    app.dependency_overrides[get_transactions] = lambda: lambda: nullcontext(session)
    with TestClient(app) as c:
        yield c


def _token(client: TestClient, user: str, password: str = "secret") -> dict[str, str]:
    response = client.post("/api/auth/token", data={"username": user, "password": password})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "bearer"
    return {"Authorization": f"Bearer {body['access_token']}"}


def test_healthz_needs_no_token(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}


def test_wrong_password_is_401(client: TestClient) -> None:
    response = client.post("/api/auth/token", data={"username": "leader", "password": "nope"})
    assert response.status_code == 401


PROTECTED = ["/api/stats", "/api/grids", "/api/me"]


@pytest.mark.parametrize("path", PROTECTED)
def test_every_api_route_needs_a_token(client: TestClient, path: str) -> None:
    assert client.get(path).status_code == 401
    assert client.get(path, headers={"Authorization": "Bearer forged.token.value"}).status_code == 401


@pytest.mark.parametrize(
    ("role", "status"),
    [(Role.admin, 200), (Role.planner, 200), (Role.leader, 200), (Role.grid_worker, 403), (Role.department, 403)],
)
def test_stats_role_check(client: TestClient, role: Role, status: int) -> None:
    assert client.get("/api/stats", headers=_token(client, role.value)).status_code == status


def test_stats_counts(client: TestClient) -> None:
    stats = client.get("/api/stats", headers=_token(client, "leader")).json()
    assert stats["buildings"] == 1277
    assert stats["streets"] >= 300
    assert stats["grids"] >= 30
    assert stats["compounds"] == 11
    assert stats["requests"] == 0
    assert 18_000 < stats["households"] < 20_500


def test_grid_worker_sees_only_own_grids(client: TestClient) -> None:
    own = client.get("/api/grids", headers=_token(client, "grid_worker")).json()
    assert [f["properties"]["grid_code"] for f in own["features"]] == ["000000000000001"]
    everything = client.get("/api/grids", headers=_token(client, "planner")).json()
    assert len(everything["features"]) >= 30
    assert all(f["geometry"]["type"] == "Polygon" for f in everything["features"])


def test_grids_bbox_filter(client: TestClient) -> None:
    headers = _token(client, "planner")
    corner = client.get("/api/grids", params={"bbox": "118.770,32.040,118.772,32.042"}, headers=headers).json()
    everything = client.get("/api/grids", headers=headers).json()
    assert 0 < len(corner["features"]) < len(everything["features"])
    assert client.get("/api/grids", params={"bbox": "nonsense"}, headers=headers).status_code == 422


def test_login_page_sets_httponly_cookie(client: TestClient) -> None:
    assert "登录" in client.get("/login").text
    response = client.post("/login", data={"username": "leader", "password": "secret"}, follow_redirects=False)
    assert response.status_code == 303
    assert "httponly" in response.headers["set-cookie"].lower()
    assert client.get("/api/stats").status_code == 200  # the cookie now authenticates
    assert "网格化管理" in client.get("/").text


def test_bad_login_redirects_back_with_error(client: TestClient) -> None:
    response = client.post("/login", data={"username": "leader", "password": "x"}, follow_redirects=False)
    assert response.status_code == 303 and "error" in response.headers["location"]


def test_home_redirects_to_login_without_cookie(client: TestClient) -> None:
    response = client.get("/", follow_redirects=False)
    assert response.status_code in (302, 307) and response.headers["location"] == "/login"


def test_me_reports_role_and_grids(client: TestClient) -> None:
    me = client.get("/api/me", headers=_token(client, "grid_worker")).json()
    assert (me["username"], me["role"], me["grids"]) == ("grid_worker", "grid_worker", ["000000000000001"])
    assert me["grid_names"] == [{"code": "000000000000001", "name": "000000000街道 000社区 第1网格"}]
    assert me["display_name"] == "网格员 · 000000000街道 000社区 第1网格"
    assert [link["href"] for link in me["links"]] == [p.href for p in policy.links(Role.grid_worker)]
    assert [link["href"] for link in me["links"]][:3] == ["/", "/report", "/maps/my-grid"]


PUBLIC = {"/healthz", "/login", "/api/auth/token", "/logout"}
# pages send a visitor to the sign-in: the policy's pages, maps, a request's page and the notifications
PAGE_PATHS = (*(p.href for p in policy.PAGES if p.href != "/"), "/maps/", "/requests/", "/notifications")


def test_every_route_but_the_public_ones_refuses_anonymous_users(client: TestClient) -> None:
    from fastapi.routing import APIRoute

    def walk(routes: list[object]) -> list[APIRoute]:
        found: list[APIRoute] = []
        for r in routes:
            inner = getattr(r, "original_router", None)  # FastAPI keeps included routers lazily
            found.extend(walk(inner.routes) if inner is not None else [r] if isinstance(r, APIRoute) else [])
        return found

    checked = 0
    for route in walk(client.app.routes):  # type: ignore[attr-defined]
        if route.path in PUBLIC or route.path.startswith(("/open311/", "/public/")) or route.path == "/sw.js":
            # Open311 is the public intake; /public/ the residents' pages; /sw.js the form's offline worker
            continue
        for method in route.methods:
            response = client.request(method, route.path, follow_redirects=False)
            if route.path == "/":
                assert response.status_code in (302, 307) and response.headers["location"] == "/login"
            elif route.path.startswith(PAGE_PATHS):
                assert response.status_code == 303 and response.headers["location"].startswith("/login?next=")
            else:
                assert response.status_code == 401, (method, route.path, response.status_code)
            checked += 1
    assert checked >= 4


def test_openapi_is_served_to_signed_in_users(client: TestClient) -> None:
    doc = client.get("/api/openapi.json", headers=_token(client, "grid_worker")).json()
    assert "/api/stats" in doc["paths"]


def test_planner_locks_repartitions_and_publishes(client: TestClient) -> None:
    headers = _token(client, "planner")
    created = client.post("/api/plans/drafts", headers=headers)
    assert created.status_code == 201, created.text
    plan = created.json()
    assert plan["status"] == "draft"
    before = {f["properties"]["grid_code"]: f for f in client.get("/api/grids", headers=headers).json()["features"]}
    code = sorted(before)[3]
    assert client.put(f"/api/plans/{plan['id']}/grids/{code}/lock", json={"locked": True}, headers=headers).json() == {
        "grid_code": code,
        "locked": True,
    }
    # A smaller target makes more, smaller grids everywhere but in the locked one.
    metrics = client.post(
        f"/api/plans/{plan['id']}/repartition", json={"target": 200, "min": 160, "max": 240}, headers=headers
    ).json()
    assert metrics["grids"] > len(before)
    assert [v for v in metrics["violations"] if v["rule"] not in ("size",)] == []
    refused = client.post(f"/api/plans/{plan['id']}/publish", headers=headers)
    assert refused.status_code == 409 and "需重新配备" in refused.json()["detail"]  # new grids need staff
    published = client.post(f"/api/plans/{plan['id']}/publish", json={"confirm": True}, headers=headers).json()
    assert published["status"] == "published"
    after = {f["properties"]["grid_code"]: f for f in client.get("/api/grids", headers=headers).json()["features"]}
    assert len(after) == metrics["grids"]
    assert after[code]["properties"]["households"] == before[code]["properties"]["households"]
    assert after[code]["properties"]["locked"] is True
    assert len(set(after)) == len(after)  # codes stay unique around the locked one
    # Published plans are read-only.
    again = client.post(f"/api/plans/{plan['id']}/repartition", json={}, headers=headers)
    assert again.status_code == 409 and "draft" in again.json()["detail"]


def test_repartition_rejects_a_bad_band(client: TestClient) -> None:
    headers = _token(client, "planner")
    plan = client.post("/api/plans/drafts", headers=headers).json()
    response = client.post(f"/api/plans/{plan['id']}/repartition", json={"min": 400}, headers=headers)
    assert response.status_code == 422 and "min <= target <= max" in response.json()["detail"]


@pytest.mark.parametrize("role", [Role.leader, Role.grid_worker, Role.department])
def test_only_planners_edit_plans(client: TestClient, role: Role) -> None:
    assert client.post("/api/plans/drafts", headers=_token(client, role.value)).status_code == 403
