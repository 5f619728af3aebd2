"""Loa's MQTT 3.1.1 client over asyncio streams: the controller's link and every simulated
receiver use it; nothing else in Loa speaks MQTT (tests and benchmarks use paho and gmqtt
as independent peers and baselines).

Why our own client and not aiomqtt, paho or gmqtt (figures in docs/performance.md):

- the controller must absorb receipts fast: this client costs about 18 us of CPU per
  QoS 1 message received, like gmqtt (17 to 18 us) and against paho with its loop thread
  (38 us) and aiomqtt (57 us), measured in one run on the same broker; publishing QoS 1
  with many in flight, each awaiting its PUBACK, is one future per packet id;
- the controller awaits each QoS 1 PUBACK (its outbox keeps a bounded number in flight)
  and reconnects with its own back-off and a fresh Last Will per connection; gmqtt acks
  publishes only into its internal resend store and reconnects on its own;
- the simulator must reproduce the faults of a receiver in a village, which client
  libraries exist to hide: a power cut (the socket dies without DISCONNECT, so the broker
  publishes the Last Will at once: `MqttClient.abort()`), a half-open link (nothing read
  or written any more, not even PINGREQ, so the broker notices only after 1.5 x keepalive:
  `freeze()` and `thaw()`; Mosquitto 2.0 runs that check only every 5 s or so);
- and it holds thousands of connections in one process cheaply: about 3.3 KB per
  connection against 16 KB and extra threads per connection for aiomqtt
  (`/work/shared/RECIPES.md`).

`packets` builds and parses the bytes, `client` holds one connection (plain TCP or TLS),
`errors` is the error tree.
"""

from loa.mqtt.client import MqttClient
from loa.mqtt.errors import (
    AckTimeout,
    ConnectFailed,
    ConnectionLost,
    ConnectRefused,
    MalformedPacket,
    MqttError,
    SubscribeRefused,
)
from loa.mqtt.packets import Message, Will

__all__ = [
    "AckTimeout",
    "ConnectFailed",
    "ConnectRefused",
    "ConnectionLost",
    "MalformedPacket",
    "Message",
    "MqttClient",
    "MqttError",
    "SubscribeRefused",
    "Will",
]
