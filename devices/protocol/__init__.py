"""Wire protocol v1: topics and messages shared by the controller and the receivers."""

from devices.protocol.presence import ControllerPresence
from devices.protocol.topics import PROTOCOL_VERSION, Topics

__all__ = ["PROTOCOL_VERSION", "ControllerPresence", "Topics"]
