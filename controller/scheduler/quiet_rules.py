"""The quiet hours of the communes a bulletin or a schedule reaches, from the config.

`schedules.quiet_hours` holds for every commune unless `schedules.quiet_hours_by_commune`
gives a commune its own (`none` for no quiet hours). One reading of those rules for the
three places that apply them: a schedule being applied (`policy.py`), a schedule firing
(`service.py`) and a one-off `loa bulletin send` (`controller.delivery.requests`).
"""

from __future__ import annotations

from collections.abc import Iterable

from controller.config.model import SchedulesConfig
from devices.registry import GroupTree, Receiver
from schedules.quiet import QuietHours, parse_quiet_hours

__all__ = ["CommuneQuiet"]


class CommuneQuiet:
    """Quiet hours per commune id, parsed once."""

    def __init__(self, rules: SchedulesConfig) -> None:
        self._default = parse_quiet_hours(rules.quiet_hours)
        self._by_commune = {
            commune: parse_quiet_hours(hours)
            for commune, hours in rules.quiet_hours_by_commune.items()
        }

    def hours(self, commune_id: str) -> QuietHours | None:
        """The quiet hours of `commune_id` (None: it has none)."""
        return self._by_commune.get(commune_id, self._default)

    def reached(
        self, receivers: Iterable[Receiver], tree: GroupTree
    ) -> list[tuple[str, QuietHours]]:
        """(commune label for people, its quiet hours) of every commune these receivers
        stand in that has quiet hours, each once, in the order first met."""
        found: dict[str, tuple[str, QuietHours] | None] = {}
        for receiver in receivers:
            commune = tree.commune_of(receiver)
            key = commune.id if commune is not None else ""
            if key in found:
                continue
            hours = self.hours(key)
            label = f"{commune.name} ({commune.id})" if commune is not None else "the commune"
            found[key] = None if hours is None else (label, hours)
        return [item for item in found.values() if item is not None]
