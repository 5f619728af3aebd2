"""What becomes of one air time when its fire comes: on time, late, missed, quiet hours."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from controller.scheduler.decide import FireRules, decide
from schedules.model import Schedule
from schedules.quiet import QuietHours
from schedules.recurrence import Daily
from schedules.when import When

RULES = FireRules(timedelta(minutes=10), timedelta(seconds=30), ZoneInfo("Asia/Ho_Chi_Minh"))
QUIET = [("Xã Trà Lĩnh (tra-linh)", QuietHours(time(22), time(5)))]
#: 21:59:50 in Hà Nội
PLANNED = datetime(2026, 12, 1, 14, 59, 50, tzinfo=UTC)


def schedule(priority: str = "normal") -> Schedule:
    return Schedule(
        id="tin-toi",
        title="Tin tối",
        when=When(Daily((time(21, 59, 50),)), date(2026, 12, 1)),
        targets="tra-linh",
        text=(("vi", "Tin tối"),),
        priority=priority,  # type: ignore[arg-type]
    )


def test_on_time_it_plays_at_the_planned_instant_delivered_from_the_fire() -> None:
    fire = decide(schedule(), PLANNED, PLANNED - timedelta(minutes=15), RULES, QUIET)
    assert (fire.state, fire.play_at, fire.reason) == ("scheduled", PLANNED, None)


def test_a_late_start_that_would_fall_in_quiet_hours_is_missed_unless_an_emergency() -> None:
    late = PLANNED + timedelta(minutes=2)  # it would start 22:02:30
    fire = decide(schedule(), PLANNED, late, RULES, QUIET)
    assert fire.state == "missed"
    assert fire.reason is not None
    assert fire.reason.startswith("quiet hours: 2026-12-01 22:02 falls in the quiet hours")
    assert fire.reason.endswith("(planned for 2026-12-01 21:59, late)")
    storm = decide(schedule("emergency"), PLANNED, late, RULES, QUIET)
    assert (storm.state, storm.play_at) == ("scheduled", late + timedelta(seconds=30))
    # without quiet hours it is sent late
    assert decide(schedule(), PLANNED, late, RULES).state == "scheduled"


def test_past_the_grace_it_is_missed_with_the_reason() -> None:
    fire = decide(schedule(), PLANNED, PLANNED + timedelta(minutes=11), RULES)
    assert fire.state == "missed"
    assert "more than the grace of 10 min" in str(fire.reason)
