"""Publishing is serialised: concurrent publishes leave exactly one plan in force."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.exc import IntegrityError

from gridmap.db.cluster import LocalCluster
from gridmap.db.models import GridPlan, PlanStatus
from gridmap.db.session import session_scope
from gridmap.errors import Conflict
from gridmap.partition.service import publish_plan
from tests.conftest import make_database

pytestmark = pytest.mark.db


@pytest.fixture(scope="module")
def url(cluster: LocalCluster) -> str:
    return make_database(cluster, "publish_test")


def _drafts(url: str, n: int) -> list[int]:
    engine = create_engine(url)
    with session_scope(engine) as session:
        version = session.scalar(select(func.coalesce(func.max(GridPlan.version), 0))) or 0
        plans = [GridPlan(name=f"草稿 {i}", version=version + i + 1, status=PlanStatus.draft) for i in range(n)]
        session.add_all(plans)
        session.flush()
        ids = [p.id for p in plans]
    engine.dispose()
    return ids


def _race(url: str, plan_ids: list[int]) -> list[str]:
    """Publish each plan from its own thread and connection, all released at once; the outcome of each."""
    engine = create_engine(url, pool_size=len(plan_ids))
    start = threading.Barrier(len(plan_ids))
    outcomes: list[str] = []

    def run(plan_id: int) -> Callable[[], None]:
        def publish() -> None:
            try:
                with session_scope(engine) as session:
                    session.connection()
                    start.wait()
                    publish_plan(session=session, plan_id=plan_id)
                outcomes.append("published")
            except Conflict:
                outcomes.append("conflict")
            except IntegrityError:
                outcomes.append("integrity error")

        return publish

    threads = [threading.Thread(target=run(p)) for p in plan_ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    engine.dispose()
    return outcomes


def _published(url: str) -> list[int]:
    engine = create_engine(url)
    with engine.connect() as conn:
        ids = list(conn.scalars(select(GridPlan.id).where(GridPlan.status == PlanStatus.published)))
    engine.dispose()
    return ids


@pytest.mark.parametrize("trial", range(3))
def test_concurrent_publishes_of_different_drafts_leave_one_published(url: str, trial: int) -> None:
    plans = _drafts(url, 3)
    assert sorted(_race(url, plans)) == ["published"] * 3  # serialised: each in turn, the last one stays
    published = _published(url)
    assert len(published) == 1 and published[0] in plans


def test_a_second_concurrent_publish_of_the_same_draft_is_refused(url: str) -> None:
    (plan,) = _drafts(url, 1)
    assert sorted(_race(url, [plan, plan])) == ["conflict", "published"]
    assert _published(url) == [plan]


def test_the_database_refuses_a_second_published_plan(url: str) -> None:
    engine = create_engine(url)
    with pytest.raises(IntegrityError), session_scope(engine) as session:
        session.add_all(
            [GridPlan(name=f"手工 {i}", version=1000 + i, status=PlanStatus.published) for i in range(2)]
        )
        session.flush()
    engine.dispose()
