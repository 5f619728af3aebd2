"""Scenario files: YAML read into a `Scenario`, every problem reported as `FILE:LINE: problem`.

`read_scenario(path)` returns the scenario or raises `ScenarioFileError` listing every
problem of the file at once (unknown keys and fault kinds with a "did you mean", shares
over 100%, negative times or times after `duration_s`, missing parameters, bad ranges,
bulletins with an external controller): a file with any problem yields nothing, so a typo
never starts half a run. The format is `docs/scenarios.md`.

Receiver ids can only be checked against a fleet, which a registry file or a generator
gives later: `check_receivers(scenario, fleet_ids)` does that, with the same error type and
the line of each id. The file is composed into YAML nodes (libyaml's loader when PyYAML has
it) so that every value keeps its line, and text is read as written: `to: no` is "no".
Like every simulator module this imports only `devices`, `loa` and the standard library
(plus PyYAML), so the small node helpers of `schedules.file_when` are not reused.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Final, cast

import yaml

from devices.ids import ID_RULE, is_valid_id
from devices.protocol.priority import PRIORITIES
from devices.protocol.receiver import MAX_HEARTBEAT_S
from loa.yaml_reader import FileProblems, Problem, YamlReader, line_of, scalar
from simulators.commune import COMMUNES
from simulators.scenario.model import (
    EXPECTATION_KINDS,
    FAULT_KINDS,
    Bulletin,
    Count,
    Expectation,
    Fault,
    FleetSpec,
    GeneratedFleet,
    Listed,
    Param,
    ParamValue,
    RegistryFleet,
    Scenario,
    Selection,
    Share,
)

__all__ = ["ScenarioFileError", "check_receivers", "parse_scenario", "read_scenario"]

TOP_KEYS: Final = (
    "scenario",
    "description",
    "seed",
    "duration_s",
    "fleet",
    "controller",
    "bulletins",
    "faults",
    "expect",
)
FLEET_KEYS: Final = ("generate", "registry", "heartbeat_s", "ramp_per_s", "clock_skew_s")
GENERATE_KEYS: Final = ("communes", "villages", "receivers")
BULLETIN_KEYS: Final = ("at_s", "to", "text", "lang", "priority", "play_in_s", "expires_in_s")
CONTROLLERS: Final = ("in-process", "external")
_NUMBER_TAGS: Final = ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")
_SELECTION_RULE: Final = (
    "all, a percentage (30%), a fraction (0.3), a count (2) or a list of receiver ids"
)


class ScenarioFileError(FileProblems):
    """A scenario file with problems; `problems` holds every one, in line order."""


def read_scenario(path: Path) -> Scenario:
    """The scenario in `path`; a registry path in it is taken relative to the file."""
    source = str(path)
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise ScenarioFileError([(source, None, "not found; check the path")]) from None
    except UnicodeDecodeError:
        raise ScenarioFileError([(source, None, "not UTF-8 text; save it as UTF-8")]) from None
    except OSError as exc:
        raise ScenarioFileError([(source, None, f"cannot read it: {exc.strerror}")]) from exc
    return parse_scenario(text, source, base=path.parent)


def parse_scenario(text: str, source: str = "<scenario>", base: Path | None = None) -> Scenario:
    """The scenario in YAML `text`; with a `base` folder, a registry must exist there."""
    reader = _Reader(source, base)
    scenario = reader.read(text)
    if reader.problems or scenario is None:
        raise ScenarioFileError(reader.problems or [(source, None, "no scenario")])
    return scenario


def check_receivers(scenario: Scenario, fleet_ids: Iterable[str]) -> None:
    """Raise `ScenarioFileError` for each listed receiver not in the fleet (at its line)
    and each count larger than the fleet."""
    fleet = frozenset(fleet_ids)
    problems: list[Problem] = []
    for fault in scenario.faults:
        chosen = fault.receivers
        if isinstance(chosen, Count) and chosen.n > len(fleet):
            problems.append(
                (
                    scenario.source,
                    chosen.line or fault.line,
                    f"{fault.kind}: receivers: {chosen.n} is more than the fleet's "
                    f"{len(fleet)} receivers",
                )
            )
        if not isinstance(chosen, Listed):
            continue
        lines = chosen.lines or (fault.line,) * len(chosen.ids)
        for receiver, line in zip(chosen.ids, lines, strict=True):
            if receiver not in fleet:
                close = difflib.get_close_matches(receiver, sorted(fleet), n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                problem = f"{fault.kind}: receiver {receiver!r} is not in the fleet{hint}"
                problems.append((scenario.source, line or fault.line, problem))
    if problems:
        raise ScenarioFileError(problems)


def _did_you_mean(word: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1)
    return f"did you mean {close[0]!r}?" if close else f"expected one of {', '.join(choices)}"


class _Reader(YamlReader):
    """Reads one file; every problem goes to `problems` and reading goes on."""

    def __init__(self, source: str, base: Path | None) -> None:
        super().__init__(source)
        self.base = base
        self.duration: float | None = None

    def read(self, text: str) -> Scenario | None:
        root = self.compose(text, "start it with `scenario: NAME`")
        if root is None:
            return None
        keys = self.mapping(root, "a scenario file", TOP_KEYS)
        if keys is None:
            return None
        for key in ("scenario", "duration_s", "fleet"):
            if key not in keys:
                self.error(line_of(root), f"the scenario has no {key}; add `{key}:`")
        name = self.name(keys["scenario"]) if "scenario" in keys else None
        if "duration_s" in keys:
            self.duration = self.number(keys["duration_s"], "duration_s", "positive")
        fleet = self.fleet(keys["fleet"]) if "fleet" in keys else None
        controller = "in-process"
        if "controller" in keys:
            controller = self.choice(keys["controller"], "controller", CONTROLLERS) or controller
        if controller == "external":
            self.error(
                line_of(keys["controller"]),
                "controller: external is not run yet: a scenario brings its own broker and "
                "controller (in-process); to put faults on a fleet of your own `loa serve`, "
                "run `loa sim --registry FILE` and type them",
            )
        bulletins = [self.bulletin(n) for n in self.items(keys, "bulletins")]
        if bulletins and controller == "external":
            self.error(
                line_of(keys["bulletins"]),
                "bulletins need `controller: in-process`: with an external controller, "
                "send them with `loa bulletin send` yourself",
            )
        faults = [self.fault(n) for n in self.items(keys, "faults")]
        expect = [self.expectation(n) for n in self.items(keys, "expect")]
        seed = self.integer(keys["seed"], "seed", 0, None) if "seed" in keys else 1
        description = (scalar(keys["description"]) or "") if "description" in keys else ""
        if self.problems or name is None or self.duration is None or fleet is None:
            return None
        return Scenario(
            name=name,
            duration_s=self.duration,
            fleet=fleet,
            seed=seed if seed is not None else 1,
            description=description,
            controller="external" if controller == "external" else "in-process",
            bulletins=tuple(b for b in bulletins if b is not None),
            faults=tuple(f for f in faults if f is not None),
            expect=tuple(e for e in expect if e is not None),
            source=self.source,
        )

    # -- sections --------------------------------------------------------------------------

    def name(self, node: yaml.Node) -> str | None:
        name = scalar(node)
        if not is_valid_id(name):
            self.error(line_of(node), f"scenario: {name!r} is not a name; expected {ID_RULE}")
            return None
        return name

    def fleet(self, node: yaml.Node) -> FleetSpec | None:
        keys = self.mapping(node, "fleet", FLEET_KEYS)
        if keys is None:
            return None
        sources = [key for key in ("generate", "registry") if key in keys]
        if len(sources) != 1:
            self.error(
                line_of(node),
                "fleet needs one of generate ({communes: 1, villages: 6, receivers: 30}) "
                "or registry (a registry file)",
            )
        source: GeneratedFleet | RegistryFleet | None = None
        if "generate" in keys:
            source = self.generated(keys["generate"])
        if "registry" in keys:
            source = self.registry(keys["registry"])
        heartbeat = 60
        if "heartbeat_s" in keys:
            heartbeat = self.integer(keys["heartbeat_s"], "heartbeat_s", 1, MAX_HEARTBEAT_S) or 60
        ramp = (
            self.number(keys["ramp_per_s"], "ramp_per_s", "positive")
            if "ramp_per_s" in keys
            else 100.0
        )
        skew = (
            self.number(keys["clock_skew_s"], "clock_skew_s", "amount")
            if "clock_skew_s" in keys
            else None
        )
        if source is None or ramp is None or len(sources) != 1:
            return None
        return FleetSpec(source, heartbeat, ramp, skew)

    def generated(self, node: yaml.Node) -> GeneratedFleet | None:
        keys = self.mapping(node, "fleet.generate", GENERATE_KEYS)
        if keys is None:
            return None
        defaults = GeneratedFleet()
        sizes = {
            key: self.integer(keys[key], f"generate.{key}", 1, None)
            if key in keys
            else getattr(defaults, key)
            for key in GENERATE_KEYS
        }
        communes, villages, receivers = (sizes[key] for key in GENERATE_KEYS)
        if communes is None or villages is None or receivers is None:
            return None
        if communes > len(COMMUNES):
            self.error(line_of(keys["communes"]), f"generate.communes: at most {len(COMMUNES)}")
            return None
        if not communes <= villages <= receivers:
            self.error(
                line_of(node),
                f"generate: every commune needs a village and every village a receiver, so "
                f"communes <= villages <= receivers (not {communes}, {villages}, {receivers})",
            )
            return None
        return GeneratedFleet(communes, villages, receivers)

    def registry(self, node: yaml.Node) -> RegistryFleet | None:
        text = scalar(node)
        if not text:
            self.error(line_of(node), "registry: give the path of a registry file (YAML or CSV)")
            return None
        path = Path(text) if self.base is None else self.base / text
        if self.base is not None and not path.is_file():
            self.error(line_of(node), f"registry: {str(path)!r} not found (relative to this file)")
            return None
        return RegistryFleet(path)

    def bulletin(self, node: yaml.Node) -> Bulletin | None:
        keys = self.mapping(node, "a bulletin", BULLETIN_KEYS)
        if keys is None:
            return None
        before = len(self.problems)
        at_s = self.at(keys, node, "bulletin")
        text = scalar(keys["text"]) if "text" in keys else None
        if not text:
            self.error(line_of(keys.get("text", node)), "bulletin has no text; add `text: ...`")
        to = scalar(keys["to"]) if "to" in keys else "all"
        if not to:
            self.error(line_of(keys["to"]), "bulletin: to: give all, or receiver and group ids")
        priority = "normal"
        if "priority" in keys:
            priority = self.choice(keys["priority"], "bulletin: priority", PRIORITIES) or priority
        lang = scalar(keys["lang"]) if "lang" in keys else None
        play_in = expires_in = None
        if "play_in_s" in keys:
            play_in = self.number(keys["play_in_s"], "bulletin: play_in_s", "seconds")
        if "expires_in_s" in keys:
            expires_in = self.number(keys["expires_in_s"], "bulletin: expires_in_s", "positive")
        if len(self.problems) != before or at_s is None or not text or not to:
            return None
        return Bulletin(
            at_s, text, to, cast("Any", priority), lang, play_in, expires_in, line=line_of(node)
        )

    def fault(self, node: yaml.Node) -> Fault | None:
        keys = self.mapping(node, "a fault", None)
        if keys is None:
            return None
        before = len(self.problems)
        kind = scalar(keys["kind"]) if "kind" in keys else None
        spec = FAULT_KINDS.get(kind or "")
        if kind is None:
            self.error(line_of(node), f"fault has no kind; add `kind:` ({', '.join(FAULT_KINDS)})")
        elif spec is None:
            self.error(
                line_of(keys["kind"]),
                f"unknown fault kind {kind!r}; {_did_you_mean(kind, list(FAULT_KINDS))}",
            )
        at_s = self.at(keys, node, kind or "fault")
        if spec is None:
            return None
        allowed = ["at_s", "kind", *(p.name for p in spec.params)]
        allowed += ["receivers"] * spec.targets + ["for_s"] * spec.lasting
        for key, key_node in keys.items():
            if key not in allowed:
                self.error(line_of(key_node), self.misplaced(spec.name, key, allowed))
        receivers: Selection | None = None
        if spec.targets:
            if "receivers" in keys:
                receivers = self.selection(keys["receivers"], spec.name)
            else:
                self.error(
                    line_of(node),
                    f"{spec.name} has no receivers; add `receivers:` ({_SELECTION_RULE})",
                )
        params = self.params(keys, node, spec.name, spec.params)
        for_s = None
        if spec.lasting and "for_s" in keys:
            for_s = self.number(keys["for_s"], f"{spec.name}: for_s", "positive")
            self.ends(
                at_s,
                for_s,
                keys["for_s"],
                f"{spec.name}: for_s",
                "leave for_s out for a fault that lasts the run",
            )
        if spec.name == "broker_restart" and "down_s" in keys:
            down = params.get("down_s") if params is not None else None
            self.ends(at_s, down, keys["down_s"], "broker_restart: down_s", "shorten it")
        if len(self.problems) != before or at_s is None or params is None:
            return None
        return Fault(spec.name, at_s, receivers, for_s, params, line=line_of(node))

    def expectation(self, node: yaml.Node) -> Expectation | None:
        keys = self.mapping(node, "an expectation", None)
        if keys is None:
            return None
        kind = scalar(keys["kind"]) if "kind" in keys else None
        if kind is None or kind not in EXPECTATION_KINDS:
            where = line_of(keys["kind"]) if "kind" in keys else line_of(node)
            known = list(EXPECTATION_KINDS)
            hint = _did_you_mean(kind, known) if kind else f"add `kind:` ({', '.join(known)})"
            what = f"unknown expectation kind {kind!r}" if kind else "expectation has no kind"
            self.error(where, f"{what}; {hint}")
            return None
        spec = EXPECTATION_KINDS[kind]
        allowed = ["kind", *(p.name for p in spec)]
        for key, key_node in keys.items():
            if key not in allowed:
                self.error(line_of(key_node), self.misplaced(kind, key, allowed))
        params = self.params(keys, node, kind, spec)
        if params is None or any(key not in allowed for key in keys):
            return None
        return Expectation(kind, params, line=line_of(node))

    # -- values ----------------------------------------------------------------------------

    def at(self, keys: dict[str, yaml.Node], node: yaml.Node, who: str) -> float | None:
        """The `at_s` of a fault or bulletin: required, >= 0, within the run."""
        if "at_s" not in keys:
            self.error(line_of(node), f"{who} has no at_s; add `at_s:` (seconds from the start)")
            return None
        at_s = self.number(keys["at_s"], f"{who}: at_s", "seconds")
        if at_s is not None and self.duration is not None and at_s > self.duration:
            self.error(
                line_of(keys["at_s"]),
                f"{who}: at_s: {at_s:g} s is after the end of the run "
                f"(duration_s: {self.duration:g})",
            )
            return None
        return at_s

    def ends(self, at_s: float | None, length: Any, node: yaml.Node, what: str, fix: str) -> None:
        """Report `what` when `at_s + length` falls after the end of the run."""
        if at_s is None or not isinstance(length, float) or self.duration is None:
            return
        if at_s + length > self.duration:
            self.error(
                line_of(node),
                f"{what}: {length:g} s from at_s {at_s:g} ends at {at_s + length:g} s, after "
                "the end of the run "
                f"(duration_s: {self.duration:g}); {fix}",
            )

    def params(
        self, keys: dict[str, yaml.Node], node: yaml.Node, who: str, spec: Sequence[Param]
    ) -> dict[str, ParamValue] | None:
        values: dict[str, ParamValue] = {}
        complete = True
        for param in spec:
            if param.name in keys:
                value = self.param(keys[param.name], param, f"{who}: {param.name}")
            elif param.default is None:
                self.error(line_of(node), f"{who} has no {param.name}; add `{param.name}:`")
                value = None
            else:
                value = param.default
            if value is None:
                complete = False
            else:
                values[param.name] = value
        return values if complete else None

    def param(self, node: yaml.Node, param: Param, what: str) -> ParamValue | None:
        if param.type == "choice":
            return self.choice(node, what, param.choices)
        if param.type == "share":
            return self.share(node, what)
        if param.type == "range":
            return self.range(node, what)
        return self.number(node, what, param.type)

    def selection(self, node: yaml.Node, who: str) -> Selection | None:
        line, text = line_of(node), scalar(node)
        if isinstance(node, yaml.SequenceNode):
            return self.listed(node, who)
        if text == "all":
            return Share(1.0, line)
        if node.tag == _NUMBER_TAGS[0]:
            count = self.integer(node, f"{who}: receivers", 1, None)
            return None if count is None else Count(count, line)
        if node.tag == _NUMBER_TAGS[1] or (text or "").endswith("%"):
            share = self.share(node, f"{who}: receivers", " or a whole number for a count (2)")
            return None if share is None else Share(share, line)
        self.error(line, f"{who}: receivers: {text!r} is not {_SELECTION_RULE} ([rx-1, rx-2])")
        return None

    def listed(self, node: yaml.SequenceNode, who: str) -> Listed | None:
        ids: list[str] = []
        lines: list[int] = []
        for item in node.value:
            text = scalar(item)
            if not is_valid_id(text):
                self.error(
                    line_of(item),
                    f"{who}: receivers: {text!r} is not a receiver id; expected {ID_RULE}",
                )
            elif text in ids:
                self.error(line_of(item), f"{who}: receivers: {text!r} is listed twice")
            else:
                ids.append(cast("str", text))
                lines.append(line_of(item))
        if not node.value:
            self.error(line_of(node), f"{who}: receivers: the list is empty; name at least one")
        if len(ids) != len(node.value) or not ids:
            return None
        return Listed(tuple(ids), tuple(lines), line_of(node))

    def share(self, node: yaml.Node, what: str, hint: str = "") -> float | None:
        """A fraction 0 < f <= 1 or a percentage `5%` (as a fraction)."""
        text = scalar(node) or ""
        percent = text.endswith("%")
        value = self.to_number(text[:-1] if percent else node)
        if value is None:
            self.error(
                line_of(node), f"{what}: {text!r} is not a fraction (0.3) or a percentage (30%)"
            )
            return None
        value = value / 100 if percent else value
        if value > 1:
            over = f"{text} is over 100%" if percent else f"{text} is a fraction over 1"
            self.error(line_of(node), f"{what}: {over}; write a share up to 1 (or 100%){hint}")
            return None
        if value <= 0:
            self.error(line_of(node), f"{what}: {text} is not above 0")
            return None
        return value

    def range(self, node: yaml.Node, what: str) -> tuple[float, float] | None:
        bounds = (
            [self.to_number(item) for item in node.value]
            if isinstance(node, yaml.SequenceNode)
            else []
        )
        if (
            len(bounds) != 2
            or bounds[0] is None
            or bounds[1] is None
            or not 0 < bounds[0] <= bounds[1]
        ):
            shown = self.build(node)
            self.error(
                line_of(node),
                f"{what}: {shown!r} is not [low, high] seconds with 0 < low <= high, "
                "like [30, 120]",
            )
            return None
        return (bounds[0], bounds[1])

    def number(self, node: yaml.Node, what: str, rule: str) -> float | None:
        """A number under `rule`: seconds/amount >= 0, positive > 0, signed any."""
        value = self.to_number(node)
        text = scalar(node)
        if value is None:
            unit = " of seconds" if rule == "seconds" else ""
            self.error(line_of(node), f"{what}: {text!r} is not a number{unit}")
        elif value < 0 and rule in ("seconds", "amount", "positive"):
            hint = "; times are seconds from the start of the run" if rule == "seconds" else ""
            self.error(line_of(node), f"{what}: {text} is negative{hint}")
        elif value == 0 and rule == "positive":
            self.error(line_of(node), f"{what}: must be above 0")
        else:
            return value
        return None

    def integer(self, node: yaml.Node, what: str, low: int, high: int | None) -> int | None:
        text = scalar(node)
        value = self.build(node) if node.tag == _NUMBER_TAGS[0] else None
        if not isinstance(value, int) or isinstance(value, bool):
            self.error(line_of(node), f"{what}: {text!r} is not a whole number")
            return None
        if value < low or (high is not None and value > high):
            bounds = f"from {low} to {high}" if high is not None else f"{low} or more"
            self.error(line_of(node), f"{what}: {value} is not {bounds}")
            return None
        return value

    def choice(self, node: yaml.Node, what: str, choices: Sequence[str]) -> str | None:
        text = scalar(node)
        if text in choices:
            return text
        self.error(
            line_of(node), f"{what}: {text!r} is not valid; {_did_you_mean(text or '', choices)}"
        )
        return None

    def to_number(self, node: yaml.Node | str) -> float | None:
        """A finite number written as one (never a YAML boolean), else None."""
        if isinstance(node, str):
            try:
                value: Any = float(node.strip())
            except ValueError:
                return None
        elif node.tag in _NUMBER_TAGS:
            value = self.build(node)
        else:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        return float(value) if math.isfinite(value) else None

    # -- structure -------------------------------------------------------------------------

    def items(self, keys: dict[str, yaml.Node], key: str) -> list[yaml.Node]:
        """The items of an optional list; a value that is not a list is reported."""
        node = keys.get(key)
        if node is None or (isinstance(node, yaml.ScalarNode) and scalar(node) is None):
            return []
        if not isinstance(node, yaml.SequenceNode):
            self.error(line_of(node), f"`{key}` must be a list (items start with `- `)")
            return []
        return list(node.value)

    def mapping(
        self, node: yaml.Node, what: str, allowed: Sequence[str] | None
    ) -> dict[str, yaml.Node] | None:
        """The value nodes by key; repeated keys (and with `allowed`, unknown ones) reported."""
        if not isinstance(node, yaml.MappingNode):
            keys = f" ({', '.join(allowed)})" if allowed else ""
            self.error(line_of(node), f"{what} must be a mapping of keys{keys}")
            return None
        found: dict[str, yaml.Node] = {}
        lines: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value) if isinstance(key_node, yaml.ScalarNode) else "?"
            line = line_of(key_node)
            if key in lines:
                self.error(
                    line,
                    f"key {key!r} appears twice in {what} (lines {lines[key]} "
                    f"and {line}); keep one",
                )
                continue
            lines[key] = line
            if allowed is not None and key not in allowed:
                self.error(line, f"unknown key {key!r} in {what}; {_did_you_mean(key, allowed)}")
                continue
            found[key] = value_node
        return found

    @staticmethod
    def misplaced(kind: str, key: str, allowed: Sequence[str]) -> str:
        """Why `key` does not belong to a fault or expectation of `kind`."""
        if key == "receivers":
            return f"{kind} takes no receivers: it acts on the broker they all use"
        if key == "for_s" and kind == "broker_restart":
            return "broker_restart takes no for_s; down_s says how long the broker is away"
        if key == "for_s" and kind in FAULT_KINDS:
            return f"{kind} takes no for_s: it happens once"
        return f"unknown key {key!r} in {kind}; {_did_you_mean(key, allowed)}"
