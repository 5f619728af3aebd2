"""The embedded MQTT broker: Mosquitto's generated config and its supervisor."""

from controller.broker.embedded import EmbeddedBroker
from controller.broker.mosquitto_conf import (
    MosquittoSettings,
    TlsListener,
    render,
    settings_from_config,
)

__all__ = ["EmbeddedBroker", "MosquittoSettings", "TlsListener", "render", "settings_from_config"]
