"""What a scenario is once read: the fleet, the bulletins, the timed faults and the expectations.

Plain frozen data, so the runner, the plan and the report share one description of a run.
The fault kinds and expectation kinds are tables (`FAULT_KINDS`, `EXPECTATION_KINDS`): the
reader checks a fault's keys against its kind's row, the plan expands it by the same row,
and `docs/scenarios.md` documents the same names. Times are seconds from the start of
the run (when the fleet starts its ramp), never wall-clock instants: a scenario replays the
same way on any day.

Line numbers (`line`, `lines`) say where a value was written, so that a problem found only
once the fleet is known (`check_receivers`) can still point at the file; they take no part
in comparisons.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal

from devices.protocol.priority import PRIORITIES, Priority

__all__ = [
    "EXPECTATION_KINDS",
    "FAULT_KINDS",
    "Bulletin",
    "Count",
    "Expectation",
    "Fault",
    "FaultKind",
    "FleetSpec",
    "GeneratedFleet",
    "Listed",
    "Param",
    "ParamValue",
    "RegistryFleet",
    "Scenario",
    "Selection",
    "Share",
]

#: How a parameter is written: `seconds` and `amount` are numbers >= 0, `positive` > 0,
#: `signed` any finite number; `share` a fraction (0 < f <= 1) or a percentage `5%`;
#: `range` a list `[low, high]` with 0 < low <= high; `choice` one of `Param.choices`.
ParamType = Literal["seconds", "amount", "positive", "signed", "share", "range", "choice"]
ParamValue = float | str | tuple[float, float]
Controller = Literal["in-process", "external"]


@dataclass(frozen=True)
class Param:
    """One parameter of a fault or expectation kind; `default` None means required."""

    name: str
    type: ParamType
    default: float | str | None = None
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class FaultKind:
    """A row of the fault table.

    `targets`: it applies to receivers (a `receivers:` key), else to the broker.
    `lasting`: it may take `for_s` (then it is undone; without it, it lasts the run).
    `actions`: the plan's action names, the doing one and, for a lasting fault, the undoing.
    """

    name: str
    params: tuple[Param, ...] = ()
    targets: bool = True
    lasting: bool = True
    actions: tuple[str, ...] = ()

    def default(self, name: str) -> ParamValue:
        """The default of parameter `name` (KeyError when it has none or no such name)."""
        for param in self.params:
            if param.name == name and param.default is not None:
                return param.default
        raise KeyError(f"{self.name} has no default for {name!r}")

    def __post_init__(self) -> None:
        if not self.actions:
            # A shaping or device state: set at at_s, cleared at at_s + for_s.
            object.__setattr__(self, "actions", (f"set_{self.name}", f"clear_{self.name}"))


FAULT_KINDS: Final[Mapping[str, FaultKind]] = {
    kind.name: kind
    for kind in (
        FaultKind(
            "power_loss",
            (Param("cache", "choice", "kept", ("kept", "lost")),),
            actions=("power_off", "power_on"),
        ),
        FaultKind("reboot", lasting=False, actions=("reboot",)),
        FaultKind("half_open", actions=("half_open", "restore_link")),
        FaultKind(
            "flapping",
            (Param("up_s", "range"), Param("down_s", "range")),
            actions=("link_down", "link_up"),
        ),
        FaultKind("latency", (Param("ms", "amount"), Param("jitter_ms", "amount", 0.0))),
        FaultKind("bandwidth", (Param("kbit_s", "positive"),)),
        FaultKind("chunk_loss", (Param("rate", "share"),)),
        FaultKind(
            "broker_restart",
            (Param("down_s", "seconds", 0.0),),
            targets=False,
            lasting=False,
            actions=("broker_stop", "broker_start"),
        ),
        FaultKind("clock_offset", (Param("offset_s", "signed"), Param("drift_ppm", "signed", 0.0))),
        FaultKind("clock_jump", (Param("by_s", "signed"),), lasting=False, actions=("clock_jump",)),
        FaultKind("speaker_fail"),
        FaultKind("amplifier_fail"),
        FaultKind("storage_full"),
        FaultKind("codec_reject"),
        FaultKind("slow_firmware", (Param("delay_ms", "positive"),)),
    )
}

EXPECTATION_KINDS: Final[Mapping[str, tuple[Param, ...]]] = {
    # Every receiver online at least this long before an occurrence's expiry played it once.
    "played_each": (Param("online_before_expiry_s", "seconds", 120.0),),
    # No receiver played any occurrence twice.
    "no_double_play": (),
    # Bulletins of this priority reached `share` of the online receivers within `within_s`.
    "reach": (
        Param("priority", "choice", "emergency", PRIORITIES),
        Param("share", "share"),
        Param("within_s", "positive"),
    ),
}


@dataclass(frozen=True)
class Share:
    """`all`, `30%` or `0.3`: that share of the fleet (rounded, at least one receiver)."""

    fraction: float
    line: int = field(default=0, compare=False)

    def __post_init__(self) -> None:
        if not 0 < self.fraction <= 1:
            raise ValueError(f"a share of receivers must be > 0 and <= 1, not {self.fraction}")


@dataclass(frozen=True)
class Count:
    """A whole number of receivers, drawn from the fleet."""

    n: int
    line: int = field(default=0, compare=False)

    def __post_init__(self) -> None:
        if self.n < 1:
            raise ValueError(f"a count of receivers must be at least 1, not {self.n}")


@dataclass(frozen=True)
class Listed:
    """These receivers by id; `lines[i]` is where `ids[i]` was written."""

    ids: tuple[str, ...]
    lines: tuple[int, ...] = field(default=(), compare=False)
    line: int = field(default=0, compare=False)

    def __post_init__(self) -> None:
        if not self.ids:
            raise ValueError("a list of receivers must name at least one")
        if len(set(self.ids)) != len(self.ids):
            raise ValueError("a list of receivers names one twice")


Selection = Share | Count | Listed


@dataclass(frozen=True)
class Fault:
    """One line of `faults:`: `kind` (a key of `FAULT_KINDS`) at `at_s` on `receivers`.

    `receivers` is None for a broker fault; `for_s` None for a fault that lasts the run
    (or is instantaneous); `params` holds every parameter of the kind, defaults filled in.
    """

    kind: str
    at_s: float
    receivers: Selection | None = None
    for_s: float | None = None
    params: Mapping[str, ParamValue] = field(default_factory=dict)
    line: int = field(default=0, compare=False)

    def __post_init__(self) -> None:
        spec = FAULT_KINDS.get(self.kind)
        if spec is None:
            raise ValueError(f"unknown fault kind {self.kind!r}")
        if self.at_s < 0:
            raise ValueError(f"{self.kind}: at_s must be >= 0, not {self.at_s}")
        if (self.receivers is None) == spec.targets:
            raise ValueError(f"{self.kind}: receivers are {'needed' if spec.targets else 'none'}")
        if self.for_s is not None and (not spec.lasting or self.for_s <= 0):
            raise ValueError(f"{self.kind}: for_s {self.for_s} is not allowed")

    @property
    def end_s(self) -> float:
        """When it is over: `at_s + for_s`, or for a broker restart `at_s + down_s`."""
        if self.kind == "broker_restart":
            return self.at_s + self.number("down_s")
        return self.at_s + (self.for_s or 0.0)

    def number(self, name: str) -> float:
        """A numeric parameter (defaults filled in); KeyError/TypeError name a wrong one."""
        value = self.params.get(name, FAULT_KINDS[self.kind].default(name))
        if isinstance(value, str | tuple):
            raise TypeError(f"{self.kind}: {name} is not a number: {value!r}")
        return float(value)


@dataclass(frozen=True)
class Bulletin:
    """A bulletin the in-process controller sends `at_s`, as `loa bulletin send` would.

    `to` is written as `--to` (all, receiver and group ids, comma-separated); `lang` the
    language of `text` (None: the config's default); `play_in_s` delays its air time after
    sending (None: at once); `expires_in_s` is `--expires` (None: the controller's default).
    """

    at_s: float
    text: str
    to: str = "all"
    priority: Priority = "normal"
    lang: str | None = None
    play_in_s: float | None = None
    expires_in_s: float | None = None
    line: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Expectation:
    """A check on the run's outcome: `kind` (a key of `EXPECTATION_KINDS`) and its params."""

    kind: str
    params: Mapping[str, ParamValue] = field(default_factory=dict)
    line: int = field(default=0, compare=False)

    def __post_init__(self) -> None:
        if self.kind not in EXPECTATION_KINDS:
            raise ValueError(f"unknown expectation kind {self.kind!r}")


@dataclass(frozen=True)
class GeneratedFleet:
    """Communes generated by `generate_commune`, villages and receivers spread over them."""

    communes: int = 1
    villages: int = 6
    receivers: int = 30

    def __post_init__(self) -> None:
        if not 1 <= self.communes <= self.villages <= self.receivers:
            raise ValueError("expected 1 <= communes <= villages <= receivers")


@dataclass(frozen=True)
class RegistryFleet:
    """The receivers of a registry file (YAML or CSV), its path resolved from the scenario's."""

    path: Path


@dataclass(frozen=True)
class FleetSpec:
    """Which receivers to simulate and how they behave at start."""

    source: GeneratedFleet | RegistryFleet
    heartbeat_s: int = 60
    ramp_per_s: float = 100.0
    clock_skew_s: float | None = None


@dataclass(frozen=True)
class Scenario:
    """A whole scenario file. `source` names the file it came from (for messages)."""

    name: str
    duration_s: float
    fleet: FleetSpec
    seed: int = 1
    description: str = ""
    controller: Controller = "in-process"
    bulletins: tuple[Bulletin, ...] = ()
    faults: tuple[Fault, ...] = ()
    expect: tuple[Expectation, ...] = ()
    source: str = field(default="<scenario>", compare=False)

    def __post_init__(self) -> None:
        if self.duration_s <= 0:
            raise ValueError(f"duration_s must be > 0, not {self.duration_s}")
        if self.bulletins and self.controller == "external":
            raise ValueError("bulletins need `controller: in-process`")
        ends = [b.at_s for b in self.bulletins] + [max(f.at_s, f.end_s) for f in self.faults]
        if max(ends, default=0.0) > self.duration_s:
            raise ValueError(f"a fault or bulletin ends after duration_s {self.duration_s}")
