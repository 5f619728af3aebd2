"""What a request handler can reach: the config, the running controller, its store."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated
from zoneinfo import ZoneInfo

from fastapi import Depends, Request

from controller.audio.library import AudioLibrary
from controller.audio.settings import build_library
from controller.config.model import Config
from controller.http.problems import Problem
from controller.live import LiveHub
from controller.store import Store
from loa.clock import Clock

if TYPE_CHECKING:
    from controller.app import Controller
    from controller.delivery.service import DeliveryService
    from controller.ingest.receivers import ReceiverIngest
    from controller.mqtt.link import MqttLink


@dataclass
class HttpContext:
    """Set on `app.state.loa` once the controller is connected; lives as long as it."""

    config: Config
    controller: Controller

    @property
    def store(self) -> Store:
        store = self.controller.store
        if store is None:
            raise _not_running()
        return store

    @property
    def clock(self) -> Clock:
        return self.controller.clock

    @property
    def hub(self) -> LiveHub:
        return self.controller.hub

    @property
    def ingest(self) -> ReceiverIngest:
        if self.controller.ingest is None:
            raise _not_running()
        return self.controller.ingest

    @property
    def delivery(self) -> DeliveryService:
        if self.controller.delivery is None:
            raise _not_running()
        return self.controller.delivery

    @property
    def link(self) -> MqttLink:
        if self.controller.link is None:
            raise _not_running()
        return self.controller.link

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.config.time_zone)

    def library(self) -> AudioLibrary:
        """The audio library (recordings and text made into broadcast audio)."""
        return build_library(self.config, self.store)

    def woken(self) -> None:
        """Something was written that the controller acts on (a bulletin to send, a
        cancel): wake the delivery engine at once instead of at its next poll."""
        self.delivery.wake()


def _not_running() -> Problem:
    return Problem(503, "the controller is starting or stopping; try again in a moment")


def get_context(request: Request) -> HttpContext:
    context: HttpContext = request.app.state.loa
    return context


#: The parameter type of a handler that needs the context.
Ctx = Annotated[HttpContext, Depends(get_context)]
