"""The people of a grid on real PostGIS: 楼长 records, encrypted and masked personal data, logged reveals, 街巷长."""

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
from gridmap.partition.service import partition_db
from gridmap.people.pii import Cipher
from gridmap.settings import PeopleSettings, Settings
from tests.conftest import NANJING_OSM, make_database

pytestmark = pytest.mark.db
PREFIX = "320102003000"
PHONE, ID_NUMBER = "13812345678", "32010219800101123X"
USERS = {
    "worker1": (Role.grid_worker, None),
    "worker2": (Role.grid_worker, None),
    "community": (Role.community, PREFIX),
    "community_other": (Role.community, "320102003001"),
}
_tokens: dict[str, dict[str, str]] = {}


def auth(client: TestClient, user: str) -> dict[str, str]:
    if user not in _tokens:
        body = client.post("/api/auth/token", data={"username": user, "password": "secret"}).json()
        _tokens[user] = {"Authorization": f"Bearer {body['access_token']}"}
    return _tokens[user]


@pytest.fixture(scope="module")
def world(cluster: LocalCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    url = make_database(cluster, "people_test")
    engine = create_engine(url)
    key = Fernet.generate_key().decode()
    settings = Settings(
        home=tmp_path_factory.mktemp("home"), database_url=url, secret_key="people-test-secret-key-long-enough",
        people=PeopleSettings(pii_key=key, supervision_phone="025-12345"),
    )
    with session_scope(engine) as session:
        import_files(session=session, settings=settings, paths=[NANJING_OSM])
        partition_db(session=session, params=settings.partition, publish=True, code_prefix=PREFIX)
        codes = list(session.scalars(text("SELECT code FROM grids ORDER BY code")).all())
        for name, (role, unit) in USERS.items():
            grids = {"worker1": [codes[0]], "worker2": [codes[1]]}.get(name)
            create_user(
                session=session, username=name, password="secret", role=role, grids=grids, unit_code=unit,
                weak_password=True,
            )
        building = session.execute(
            text(
                "SELECT a.building_id FROM grid_assignments a JOIN grids g ON g.id = a.grid_id "
                "WHERE g.code = :code ORDER BY a.building_id LIMIT 1"
            ),
            {"code": codes[0]},
        ).scalar_one()
    app = create_app(settings, engine=engine, clock=lambda: datetime(2026, 5, 4, 1, 0, tzinfo=UTC))
    with TestClient(app) as client:
        yield {"client": client, "engine": engine, "codes": codes, "building": building, "key": key, "url": url}
    engine.dispose()


def _worker_head(world: dict[str, Any]) -> dict[str, Any]:
    """A 网格员 records the 楼长 of a building of own grid through the old free-text API."""
    client = world["client"]
    r = client.put(
        f"/api/buildings/{world['building']}/head", json={"name": "张楼长", "phone": PHONE},
        headers=auth(client, "worker1"),
    )
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_the_old_head_api_makes_a_building_head_record(world: dict[str, Any]) -> None:
    made = _worker_head(world)
    people = world["client"].get(
        "/api/people", params={"role": "building_head"}, headers=auth(world["client"], "community")
    ).json()
    heads = [(p["name"], post["building_id"], post["grid_code"]) for p in people for post in p["posts"]]
    assert (made["head_phone"], ("张楼长", world["building"], world["codes"][0]) in heads) == ("138****5678", True)


def test_the_phone_column_holds_no_plaintext(world: dict[str, Any]) -> None:
    _worker_head(world)
    with world["engine"].connect() as conn:
        stored = conn.execute(text("SELECT phone_enc FROM people WHERE name = '张楼长'")).scalar_one()
        dump = conn.execute(text("SELECT string_agg(t::text, '') FROM people t")).scalar_one()
    assert PHONE not in dump and Cipher(world["key"]).open(stored) == PHONE


def test_a_grid_worker_sees_masked_phones_and_exports_stay_masked(world: dict[str, Any]) -> None:
    _worker_head(world)
    client = world["client"]
    listed = client.get("/api/people", params={"grid_code": world["codes"][0]}, headers=auth(client, "worker1"))
    exported = client.get("/api/people/export.csv", headers=auth(client, "worker1"))
    phones = {p["phone"] for p in listed.json()}
    assert (PHONE in exported.text, "138****5678" in exported.text, phones) == (False, True, {"138****5678"})


def test_a_grid_worker_may_not_reveal(world: dict[str, Any]) -> None:
    person = _worker_head(world)["person_id"]
    body = {"field": "phone", "reason": "联系楼长"}
    r = world["client"].post(f"/api/people/{person}/reveal", json=body, headers=auth(world["client"], "worker1"))
    assert r.status_code == 403


def test_a_reveal_needs_a_reason(world: dict[str, Any]) -> None:
    person = _worker_head(world)["person_id"]
    body = {"field": "phone", "reason": ""}
    r = world["client"].post(f"/api/people/{person}/reveal", json=body, headers=auth(world["client"], "community"))
    assert r.status_code == 422


def test_a_reveal_shows_the_number_and_writes_a_log_row(world: dict[str, Any]) -> None:
    person = _worker_head(world)["person_id"]
    body = {"field": "phone", "reason": "通知楼长停水"}
    r = world["client"].post(f"/api/people/{person}/reveal", json=body, headers=auth(world["client"], "community"))
    with world["engine"].connect() as conn:
        log = conn.execute(
            text("SELECT username, field, reason FROM pii_reveals WHERE person_id = :p ORDER BY id DESC LIMIT 1"),
            {"p": person},
        ).one()
    assert (r.json()["value"], tuple(log)) == (PHONE, ("community", "phone", "通知楼长停水"))


def test_another_community_cannot_reveal(world: dict[str, Any]) -> None:
    person = _worker_head(world)["person_id"]
    body = {"field": "phone", "reason": "查看"}
    client = world["client"]
    r = client.post(f"/api/people/{person}/reveal", json=body, headers=auth(client, "community_other"))
    assert r.status_code == 404


def test_id_numbers_are_sealed_and_masked(world: dict[str, Any]) -> None:
    client = world["client"]
    body = {"name": "李网格长", "phone": PHONE, "id_number": ID_NUMBER, "office_phone": "025-84000000",
            "posts": [{"role": "grid_leader", "grid_code": world["codes"][0]}]}
    made = client.post("/api/people", json=body, headers=auth(client, "community"))
    with world["engine"].connect() as conn:
        stored = conn.execute(text("SELECT id_number_enc FROM people WHERE id = :i"), {"i": made.json()["id"]})
        token = stored.scalar_one()
    assert (made.json()["id_number"], made.json()["office_phone"], ID_NUMBER in token) == (
        "3201**********123X", "02584000000", False,
    )


def test_posts_outside_the_scope_are_refused_and_nothing_is_written(world: dict[str, Any]) -> None:
    client = world["client"]
    body = {"name": "越界", "posts": [{"role": "grid_worker", "grid_code": world["codes"][0]}]}
    r = client.post("/api/people", json=body, headers=auth(client, "community_other"))
    with world["engine"].connect() as conn:
        n = conn.execute(text("SELECT count(*) FROM people WHERE name = '越界'")).scalar_one()
    assert (r.status_code, n) == (403, 0)


def test_a_bad_phone_is_a_422(world: dict[str, Any]) -> None:
    client = world["client"]
    body = {"name": "王", "phone": "call me", "posts": [{"role": "volunteer", "grid_code": world["codes"][0]}]}
    assert client.post("/api/people", json=body, headers=auth(client, "community")).status_code == 422


def test_blocked_lane_reports_of_a_lane_go_to_its_head(world: dict[str, Any]) -> None:
    """worker2 heads a lane in worker1's grid: a 堵巷 report there appears in worker2's 待办, a garbage one not."""
    client, engine = world["client"], world["engine"]
    with engine.connect() as conn:
        street, lon, lat = conn.execute(
            text(
                "SELECT s.id, ST_X(p), ST_Y(p) FROM streets s JOIN grids g ON g.code = :code "
                "CROSS JOIN LATERAL ST_LineInterpolatePoint(ST_GeometryN(s.geom, 1), 0.5) p "
                "WHERE NOT s.is_barrier AND ST_Covers(g.geom, p) ORDER BY s.id LIMIT 1"
            ),
            {"code": world["codes"][0]},
        ).one()
    head = {"name": "赵街巷长", "username": "worker2", "posts": [{"role": "lane_head", "street_id": street}]}
    assert client.post("/api/people", json=head, headers=auth(client, "community")).status_code == 201
    ids = {}
    for category in ("blocked_lane", "garbage"):
        body = {"category": category, "description": f"街巷长测试 {category}", "lon": lon, "lat": lat}
        r = client.post("/api/requests", json=body, headers=auth(client, "worker1"))
        assert r.status_code == 201, r.text
        ids[category] = r.json()["id"]
    todo = client.get("/api/requests", params={"todo": "true"}, headers=auth(client, "worker2")).json()
    listed = {item["id"] for item in todo["items"]}
    assert (ids["blocked_lane"] in listed, ids["garbage"] in listed) == (True, False)


def test_migration_turns_free_text_heads_into_sealed_records(
    cluster: LocalCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    from alembic import command
    from alembic.config import Config

    from gridmap.db.session import MIGRATIONS
    from gridmap.settings import get_settings

    key = Fernet.generate_key().decode()
    monkeypatch.setenv("GRIDMAP_PEOPLE__PII_KEY", key)
    get_settings.cache_clear()
    cluster.ensure_database("people_migration_test")
    url = f"postgresql+psycopg2://postgres@127.0.0.1:{cluster.port}/people_migration_test"
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url)
    command.upgrade(cfg, "0006")
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO buildings (source_id, footprint_m2, is_residential, households, households_source, "
                "head_name, head_phone, geom) VALUES ('w1', 100, true, 10, 'estimated', '老楼长', :phone, "
                "ST_Multi(ST_Buffer(ST_SetSRID(ST_MakePoint(118.78, 32.04), 4326), 0.0001)))"
            ),
            {"phone": PHONE},
        )
    command.upgrade(cfg, "head")
    get_settings.cache_clear()
    with engine.connect() as conn:
        name, token, role = conn.execute(
            text("SELECT p.name, p.phone_enc, r.role FROM people p JOIN grid_posts r ON r.person_id = p.id")
        ).one()
    engine.dispose()
    assert (name, Cipher(key).open(token), role, PHONE in token) == ("老楼长", PHONE, "building_head", False)


