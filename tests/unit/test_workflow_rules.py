"""The pure parts of the workflow: transitions, working-hours deadlines, KPIs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from gridmap.db.models import Role
from gridmap.errors import Conflict, InvalidInput
from gridmap.requests.kpi import Level, as_json, kpis
from gridmap.requests.sla import Limits, WorkCalendar, sla_state
from gridmap.requests.states import Action, Status, allowed_actions, next_status
from gridmap.settings import CalendarSettings

CST = ZoneInfo("Asia/Shanghai")


def test_the_five_orders_path() -> None:
    s = next_status(Action.take, Status.reported)
    s = next_status(Action.escalate, s)
    s = next_status(Action.triage, s, size="big")
    assert s is Status.triaged
    s = next_status(Action.dispatch, s)
    s = next_status(Action.return_, s)
    assert s is Status.returned
    s = next_status(Action.dispatch, s)
    s = next_status(Action.accept, s)
    s = next_status(Action.resolve, s)
    s = next_status(Action.verify, s)
    assert next_status(Action.rate, s, stars=5) is Status.closed
    assert next_status(Action.rate, s, stars=2) is Status.reopened
    assert next_status(Action.take, Status.reopened) is Status.taken


def test_small_cases_go_back_to_the_grid() -> None:
    assert next_status(Action.triage, Status.escalated, size="small") is Status.taken


def test_a_failed_check_goes_back_to_whoever_resolved_it() -> None:
    assert next_status(Action.reject, Status.resolved) is Status.taken
    assert next_status(Action.reject, Status.resolved, dispatched=True) is Status.accepted
    with pytest.raises(Conflict):
        next_status(Action.reject, Status.verified)


def test_wrong_transitions_say_what_applies() -> None:
    with pytest.raises(Conflict, match="cannot accept a request that is reported"):
        next_status(Action.accept, Status.reported)
    with pytest.raises(InvalidInput, match="size"):
        next_status(Action.triage, Status.escalated)
    with pytest.raises(InvalidInput, match="1 to 5"):
        next_status(Action.rate, Status.verified, stars=0)


def test_roles_see_only_their_actions() -> None:
    assert allowed_actions(Status.reported, Role.grid_worker) == [Action.take, Action.escalate, Action.merge]
    assert allowed_actions(Status.dispatched, Role.department) == [Action.accept, Action.return_]
    assert allowed_actions(Status.dispatched, Role.leader) == []


def test_no_staff_role_rates_and_the_street_calls_back() -> None:
    assert all(Action.rate not in allowed_actions(Status.verified, role) for role in Role)
    assert allowed_actions(Status.verified, Role.command) == [Action.callback, Action.close]
    assert next_status(Action.callback, Status.verified, stars=2) is Status.reopened


def test_workflow_errors_are_chinese_first() -> None:
    with pytest.raises(
        Conflict, match="^无法点单：该诉求状态为已办结，点单只适用于.* / cannot take a request that is resolved"
    ):
        next_status(Action.take, Status.resolved)


def _calendar(**kw: object) -> WorkCalendar:
    return WorkCalendar(CalendarSettings(**kw))  # type: ignore[arg-type]


def test_working_hours_skip_lunch_nights_and_weekends() -> None:
    cal = _calendar()
    friday_4pm = datetime(2026, 11, 20, 16, 0, tzinfo=CST)
    # 90 min left on Friday (16:00-17:30), then Monday 08:30 + 30 min
    assert cal.add(friday_4pm, 120) == datetime(2026, 11, 23, 9, 0, tzinfo=CST)
    monday_11 = datetime(2026, 11, 23, 11, 0, tzinfo=CST)
    assert cal.add(monday_11, 90) == datetime(2026, 11, 23, 14, 30, tzinfo=CST)


def test_holidays_and_makeup_workdays() -> None:
    cal = _calendar(holidays=("2026-11-23",), workdays=("2026-11-22",))
    saturday_night = datetime(2026, 11, 21, 20, 0, tzinfo=CST)
    assert cal.add(saturday_night, 30) == datetime(2026, 11, 22, 9, 0, tzinfo=CST)  # Sunday worked (调休)
    sunday_5pm = datetime(2026, 11, 22, 17, 0, tzinfo=CST)
    assert cal.add(sunday_5pm, 60) == datetime(2026, 11, 24, 9, 0, tzinfo=CST)  # Monday off


def test_sla_overdue_and_escalation_follow_the_clock() -> None:
    created = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)
    limits = Limits(30, 60, 72 * 60, False)
    common = {"limits": limits, "created_at": created, "dispatched_at": None, "accepted_at": None}
    cal = _calendar()
    fresh = sla_state(**common, responded_at=None, resolved_at=None, now=created + timedelta(minutes=10), calendar=cal)
    assert fresh.escalation == "none" and not fresh.respond.overdue
    late = sla_state(**common, responded_at=None, resolved_at=None, now=created + timedelta(minutes=31), calendar=cal)
    assert late.respond.overdue and late.escalation == "community"
    answered = created + timedelta(minutes=20)
    very_late = sla_state(
        **common, responded_at=answered, resolved_at=None, now=created + timedelta(hours=73), calendar=cal
    )
    assert not very_late.respond.overdue and very_late.resolve.overdue and very_late.escalation == "street"


def test_kpis_count_numerators_and_denominators() -> None:
    t = pd.Timestamp("2026-11-01T00:00Z")
    m = pd.Timedelta(minutes=1)
    frame = pd.DataFrame(
        {
            "grid_code": [
                "320102003001001",
                "320102003001001",
                "320102003001002",
                "320102003002001",
                "320102003001001",
            ],
            "department": ["环卫所", "环卫所", "城管执法中队", None, "环卫所"],
            "status": ["closed", "taken", "closed", "reported", "merged"],
            "created_at": [t] * 5,
            "responded_at": [t + 10 * m, t + 40 * m, t + 20 * m, pd.NaT, t + m],
            "resolved_at": [t + 60 * m, pd.NaT, t + 5000 * m, pd.NaT, pd.NaT],
            "resolve_due": [t + 4320 * m] * 5,
            "rating": [5, None, 3, None, None],
            "rating_source": ["resident", None, "callback", None, None],
        }
    )
    by_community = kpis(frame, Level.community).set_index("unit")
    first = by_community.loc["320102003001"]
    assert first["requests"] == 3  # the merged duplicate is not counted twice
    assert (first["resolved"], first["resolved_on_time"], first["satisfied"], first["rated"]) == (2, 1, 1, 1)
    assert first["on_time_rate"] == 0.5 and first["satisfaction_rate"] == 1.0  # the reporters' own 评单
    assert (first["callback_satisfied"], first["called_back"]) == (0, 1)  # 回访 counted apart
    assert first["response_p50_min"] == 20.0
    second = by_community.loc["320102003002"]
    assert second["resolution_rate"] == 0.0 and pd.isna(second["satisfaction_rate"])
    by_department = {row["unit"]: row for row in as_json(kpis(frame, Level.department))}
    assert by_department["未派单"]["requests"] == 1
    assert by_department["未派单"]["satisfaction_rate"] == {"value": None, "numerator": 0, "denominator": 0}
    assert by_department["环卫所"]["resolution_rate"] == {"value": 0.5, "numerator": 1, "denominator": 2}
