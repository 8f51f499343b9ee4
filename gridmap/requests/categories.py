"""The category table, seeded from practice (each with a default department and time limits)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, fields

from cachetools import TTLCache
from sqlalchemy import select
from sqlalchemy.orm import Session

from gridmap.db.models import RequestCategory

H = 60  # minutes per hour
# code, 中文, English, department, respond, accept, resolve (minutes), working hours?, blocks a lane?
DEFAULTS: list[tuple[str, str, str, str, int, int, int, bool, bool]] = [
    ("illegal_parking", "车辆乱停", "Illegal parking", "城管执法中队", 30, 60, 24 * H, False, True),
    ("blocked_lane", "巷道堵塞(堵巷)", "Blocked lane", "城管执法中队", 30, 60, 24 * H, False, True),
    ("street_vending", "占道经营", "Street vending on the road", "城管执法中队", 30, 60, 24 * H, False, True),
    ("garbage", "垃圾乱堆", "Garbage piles", "环卫所", 30, 60, 24 * H, False, False),
    ("stairwell_clutter", "楼道堆物", "Clutter in stairwells", "物业服务中心", 30, 120, 72 * H, False, False),
    ("thrown_from_height", "高空抛物", "Things thrown from height", "公安派出所", 30, 30, 72 * H, False, False),
    ("facade_falling", "外墙脱落", "Falling facade", "住房和城乡建设局", 30, 60, 72 * H, False, False),
    ("vegetable_plots", "毁绿种菜", "Vegetables planted on public green", "绿化养护所", 30, 4 * H, 40 * H, True, False),
    ("pets", "文明养宠", "Pet nuisance", "社区居委会", 30, 4 * H, 72 * H, False, False),
    ("noise", "噪声扰民", "Noise nuisance", "生态环境分局", 30, 60, 72 * H, False, False),
    ("broken_facility", "设施损坏", "Damaged public facilities", "市政设施所", 30, 4 * H, 40 * H, True, False),
]


@dataclass(frozen=True)
class Category:
    """A category's terms as plain values: safe to share between requests and threads (an ORM row is not)."""

    code: str
    name_zh: str
    name_en: str
    department: str
    respond_minutes: int
    accept_minutes: int
    resolve_minutes: int
    working_hours: bool
    blocks_lane: bool
    active: bool

    @classmethod
    def of(cls, row: RequestCategory) -> Category:
        """The values of a category row, read while its session is open."""
        return cls(**{f.name: getattr(row, f.name) for f in fields(cls)})


_CACHE: TTLCache[tuple[str, str], Category] = TTLCache(maxsize=1024, ttl=30)
_LOCK = threading.Lock()


def cached_category(session: Session, code: str) -> Category | None:
    """A category read at most every 30 s per database (an edit shows within that time); None if unknown.

    Every report needs its category's department and time limits; reading the table each time cost intake a
    quarter of its work. The cache holds plain values, never ORM rows: a row cached from one session was expired
    by that session's rollback (a refused report) and failed every later report of its category.
    """
    key = (str(session.get_bind().engine.url), code)
    found = known_category(key[0], code)
    if found is None:
        row = session.get(RequestCategory, code)
        if row is not None:
            found = Category.of(row)
            with _LOCK:
                _CACHE[key] = found
    return found


def category_terms(session: Session, code: str) -> Category:
    """The terms of a category that a stored request refers to (cached like :func:`cached_category`)."""
    found = cached_category(session, code)
    if found is None:
        raise LookupError(f"category {code!r} of a stored request is missing from request_categories")
    return found


def known_category(database: str, code: str) -> Category | None:
    """The cached category of ``database`` (its URL, password hidden), without reading the table."""
    with _LOCK:
        return _CACHE.get((database, code))


def ensure_categories(*, session: Session) -> int:
    """Insert the default categories that are missing (edited ones are kept); returns how many were added."""
    have = set(session.scalars(select(RequestCategory.code)).all())
    added = 0
    for code, zh, en, dept, respond, accept, resolve, working, lane in DEFAULTS:
        if code in have:
            continue
        session.add(
            RequestCategory(
                code=code,
                name_zh=zh,
                name_en=en,
                department=dept,
                respond_minutes=respond,
                accept_minutes=accept,
                resolve_minutes=resolve,
                working_hours=working,
                blocks_lane=lane,
                active=True,
            )
        )
        added += 1
    session.flush()
    return added