def _addressed_building(world: dict[str, Any]) -> tuple[int, str, str]:
    """A building of a grid (not the first) that its street and number name alone: id, grid, address."""
    with world["engine"].connect() as conn:
        building, grid, street, number = conn.execute(
            text(
                "SELECT b.id, g.code, b.addr_street, b.addr_housenumber FROM buildings b "
                "JOIN grid_assignments a ON a.building_id = b.id JOIN grids g ON g.id = a.grid_id "
                "WHERE b.addr_street IS NOT NULL AND b.addr_housenumber ~ '^[0-9]+$' AND (SELECT count(*) FROM "
                "buildings o WHERE o.addr_street = b.addr_street AND o.addr_housenumber = b.addr_housenumber) = 1 "
                "ORDER BY g.code = :first, b.id LIMIT 1"
            ),
            {"first": world["codes"][0]},
        ).one()
    return int(building), str(grid), f"南京市玄武区{street}{number}号"


def _register(world: dict[str, Any], name: str, address: str, **extra: Any) -> dict[str, Any]:
    client = world["client"]
    body = {"name": name, "phone": "13900001111", "address": address, "availability": ["weekend"]} | extra
    r = client.post("/api/people/register", json=body, headers=auth(client, "community"))
    assert r.status_code == 201, r.text
    return dict(r.json())


