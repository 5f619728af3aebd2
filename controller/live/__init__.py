"""What changes in a running controller, told to whoever watches (the dashboard's SSE)."""

from controller.live.hub import LiveEvent, LiveHub, Subscription

__all__ = ["LiveEvent", "LiveHub", "Subscription"]
