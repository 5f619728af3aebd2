"""The errors of Loa's MQTT client (all `loa.errors.BrokerError`).

MqttError
├── ConnectFailed       no TCP connection, or no CONNACK within connect_timeout
├── ConnectRefused      the broker answered CONNACK with a refusal (`.code`)
├── ConnectionLost      the connection ended: EOF, reset, no PINGRESP, aborted
├── AckTimeout          no PUBACK or SUBACK within ack_timeout
├── SubscribeRefused    the broker refused a topic filter (SUBACK 0x80)
└── MalformedPacket     the broker sent bytes that are not MQTT 3.1.1 (a ProtocolError too)
"""

from __future__ import annotations

from loa.errors import BrokerError, ProtocolError

#: What a CONNACK return code means (MQTT 3.1.1, section 3.2.2.3).
CONNACK_REASONS = {
    1: "the broker does not accept MQTT 3.1.1",
    2: "the broker rejected the client id",
    3: "the MQTT service is unavailable",
    4: "bad user name or password",
    5: "not authorized",
}


class MqttError(BrokerError):
    """The MQTT connection failed; the subclasses say how."""


class MalformedPacket(MqttError, ProtocolError):
    """The broker sent bytes that are not a valid MQTT 3.1.1 packet for a client."""


class ConnectFailed(MqttError):
    """No TCP connection to the broker, or no CONNACK in time."""


class ConnectRefused(MqttError):
    """The broker refused the connection with a CONNACK return code."""

    def __init__(self, code: int, host: str, port: int, client_id: str) -> None:
        self.code = code
        reason = CONNACK_REASONS.get(code, "an unknown reason")
        super().__init__(
            f"the broker at {host}:{port} refused client {client_id!r}: {reason} "
            f"(CONNACK return code {code}); check the user name, password and ACL"
        )


class ConnectionLost(MqttError):
    """The connection ended (or had ended) without a clean disconnect."""


class AckTimeout(MqttError):
    """The broker did not acknowledge a QoS 1 publish or a subscribe in time."""


class SubscribeRefused(MqttError):
    """The broker answered a SUBSCRIBE with 0x80 (failure) for a topic filter."""