def test_a_registered_party_member_is_geocoded_and_placed_in_the_right_grid(world: dict[str, Any]) -> None:
    client = world["client"]
    building, grid, address = _addressed_building(world)
    made = _register(world, "钱党员", address, work_unit="南京市某局")
    person = made["person"]["id"]
    board = client.get("/api/people/placement", headers=auth(client, "community")).json()
    suggested = next(p["suggested_grid"] for p in board["people"] if p["person_id"] == person)
    placed = client.post(
        "/api/people/placement", json={"placements": [{"person_id": person, "grid_code": suggested}]},
        headers=auth(client, "community"),
    )
    grid_people = client.get("/api/people", params={"grid_code": grid, "role": "party_member"},
                             headers=auth(client, "community")).json()
    assert (made["person"]["home"] is not None, made["home_grid_code"], suggested, placed.json()["placed"],
            person in {p["id"] for p in grid_people}) == (True, grid, grid, 1, True)
    with world["engine"].connect() as conn:
        home = conn.execute(text("SELECT home_building_id FROM people WHERE id = :p"), {"p": person}).scalar_one()
    assert home == building


def test_placement_gives_each_grid_its_share(world: dict[str, Any]) -> None:
    """Volunteers all living in one building: one per grid while the share is one, the home grid to one of them."""
    client = world["client"]
    _, home, address = _addressed_building(world)
    n = len(world["codes"])
    made = [_register(world, f"志愿者{i}", address, kind="volunteer")["person"]["id"] for i in range(n)]
    board = client.get("/api/people/placement", headers=auth(client, "community")).json()
    grids = {p["person_id"]: p["suggested_grid"] for p in board["people"] if p["person_id"] in made}
    nearest_first = sorted(grids.values(), key=lambda g: next(p["distance_m"] for p in board["people"]
                                                                if p["suggested_grid"] == g and p["person_id"] in made))
    assert (board["shares"]["volunteer"], sorted(grids.values()), nearest_first[0]) == (1, sorted(world["codes"]), home)


