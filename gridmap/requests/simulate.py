"""Realistic simulated requests for the demo: category mix, daily rhythm, recurring blocked lanes, handling.

Every row is ``simulated`` and goes through the same intake and transitions as real ones, on a simulated clock;
what would happen after ``end`` does not happen, so the last days leave open and overdue cases. Re-running
replaces the earlier simulation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import delete, text
from sqlalchemy.orm import Session

from gridmap.db.models import ServiceRequest
from gridmap.errors import InvalidInput
from gridmap.requests.schemas import ActionIn, NewRequest
from gridmap.requests.service import Actor, apply_action, submit
from gridmap.requests.states import Action, Status
from gridmap.settings import RequestSettings

CST = ZoneInfo("Asia/Shanghai")
MIX = {
    "illegal_parking": 0.20,
    "garbage": 0.17,
    "stairwell_clutter": 0.11,
    "blocked_lane": 0.12,
    "street_vending": 0.06,
    "noise": 0.08,
    "broken_facility": 0.08,
    "pets": 0.05,
    "vegetable_plots": 0.06,
    "thrown_from_height": 0.04,
    "facade_falling": 0.03,
}
# reports per hour of day (China Standard Time): morning and evening peaks, quiet nights
RHYTHM = np.array([1, 0.5, 0.3, 0.3, 0.3, 0.6, 2, 4, 5, 4.5, 4, 4, 3.5, 3, 3.5, 4, 4, 4.5, 5, 5, 4, 3, 2, 1.5])
LANES = (
    "SELECT id, name FROM streets WHERE NOT is_barrier AND name IS NOT NULL "
    "AND street_class IN ('residential', 'living_street', 'service', 'unclassified', 'pedestrian') "
    "ORDER BY (name LIKE '%巷') DESC, ST_Length(geom::geography) DESC, id LIMIT :n"
)
STAFF = {role: Actor(None, f"sim-{role}", role) for role in ("grid_worker", "community", "command", "department")}
RESIDENT = Actor(None, "sim-resident", "public")
DESCRIPTIONS = {
    "illegal_parking": "车辆停在消防通道上",
    "garbage": "垃圾堆放多日无人清运",
    "stairwell_clutter": "楼道堆放杂物,影响通行",
    "blocked_lane": "巷子被车辆和杂物堵住,行人无法通过",
    "street_vending": "流动摊贩占道经营",
    "noise": "夜间施工噪声扰民",
    "broken_facility": "路灯损坏不亮",
    "pets": "遛狗不牵绳",
    "vegetable_plots": "绿地被开垦种菜",
    "thrown_from_height": "楼上抛下杂物",
    "facade_falling": "外墙瓷砖脱落",
}


@dataclass(frozen=True)
class SimulationResult:
    """What was made."""

    requests: int
    events: int
    lanes: list[str]
    open: int


def _minutes(rng: np.random.Generator, median: float, spread: float = 0.8) -> timedelta:
    return timedelta(minutes=float(median * np.exp(rng.normal(0, spread))))


def simulate_requests(
    session: Session,
    *,
    days: int,
    end: datetime,
    settings: RequestSettings,
    per_day: float = 40.0,
    seed: int = 0,
    hot_lanes: int = 3,
    progress: Callable[[int, int], None] | None = None,
) -> SimulationResult:
    """Replace the simulated requests with ``days`` of new ones ending at ``end``."""
    if days < 1:
        raise InvalidInput("--days must be at least 1")
    rng = np.random.default_rng(seed)
    homes = session.execute(
        text(
            "SELECT ST_X(p), ST_Y(p), households FROM (SELECT ST_PointOnSurface(geom) p, households FROM buildings "
            "WHERE is_residential ORDER BY id) b"
        )
    ).all()
    if not homes:
        raise InvalidInput("no residential buildings: import data (gridmap import) before simulating")
    weights = np.array([h[2] for h in homes], dtype=float)
    weights /= weights.sum()
    lanes = session.execute(text(LANES), {"n": hot_lanes}).all()
    session.execute(delete(ServiceRequest).where(ServiceRequest.simulated))
    quiet = settings.model_copy(update={"duplicate_radius_m": 0.0})  # the simulation makes its own duplicates
    codes, shares = list(MIX), np.array(list(MIX.values())) / sum(MIX.values())
    start = end - timedelta(days=days)
    total = int(rng.poisson(per_day * days))
    hours = rng.choice(24, size=total, p=RHYTHM / RHYTHM.sum())
    day_index = rng.integers(0, days, size=total)
    made = events = still_open = 0
    for i in range(total):
        local_day = (start + timedelta(days=int(day_index[i]))).astimezone(CST).date()
        created = datetime(local_day.year, local_day.month, local_day.day, int(hours[i]), tzinfo=CST)
        created += timedelta(minutes=float(rng.uniform(0, 60)))
        if created >= end:
            continue
        category = str(rng.choice(codes, p=shares))
        if category in {"blocked_lane", "illegal_parking"} and lanes and rng.random() < 0.6:
            lane = lanes[int(rng.integers(0, len(lanes)))]
            lon, lat = session.execute(
                text(
                    "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_LineInterpolatePoint(ST_LineMerge(geom), :f) p "
                    "FROM (SELECT (ST_Dump(geom)).geom FROM streets WHERE id = :id LIMIT 1) s) q"
                ),
                {"id": lane[0], "f": float(rng.uniform(0.05, 0.95))},
            ).one()
        else:
            home = homes[int(rng.choice(len(homes), p=weights))]
            lon, lat = home[0], home[1]
        data = NewRequest(
            category=category,
            description=DESCRIPTIONS[category],
            lon=float(lon) + float(rng.normal(0, 0.00005)),
            lat=float(lat) + float(rng.normal(0, 0.00005)),
        )
        try:
            req, _ = submit(
                session,
                data,
                actor=RESIDENT,
                channel="simulated",
                now=created,
                settings=quiet,
                simulated=True,
            )
        except InvalidInput:
            continue  # a point that fell outside the grids
        made += 1
        events += 1 + _handle(session, req, created, end, rng, quiet)
        still_open += req.status not in {Status.closed.value, Status.merged.value}
        if progress:
            progress(i + 1, total)
    session.flush()
    return SimulationResult(made, events, [str(lane[1]) for lane in lanes], still_open)


def _rating(rng: np.random.Generator, stars: int, *, by_resident: bool) -> tuple[timedelta, Actor, ActionIn]:
    """The resident's own 评单 some hours later, or the stars given on the 社区's 回访 call the next day."""
    if by_resident:
        return _minutes(rng, 600), RESIDENT, ActionIn(action=Action.rate, stars=stars)
    return _minutes(rng, 1200), STAFF["community"], ActionIn(action=Action.callback, stars=stars, reason="电话回访")


def _handle(
    session: Session,
    req: ServiceRequest,
    t: datetime,
    end: datetime,
    rng: np.random.Generator,
    settings: RequestSettings,
) -> int:
    """Walk one request through the workflow until ``end``; returns how many actions were taken."""
    steps: list[tuple[timedelta, Actor, ActionIn]] = [
        (_minutes(rng, 12), STAFF["grid_worker"], ActionIn(action=Action.take))
    ]
    if rng.random() < 0.6:  # a small case solved in the grid
        steps.append((_minutes(rng, 180), STAFF["grid_worker"], ActionIn(action=Action.resolve)))
    else:
        steps[0] = (steps[0][0], STAFF["grid_worker"], ActionIn(action=Action.escalate))
        steps += [
            (_minutes(rng, 25), STAFF["community"], ActionIn(action=Action.triage, size="big")),
            (_minutes(rng, 40), STAFF["command"], ActionIn(action=Action.dispatch)),
        ]
        if rng.random() < 0.06:
            steps += [
                (_minutes(rng, 60), STAFF["department"], ActionIn(action=Action.return_, reason="非本部门职责")),
                (_minutes(rng, 60), STAFF["command"], ActionIn(action=Action.dispatch)),
            ]
        steps += [
            (_minutes(rng, 35), STAFF["department"], ActionIn(action=Action.accept)),
            (_minutes(rng, 900, 1.0), STAFF["department"], ActionIn(action=Action.resolve)),
        ]
    # whoever resolved does not verify: the 社区 checks the grid's own work, the grid worker a department's
    checker = STAFF["community"] if steps[-1][1] is STAFF["grid_worker"] else STAFF["grid_worker"]
    steps.append((_minutes(rng, 120), checker, ActionIn(action=Action.verify)))
    outcome = rng.random()
    if outcome < 0.8:  # the resident rates (评单) through the link, or tells the 社区 on a 回访 call
        stars = int(rng.choice([5, 4, 3, 2, 1], p=[0.55, 0.25, 0.1, 0.06, 0.04]))
        steps.append(_rating(rng, stars, by_resident=outcome < 0.55))
        if stars < settings.reopen_below:
            steps += [
                (_minutes(rng, 20), STAFF["grid_worker"], ActionIn(action=Action.take)),
                (_minutes(rng, 240), STAFF["grid_worker"], ActionIn(action=Action.resolve)),
                (_minutes(rng, 120), STAFF["community"], ActionIn(action=Action.verify)),
                _rating(rng, 4, by_resident=True),
            ]
    else:
        steps.append((_minutes(rng, 1440), STAFF["community"], ActionIn(action=Action.close, reason="回访未接通")))
    done = 0
    for delay, actor, command in steps:
        t += delay
        if t >= end:
            break
        apply_action(session, req, command, actor, t, settings)
        done += 1
    return done
