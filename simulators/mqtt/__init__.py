"""A small MQTT 3.1.1 client over asyncio streams, for simulated receivers only.

Why hand-written and not aiomqtt or paho: the simulator must reproduce the
faults of a receiver in a village, which client libraries exist to hide:

- a power cut: the socket dies without DISCONNECT, so the broker publishes the
  Last Will at once (`MqttClient.abort()`, which is `transport.abort()`);
- a half-open link: the socket stays open but nothing is read or written any
  more, not even PINGREQ, so the broker only notices after 1.5 x keepalive
  (`freeze()`, undone by `thaw()`; Mosquitto 2.0 runs that check only every
  5 s or so, so it notices 1.5 x keepalive to about 6 s later);
- and it must hold thousands of connections in one process cheaply: about
  3.3 KB per connection for a minimal asyncio client against 16 KB and extra
  threads per connection for aiomqtt (`/work/shared/RECIPES.md`).

`packets` builds and parses the bytes, `client` holds one connection,
`errors` is the error tree. The simulator package never imports aiomqtt or paho.
"""

from simulators.mqtt.client import MqttClient
from simulators.mqtt.errors import (
    AckTimeout,
    ConnectFailed,
    ConnectionLost,
    ConnectRefused,
    MalformedPacket,
    MqttError,
    SubscribeRefused,
)
from simulators.mqtt.packets import Message, Will

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