def test_an_address_that_cannot_be_found_is_a_422_and_nothing_is_written(world: dict[str, Any]) -> None:
    client = world["client"]
    body = {"name": "孙党员", "phone": "13900002222", "address": "火星基地不存在路999号"}
    r = client.post("/api/people/register", json=body, headers=auth(client, "community"))
    with world["engine"].connect() as conn:
        n = conn.execute(text("SELECT count(*) FROM people WHERE name = '孙党员'")).scalar_one()
    assert (r.status_code, n) == (422, 0)


def _pdf_text(tmp_path: Any, body: bytes) -> tuple[str, list[Any]]:
    """The PDF's text (``pdftotext -raw``) and its pages rendered by pdftoppm (150 dpi PNG)."""
    import subprocess

    from PIL import Image

    source = tmp_path / "card.pdf"
    source.write_bytes(body)
    subprocess.run(["pdftoppm", "-r", "150", "-png", str(source), str(tmp_path / "page")], check=True)
    words = subprocess.run(["pdftotext", "-raw", str(source), "-"], check=True, capture_output=True, text=True).stdout
    return words, [Image.open(p) for p in sorted(tmp_path.glob("page*.png"))]


def _qr_links(image: Any) -> list[str]:
    from pyzbar.pyzbar import decode

    return [d.data.decode() for d in decode(image)]


def test_the_card_pdf_renders_with_name_code_masked_phones_and_a_qr_of_the_report_link(
    world: dict[str, Any], tmp_path: Any
) -> None:
    _worker_head(world)
    client, code = world["client"], world["codes"][0]
    r = client.get(f"/grids/{code}/card.pdf", headers=auth(client, "worker1"))
    words, pages = _pdf_text(tmp_path, r.content)
    flat = words.replace("\n", "")
    assert (r.headers["content-type"], len(pages), pages[0].size) == ("application/pdf", 1, (1241, 1754))
    assert (code in flat, "第1网格" in flat, "138****5678" in flat, PHONE in flat, "025-12345" in flat) == (
        True, True, True, False, True,
    )
    assert _qr_links(pages[0]) == [f"http://testserver/public/report?grid={code}"]


def test_the_card_png_carries_the_qr_of_the_report_link(world: dict[str, Any]) -> None:
    import io

    from PIL import Image

    client, code = world["client"], world["codes"][1]
    r = client.get(f"/grids/{code}/card.png", headers=auth(client, "worker2"))
    image = Image.open(io.BytesIO(r.content))
    assert (image.width, _qr_links(image)) == (1240, [f"http://testserver/public/report?grid={code}"])


def test_another_grids_card_is_refused_to_a_grid_worker(world: dict[str, Any]) -> None:
    client = world["client"]
    assert client.get(f"/grids/{world['codes'][0]}/card.pdf", headers=auth(client, "worker2")).status_code == 403


def test_all_cards_of_a_community_print_as_one_pdf(world: dict[str, Any], tmp_path: Any) -> None:
    client = world["client"]
    r = client.get(f"/communities/{PREFIX}/cards.pdf", headers=auth(client, "community"))
    import subprocess

    (tmp_path / "all.pdf").write_bytes(r.content)
    info = subprocess.run(["pdfinfo", str(tmp_path / "all.pdf")], check=True, capture_output=True, text=True).stdout
    words = subprocess.run(["pdftotext", "-raw", str(tmp_path / "all.pdf"), "-"], check=True, capture_output=True,
                           text=True).stdout
    pages = int(next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")))
    assert (pages, all(f"网格编码{c}" in words for c in world["codes"])) == (len(world["codes"]), True)


def _cli(world: dict[str, Any], tmp_path: Any, *args: str) -> Any:
    import os
    import subprocess
    import sys

    env = {**os.environ, "GRIDMAP_HOME": str(tmp_path / "home"), "GRIDMAP_DATABASE_URL": world["url"],
           "GRIDMAP_PEOPLE__PII_KEY": world["key"], "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "gridmap.cli", "cards", *args], capture_output=True, text=True,
                          env=env, timeout=600)


def test_the_cards_command_writes_the_pdf(world: dict[str, Any], tmp_path: Any) -> None:
    import subprocess

    code = world["codes"][0]
    done = _cli(world, tmp_path, code, "--out", str(tmp_path / "one.pdf"), "--base-url", "https://grid.example.cn")
    words = subprocess.run(["pdftotext", "-raw", str(tmp_path / "one.pdf"), "-"], capture_output=True, text=True)
    assert (done.returncode, f"https://grid.example.cn/public/report?grid={code}" in words.stdout) == (0, True)


def test_the_cards_command_refuses_a_bad_code_and_writes_nothing(world: dict[str, Any], tmp_path: Any) -> None:
    done = _cli(world, tmp_path, "12345", "--out", str(tmp_path / "bad.pdf"))
    assert (done.returncode, "12 位社区" in done.stderr, (tmp_path / "bad.pdf").exists()) == (2, True, False)
