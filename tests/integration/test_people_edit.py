"""Correcting and ending people records on real PostGIS: edits re-sealed and masked, scope, a re-geocoded home,
posts ended into history, records removed with their personal data, and an audit that holds no values."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from cryptography.fernet import Fernet
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from gridmap.api.main import create_app
from gridmap.auth.service import create_user
from gridmap.db.cluster import LocalCluster
from gridmap.db.models import Role
from gridmap.db.session import session_scope
from gridmap.ingest.service import import_files
from gridmap.maps.data import plan_buildings
from gridmap.partition.service import partition_db
from gridmap.people.pii import Cipher
from gridmap.settings import PeopleSettings, Settings
from tests.conftest import NANJING_OSM, make_database

pytestmark = pytest.mark.db
PREFIX = "320102003000"
OLD_PHONE, NEW_PHONE, ID_NUMBER = "13812345678", "13987654321", "32010219800101123X"
USERS = {
    "edit_worker": (Role.grid_worker, None),
    "edit_community": (Role.community, PREFIX),
    "edit_other": (Role.community, "320102003001"),
}
_tokens: dict[str, dict[str, str]] = {}


def auth(client: TestClient, user: str) -> dict[str, str]:
    if user not in _tokens:
        body = client.post("/api/auth/token", data={"username": user, "password": "secret"}).json()
        _tokens[user] = {"Authorization": f"Bearer {body['access_token']}"}
    return _tokens[user]


@pytest.fixture(scope="module")
def world(cluster: LocalCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    url = make_database(cluster, "people_edit_test")
    engine = create_engine(url)
    key = Fernet.generate_key().decode()
    settings = Settings(
        home=tmp_path_factory.mktemp("home"), database_url=url, secret_key="people-edit-secret-key-long-enough",
        people=PeopleSettings(pii_key=key),
    )
    with session_scope(engine) as session:
        import_files(session=session, settings=settings, paths=[NANJING_OSM])
        partition_db(session=session, params=settings.partition, publish=True, code_prefix=PREFIX)
        codes = list(session.scalars(text("SELECT code FROM grids ORDER BY code")).all())
        for name, (role, unit) in USERS.items():
            create_user(
                session=session, username=name, password="secret", role=role, unit_code=unit, weak_password=True,
                grids=[codes[0]] if role == Role.grid_worker else None,
            )
        buildings = list(session.scalars(
            text(
                "SELECT a.building_id FROM grid_assignments a JOIN grids g ON g.id = a.grid_id "
                "JOIN buildings b ON b.id = a.building_id WHERE g.code = :code AND b.is_residential "
                "ORDER BY a.building_id LIMIT 6"
            ),
            {"code": codes[0]},
        ))
        plan = session.execute(text("SELECT id FROM grid_plans WHERE status = 'published'")).scalar_one()
    app = create_app(settings, engine=engine, clock=lambda: datetime(2026, 5, 4, 1, 0, tzinfo=UTC))
    with TestClient(app) as client:
        yield {"client": client, "engine": engine, "codes": codes, "buildings": buildings, "key": key, "plan": plan}
    engine.dispose()


def _person(world: dict[str, Any], name: str, post: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    client = world["client"]
    posts = [post or {"role": "grid_worker", "grid_code": world["codes"][0]}]
    body = {"name": name, "phone": OLD_PHONE, "id_number": ID_NUMBER, "posts": posts} | extra
    r = client.post("/api/people", json=body, headers=auth(client, "edit_community"))
    assert r.status_code == 201, r.text
    return dict(r.json())


def _head(world: dict[str, Any], name: str, building: int) -> dict[str, Any]:
    return _person(world, name, {"role": "building_head", "building_id": building})


def _patch(world: dict[str, Any], person: int, body: dict[str, Any], user: str = "edit_community") -> Any:
    client = world["client"]
    return client.patch(f"/api/people/{person}", json=body, headers=auth(client, user))


def _row(world: dict[str, Any], sql: str, **params: Any) -> Any:
    with world["engine"].connect() as conn:
        return conn.execute(text(sql), params).one_or_none()


def test_an_edited_phone_is_listed_masked_and_stored_sealed(world: dict[str, Any]) -> None:
    person = _person(world, "改号员")["id"]
    r = _patch(world, person, {"phone": NEW_PHONE})
    listed = world["client"].get("/api/people", headers=auth(world["client"], "edit_community")).json()
    token, dump = _row(world, "SELECT phone_enc, t::text FROM people t WHERE id = :p", p=person)
    shown = next(p["phone"] for p in listed if p["id"] == person)
    assert (r.status_code, shown, NEW_PHONE in dump, Cipher(world["key"]).open(token)) == (
        200, "139****4321", False, NEW_PHONE,
    )


def test_another_community_may_not_edit(world: dict[str, Any]) -> None:
    person = _person(world, "别社区")["id"]
    assert _patch(world, person, {"name": "改名"}, user="edit_other").status_code == 403


def test_a_grid_worker_may_not_edit(world: dict[str, Any]) -> None:
    person = _person(world, "网格员不可改")["id"]
    assert _patch(world, person, {"name": "改名"}, user="edit_worker").status_code == 403


def test_an_address_that_cannot_be_placed_is_a_422_and_nothing_changes(world: dict[str, Any]) -> None:
    person = _person(world, "地址员")["id"]
    before = _row(world, "SELECT t::text FROM people t WHERE id = :p", p=person)
    r = _patch(world, person, {"name": "新名字", "phone": NEW_PHONE, "address": "火星基地不存在路999号"})
    after = _row(world, "SELECT t::text FROM people t WHERE id = :p", p=person)
    assert (r.status_code, after == before) == (422, True)


def test_a_new_home_address_is_geocoded_to_its_building(world: dict[str, Any]) -> None:
    building, street, number = _row(
        world,
        "SELECT b.id, b.addr_street, b.addr_housenumber FROM buildings b JOIN grid_assignments a "
        "ON a.building_id = b.id WHERE b.addr_street IS NOT NULL AND b.addr_housenumber ~ '^[0-9]+$' AND "
        "(SELECT count(*) FROM buildings o WHERE o.addr_street = b.addr_street "
        "AND o.addr_housenumber = b.addr_housenumber) = 1 ORDER BY b.id LIMIT 1",
    )
    person = _person(world, "搬家员")["id"]
    r = _patch(world, person, {"address": f"南京市玄武区{street}{number}号"})
    home = _row(world, "SELECT home_building_id FROM people WHERE id = :p", p=person)[0]
    assert (r.status_code, home) == (200, building)


def test_ending_a_building_head_post_keeps_its_history_and_the_building_shows_no_head(
    world: dict[str, Any],
) -> None:
    client, building = world["client"], world["buildings"][0]
    made = _head(world, "搬走楼长", building)
    post = made["posts"][0]["id"]
    r = client.delete(f"/api/people/{made['id']}/posts/{post}", headers=auth(client, "edit_community"))
    history = client.get(f"/api/people/buildings/{building}/history", headers=auth(client, "edit_community")).json()
    with session_scope(world["engine"]) as session:
        heads = plan_buildings(session, world["plan"], [world["codes"][0]]).set_index("building_id")["head"]
    former = [(h["name"], h["post"]["post_id"], h["post"]["ended_at"][:10]) for h in history]
    assert (r.status_code, r.json()["posts"], former, heads[building]) == (
        200, [], [("搬走楼长", post, "2026-05-04")], "未登记 not recorded",
    )


def test_a_new_building_head_ends_the_previous_post(world: dict[str, Any]) -> None:
    client, building = world["client"], world["buildings"][1]
    old = _head(world, "老楼长", building)["id"]
    _head(world, "新楼长", building)
    listed = {p["id"]: p for p in client.get("/api/people", headers=auth(client, "edit_community")).json()}
    assert ([p["building_id"] for p in listed[old]["past_posts"]], listed[old]["posts"]) == ([building], [])


def test_a_person_holding_a_post_cannot_be_removed(world: dict[str, Any]) -> None:
    client = world["client"]
    person = _person(world, "在任者")["id"]
    assert client.delete(f"/api/people/{person}", headers=auth(client, "edit_community")).status_code == 409


def test_removing_a_person_deletes_their_sealed_data(world: dict[str, Any]) -> None:
    client = world["client"]
    made = _head(world, "删除者", world["buildings"][2])
    headers = auth(client, "edit_community")
    client.delete(f"/api/people/{made['id']}/posts/{made['posts'][0]['id']}", headers=headers)
    token = _row(world, "SELECT phone_enc FROM people WHERE id = :p", p=made["id"])[0]
    r = client.delete(f"/api/people/{made['id']}", headers=headers)
    with world["engine"].connect() as conn:
        dump = conn.execute(text("SELECT coalesce(string_agg(t::text, ''), '') FROM people t")).scalar_one()
        kept = conn.execute(
            text("SELECT person_id FROM grid_post_history WHERE building_id = :b"), {"b": world["buildings"][2]}
        ).all()
    assert (r.status_code, token in dump, "删除者" in dump, kept) == (200, False, False, [(None,)])


def test_the_audit_names_the_fields_but_holds_no_values(world: dict[str, Any]) -> None:
    person = _person(world, "审计员")["id"]
    _patch(world, person, {"phone": NEW_PHONE, "id_number": "320102199001011234", "work_unit": "某单位"})
    with world["engine"].connect() as conn:
        rows = conn.execute(
            text("SELECT action, fields, username, t::text FROM people_changes t WHERE person_id = :p ORDER BY id"),
            {"p": person},
        ).all()
    secrets = (OLD_PHONE, NEW_PHONE, ID_NUMBER, "320102199001011234", "审计员", "某单位")
    leaked = [s for s in secrets for row in rows if s in row[3]]
    assert ([(a, f, u) for a, f, u, _ in rows], leaked) == (
        [("create", ["id_number", "name", "phone"], "edit_community"),
         ("update", ["id_number", "phone", "work_unit"], "edit_community")],
        [],
    )


def test_an_empty_name_is_a_422(world: dict[str, Any]) -> None:
    person = _person(world, "无名者")["id"]
    assert _patch(world, person, {"name": None}).status_code == 422


def test_a_bad_phone_changes_nothing(world: dict[str, Any]) -> None:
    person = _person(world, "错号者")["id"]
    r = _patch(world, person, {"name": "改了名", "phone": "abc"})
    name = _row(world, "SELECT name FROM people WHERE id = :p", p=person)[0]
    assert (r.status_code, name) == (422, "错号者")


def test_ending_a_post_of_another_person_is_a_404(world: dict[str, Any]) -> None:
    client = world["client"]
    one, other = _person(world, "甲"), _person(world, "乙")
    url = f"/api/people/{one['id']}/posts/{other['posts'][0]['id']}"
    r = client.delete(url, headers=auth(client, "edit_community"))
    assert r.status_code == 404
