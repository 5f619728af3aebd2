"""Scenarios of `loa sim --scenario FILE --seed N`: a fleet, timed faults and expectations.

- `read_scenario(path)` / `parse_scenario(text)`: the YAML file (`docs/scenarios.md`) read
  into a `Scenario`, or `ScenarioFileError` with every problem as `FILE:LINE: problem`;
- `check_receivers(scenario, fleet_ids)`: the listed receivers checked once the fleet is known;
- `plan(scenario, receiver_ids, seed)`: the faults expanded into timed `Action`s, the same
  for the same seed and fleet.

Applying the actions (the runner) and shaping the network of a simulated receiver live
elsewhere; this package only says what happens when.
"""

from simulators.scenario.file import (
    ScenarioFileError,
    check_receivers,
    parse_scenario,
    read_scenario,
)
from simulators.scenario.model import (
    EXPECTATION_KINDS,
    FAULT_KINDS,
    Bulletin,
    Count,
    Expectation,
    Fault,
    FaultKind,
    FleetSpec,
    GeneratedFleet,
    Listed,
    RegistryFleet,
    Scenario,
    Selection,
    Share,
)
from simulators.scenario.plan import Action, plan

__all__ = [
    "EXPECTATION_KINDS",
    "FAULT_KINDS",
    "Action",
    "Bulletin",
    "Count",
    "Expectation",
    "Fault",
    "FaultKind",
    "FleetSpec",
    "GeneratedFleet",
    "Listed",
    "RegistryFleet",
    "Scenario",
    "ScenarioFileError",
    "Selection",
    "Share",
    "check_receivers",
    "parse_scenario",
    "plan",
    "read_scenario",
]
