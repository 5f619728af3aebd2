"""Quiet hours per commune, read once for the policy, the scheduler and `bulletin send`."""

from __future__ import annotations

from datetime import time

from controller.config.model import SchedulesConfig
from controller.scheduler.quiet_rules import CommuneQuiet
from devices.registry import GroupTree, read_registry
from tests.devices.registry.support import EXAMPLE_YAML


def test_a_commune_has_its_own_hours_or_the_default_or_none() -> None:
    registry = read_registry(EXAMPLE_YAML)
    tree = GroupTree(registry.groups)
    receivers = list(registry.receivers)
    default = CommuneQuiet(SchedulesConfig())
    [(label, hours)] = default.reached(receivers, tree)  # 30 receivers, one commune, once
    assert label == "Xã Trà Lĩnh (tra-linh)"
    assert str(hours) == "22:00-05:00"
    assert hours.contains(time(23))
    assert not hours.contains(time(12))
    own = CommuneQuiet(SchedulesConfig(quiet_hours_by_commune={"tra-linh": "21:00-06:00"}))
    assert str(own.reached(receivers, tree)[0][1]) == "21:00-06:00"
    assert str(own.hours("another")) == "22:00-05:00"
    silent = CommuneQuiet(SchedulesConfig(quiet_hours_by_commune={"tra-linh": "none"}))
    assert silent.reached(receivers, tree) == []
    assert CommuneQuiet(SchedulesConfig(quiet_hours="none")).reached(receivers, tree) == []
