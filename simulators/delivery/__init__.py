"""The bulletin firmware of a simulated receiver, written from `docs/protocol.md` alone.

One concept per module, the agent on top:

- `agent`: `DeliveryAgent`, what the firmware does with commands and chunks
  (synchronous, on an injected clock), and `driver`: `DeliveryDriver`, which
  runs it beside a receiver's MQTT session (routing, one timer, the outbox);
- `cache`, `assembly`, `downloads`: contents on disk, bounded, checked; chunks
  assembled against the signed hashes, with the repair rule;
- `clock`, `timesync`: a clock off and drifting, corrected NTP-style;
- `player`: one occurrence at a time, by the priority ladder;
- `nonces`, `records`, `assignment`, `files`: what survives a reboot;
- `reports`, `outbox`, `heard`: receipts out, counters, plays as heard.
"""

from simulators.delivery.agent import DeliveryAgent
from simulators.delivery.driver import DeliveryDriver
from simulators.delivery.heard import Heard
from simulators.delivery.outbox import DeliveryCounters

__all__ = ["DeliveryAgent", "DeliveryCounters", "DeliveryDriver", "Heard"]
