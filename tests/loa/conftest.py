"""Fixtures of the MQTT client tests: `watcher` (tests/support/watching.py)."""

from tests.support.watching import watcher

__all__ = ["watcher"]
