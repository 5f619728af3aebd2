"""The MQTT link of the controller (the only user of the MQTT client library)."""

from controller.mqtt.link import Incoming, LinkDown, LinkHooks, MqttLink, Outgoing, read_retained

__all__ = ["Incoming", "LinkDown", "LinkHooks", "MqttLink", "Outgoing", "read_retained"]
