"""The gain model: one for one without a limiter, a measured curve with one."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from audio.gain import MIN_SLOPE, GainPlan, LimiterCurve

# Measured on espeak-ng speech under a -2 dBFS ceiling (gain +5.4, +7.4, +9.4 dB).
SPEECH = LimiterCurve.measured(-2.0, [5.4, 7.4, 9.4], [-17.4, -16.3, -15.5])


def test_measured_pairs_sorted_levels_with_sorted_gains() -> None:
    shuffled = LimiterCurve.measured(-2.0, [9.4, 5.4, 7.4], [-16.3, -15.5, -17.4])
    assert shuffled == SPEECH
    assert SPEECH.depths == pytest.approx((7.4, 9.4, 11.4))
    assert SPEECH.levels == pytest.approx((-15.4, -14.3, -13.5))


def test_the_curve_goes_through_its_points() -> None:
    for depth, level in zip(SPEECH.depths, SPEECH.levels, strict=True):
        assert SPEECH.level(depth) == pytest.approx(level)
        assert SPEECH.depth(level) == pytest.approx(depth)


def test_below_the_points_one_for_one_above_the_last_slope() -> None:
    assert SPEECH.level(5.4) == pytest.approx(-15.4 - 2.0)
    assert SPEECH.level(13.4) == pytest.approx(-13.5 + 2 * 0.4)


def test_a_flat_or_falling_stretch_is_given_the_minimum_slope() -> None:
    flat = LimiterCurve((1.0, 2.0, 3.0), (-10.0, -10.0, -10.5))
    assert flat.level(3.0) == pytest.approx(-10.0 + 2 * MIN_SLOPE)
    assert flat.depth(-10.0 + MIN_SLOPE) == pytest.approx(2.0)


def test_bad_curves() -> None:
    with pytest.raises(ValueError, match=r"two or more"):
        LimiterCurve((1.0,), (2.0,))
    with pytest.raises(ValueError, match=r"must increase"):
        LimiterCurve((1.0, 1.0), (2.0, 3.0))


depths = st.floats(min_value=-30, max_value=60, allow_nan=False)
curves = st.lists(st.tuples(st.floats(0.1, 5), st.floats(-1, 2)), min_size=1, max_size=4).map(
    lambda steps: LimiterCurve(
        tuple(sum(s for s, _ in steps[:i]) for i in range(len(steps) + 1)),
        tuple(-10 + sum(r for _, r in steps[:i]) for i in range(len(steps) + 1)),
    )
)


@given(curves, depths)
def test_depth_inverts_level(curve: LimiterCurve, depth: float) -> None:
    assert curve.depth(curve.level(depth)) == pytest.approx(depth, abs=1e-6)


@given(curves, depths, st.floats(min_value=0.01, max_value=10))
def test_more_gain_is_never_quieter_nor_more_than_one_for_one(
    curve: LimiterCurve, depth: float, more: float
) -> None:
    rise = curve.level(depth + more) - curve.level(depth)
    assert MIN_SLOPE * more - 1e-9 <= rise <= more + 1e-9


def test_plan_without_limiter_is_one_for_one() -> None:
    plan = GainPlan(unlimited_lufs=-19.2, gain_db=0.0, offset_lu=-0.4)
    plan.aim(-16.0, max_gain_db=20.0)
    assert plan.gain_db == pytest.approx(3.6)
    assert plan.predict() == pytest.approx(-15.6)
    plan.learn(-16.3)  # the encoder took 0.7 LU
    assert plan.offset_lu == pytest.approx(-0.7)
    plan.aim(-16.0, max_gain_db=20.0)
    assert plan.gain_db == pytest.approx(3.9)


def test_plan_with_limiter_follows_the_curve_at_any_ceiling() -> None:
    plan = GainPlan(-19.2, 0.0, ceiling_db=-2.0, curve=SPEECH)
    plan.aim(-16.0, max_gain_db=20.0)
    assert plan.predict() == pytest.approx(-16.0)
    assert plan.gain_db == pytest.approx(-2.0 + SPEECH.depth(-14.0))
    # Scale invariance: half a dB lower ceiling, the same depth is half a LU quieter.
    lower = GainPlan(-19.2, plan.gain_db - 0.5, ceiling_db=-2.5, curve=SPEECH)
    assert lower.predict() == pytest.approx(-16.5)


def test_aim_never_exceeds_the_gain_limit() -> None:
    plan = GainPlan(-60.0, 0.0)
    plan.aim(-16.0, max_gain_db=30.0)
    assert plan.gain_db == 30.0
