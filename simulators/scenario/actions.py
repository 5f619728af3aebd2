"""The plan's actions done to the world: receivers' power, links, clocks and devices, the broker.

`Actuator.do(action)` maps each action kind of `plan.py` to what the simulated receiver (or
the private broker) offers:

- `power_off` / `power_on`: `kill()` (a power cut: no goodbye) / `power_on()`; with
  `cache: lost` the receiver's content cache (its `content/` and `partial/` folders) is
  wiped while it is dark, so it fetches everything again;
- `reboot`; `half_open` / `restore_link`; `link_down` / `link_up` (flapping: the link
  freezes as on a dead 4G link, and comes back);
- `set_latency`, `set_bandwidth`, `set_chunk_loss` and their `clear_*`: the receiver's link
  shape, the three combined (`simulators.link.LinkShape`);
- `set_clock_offset` / `clear_clock_offset` (back to the clock's own offset and drift),
  `clock_jump`;
- `set_speaker_fail`, `set_amplifier_fail`, `set_storage_full`, `set_codec_reject`,
  `set_slow_firmware` and their `clear_*`;
- `broker_stop` / `broker_start`: the private Mosquitto stops and starts on the same port.

`undo_all()` at the end of a run brings every receiver back (power, link, shape), so the
fleet says goodbye cleanly and the last plays can be read.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Final

from simulators.link import LinkShape
from simulators.receiver import SimReceiver
from simulators.scenario.model import ParamValue
from simulators.scenario.plan import Action
from simulators.scenario.world import World

__all__ = ["Actuator"]

#: The link-shaping faults and the `LinkShape` field each sets.
_SHAPES: Final = {"latency": ("latency_ms", "jitter_ms"), "bandwidth": ("kbit_s",),
                  "chunk_loss": ("chunk_loss",)}  # fmt: skip


@dataclass
class _Shape:
    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    kbit_s: float | None = None
    chunk_loss: float = 0.0

    def link(self) -> LinkShape | None:
        shape = LinkShape(
            latency_ms=self.latency_ms,
            jitter_ms=self.jitter_ms,
            kbit_s=self.kbit_s,
            chunk_loss=self.chunk_loss,
        )
        return None if shape == LinkShape() else shape


def _number(params: dict[str, ParamValue] | object, name: str) -> float:
    value = params[name] if isinstance(params, dict) else None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"action parameter {name} is not a number: {value!r}")
    return float(value)


class Actuator:
    """Does a scenario's actions to its world; see the module docstring."""

    def __init__(
        self, world: World, *, before_power_loss: Callable[[str], None] | None = None
    ) -> None:
        self._world = world
        self._before_power_loss = before_power_loss
        self._shapes: dict[str, _Shape] = {}
        self._off: set[str] = set()
        #: receiver -> its clock's (offset, drift) before a `clock_offset` fault
        self._clocks: dict[str, tuple[float, float]] = {}
        self._frozen: set[str] = set()

    def _receiver(self, action: Action) -> SimReceiver:
        if action.receiver is None:
            raise ValueError(f"{action.kind} needs a receiver")
        return self._world.fleet[action.receiver]

    async def do(self, action: Action) -> None:
        kind = action.kind
        if kind == "broker_stop":
            await self._world.stop_broker()
            return
        if kind == "broker_start":
            await self._world.start_broker()
            return
        receiver = self._receiver(action)
        params = dict(action.params)
        if kind in ("power_off", "reboot") and self._before_power_loss is not None:
            self._before_power_loss(receiver.id)
        if kind == "power_off":
            receiver.kill()
            self._off.add(receiver.id)
            if params.get("cache") == "lost":
                self._wipe_cache(receiver)
        elif kind == "power_on":
            self._off.discard(receiver.id)
            receiver.power_on()
        elif kind == "reboot":
            receiver.reboot()
        elif kind in ("half_open", "link_down"):
            self._frozen.add(receiver.id)
            receiver.half_open()
        elif kind in ("restore_link", "link_up"):
            self._frozen.discard(receiver.id)
            receiver.restore_link()
        elif kind == "clock_jump":
            receiver.jump_clock(_number(params, "by_s"))
        elif kind.startswith(("set_", "clear_")):
            self._state(receiver, kind, params)
        else:
            raise ValueError(f"no simulated receiver can do {kind!r}")

    def _state(self, receiver: SimReceiver, kind: str, params: dict[str, ParamValue]) -> None:
        setting = kind.startswith("set_")
        name = kind.split("_", 1)[1]
        if name in _SHAPES:
            shape = self._shapes.setdefault(receiver.id, _Shape())
            for field_name in _SHAPES[name]:
                default = _Shape.__dataclass_fields__[field_name].default
                key = {"latency_ms": "ms", "jitter_ms": "jitter_ms", "kbit_s": "kbit_s",
                       "chunk_loss": "rate"}[field_name]  # fmt: skip
                value = _number(params, key) if setting else default
                setattr(shape, field_name, value)
            receiver.set_link(shape.link())
        elif name == "clock_offset":
            clock = receiver.sim_clock
            if setting:
                self._clocks.setdefault(receiver.id, (clock.error_s(), clock.drift_ppm))
                receiver.set_clock(_number(params, "offset_s"), _number(params, "drift_ppm"))
            else:  # back to how it was before (its own small offset and drift)
                receiver.set_clock(*self._clocks.pop(receiver.id, (0.0, 0.0)))
        elif name == "speaker_fail":
            receiver.fail_speaker() if setting else receiver.repair_speaker()
        elif name == "amplifier_fail":
            receiver.fail_amplifier() if setting else receiver.repair_amplifier()
        elif name == "storage_full":
            receiver.set_storage_full(setting)
        elif name == "codec_reject":
            receiver.set_codec_reject(setting)
        elif name == "slow_firmware":
            receiver.set_slow_firmware(int(_number(params, "delay_ms")) if setting else None)
        else:
            raise ValueError(f"no simulated receiver can do {kind!r}")

    def _wipe_cache(self, receiver: SimReceiver) -> None:
        root = self._world.fleet.settings.data_root
        if root is None:
            return
        for folder in ("content", "partial"):
            shutil.rmtree(root / receiver.id / folder, ignore_errors=True)

    async def undo_all(self) -> None:
        """Bring every receiver back: power on, links restored, shapes cleared, broker up."""
        if self._world.broker.pid is None:
            await self._world.start_broker()
        for receiver_id in sorted(self._frozen):
            self._world.fleet[receiver_id].restore_link()
        for receiver_id in sorted(self._off):
            self._world.fleet[receiver_id].power_on()
        for receiver_id, shape in self._shapes.items():
            if shape.link() is not None:
                self._world.fleet[receiver_id].set_link(None)
        self._frozen.clear()
        self._off.clear()
        self._shapes = {rid: replace(_Shape()) for rid in self._shapes}
